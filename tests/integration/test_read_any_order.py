"""Right in any order: a random history of the write side, delivered to the projector shuffled
and with duplicates, ends in the state a rebuild from Postgres gives (hypothesis).

The history runs through the real handlers (rows, versions and events in one transaction) and
the real relay and stream; then its events are delivered again, each copy under a fresh event
id so that dedupe hides nothing: once onto the rebuilt model (a late, stale event must change
nothing) and once onto a model from which this history's keys were removed (the events alone,
in any order, must build the same answers).
"""

import asyncio
import contextlib
import random
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import AppError
from core.streams import LOYALTY_EVENTS, Envelope
from loyalty import handlers
from loyalty.read import keys
from loyalty.read.rebuild import ensure_built
from loyalty.schemas import AssignmentRequest
from tests.support import loyalty_writes as w
from tests.support.factories import (
    OPERATOR_ID,
    create_group,
    create_loyalty_user,
    create_promocode,
    create_tariff,
)
from tests.support.read_side import GROUPS as PROJECTOR_GROUPS
from tests.support.read_side import ReadSideDriver

USERS, GROUPS, CODES = 2, 2, 3
# Orders each history is delivered in, in each of the two checks.
ORDERS = 4

# Each kind of step and the sizes of its two arguments (who, what).
SHAPES = {
    "assign": (USERS, CODES),
    "unassign": (USERS, CODES),
    "assign_group": (GROUPS, CODES),
    "unassign_group": (GROUPS, CODES),
    "join": (USERS, GROUPS),
    "leave": (USERS, GROUPS),
    "disable": (1, CODES),
    "enable": (1, CODES),
    "use": (USERS, CODES),
    "cancel": (USERS, CODES),
}
# Audience changes twice as likely as the rest: their order is what the versions are for.
KINDS = [*SHAPES, "assign", "unassign", "assign_group", "unassign_group", "join", "leave"]
step = st.sampled_from(KINDS).flatmap(
    lambda kind: st.tuples(
        st.just(kind), st.integers(0, SHAPES[kind][0] - 1), st.integers(0, SHAPES[kind][1] - 1)
    )
)


def random_step(chance: random.Random) -> tuple[str, int, int]:
    kind = chance.choice(KINDS)
    return kind, chance.randrange(SHAPES[kind][0]), chance.randrange(SHAPES[kind][1])


class World:
    """One example's users, groups and codes (new rows each time), and its purchases."""

    async def create(self) -> "World":
        self.users = [await create_loyalty_user() for _ in range(USERS)]
        self.groups = [(await create_group()).id for _ in range(GROUPS)]
        self.tariff = await create_tariff()
        self.codes = [
            await create_promocode(audience="assigned", max_uses=2, per_user_limit=None),
            await create_promocode(audience="assigned", per_user_limit=1),
            await create_promocode(audience="everyone", max_uses=3, per_user_limit=2),
        ]
        self.purchases: list = []
        return self

    async def run(self, kind: str, a: int, b: int) -> None:
        with contextlib.suppress(AppError):  # refused as a buyer would be: no event
            await self._run(kind, a, b)

    async def _run(self, kind: str, a: int, b: int) -> None:
        code = self.codes[b] if kind not in ("join", "leave") else None
        match kind:
            case "assign":
                await w.assign(code.id, user_ids=[self.users[a]])
            case "unassign":
                await handlers.unassign_promocode(
                    code.id, AssignmentRequest(user_ids=[self.users[a]]), actor_id=OPERATOR_ID
                )
            case "assign_group":
                await w.assign(code.id, group_ids=[self.groups[a]])
            case "unassign_group":
                await handlers.unassign_promocode(
                    code.id, AssignmentRequest(group_ids=[self.groups[a]]), actor_id=OPERATOR_ID
                )
            case "join":
                await w.add_members(self.groups[b], self.users[a])
            case "leave":
                await w.remove_members(self.groups[b], self.users[a])
            case "disable" | "enable":
                await w.update_code(code.id, is_active=kind == "enable")
            case "use":
                self.purchases.append(await w.reserve(self.users[a], code, self.tariff))
            case "cancel":
                mine = [p for p in self.purchases if p.user_id == self.users[a]]
                if mine:
                    await w.cancel(mine[-1])

    def keys(self) -> list[str]:
        """This history's keys, but the users' statuses (set by auth events, not replayed)."""
        found = [keys.code(c.id) for c in self.codes]
        for u in self.users:
            found += [keys.user_codes(u), keys.user_groups(u), keys.user_uses(u)]
            found += [keys.user_purchases(u), keys.user_purchase_data(u)]
        found += [keys.group_codes(g) for g in self.groups]
        return found


async def answers(side: ReadSideDriver, world: World) -> list:
    ours = {c.code for c in world.codes}
    return [
        (
            [c for c in await side.active(u) if c["code"] in ours],
            await side.reads.purchases(u, 100, 0),
        )
        for u in world.users
    ]


async def last_entry(side: ReadSideDriver) -> str:
    newest = await side.redis.xrevrange(LOYALTY_EVENTS, count=1)
    return newest[0][0] if newest else "0-0"


async def deliver(side: ReadSideDriver, entries: list[dict], chance: random.Random) -> None:
    copies = entries + [chance.choice(entries) for _ in range(len(entries))] if entries else []
    chance.shuffle(copies)
    for fields in copies:
        fresh = {**fields, "event_id": str(uuid.uuid4())}
        await side.projector.handle(Envelope.from_entry(LOYALTY_EVENTS, "0-0", fresh))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=st.lists(step, min_size=4, max_size=30), seed=st.integers(0, 2**32 - 1))
async def test_a_shuffled_duplicated_history_ends_as_a_rebuild_from_postgres(side, history, seed):
    await side.settle()
    start = await last_entry(side)
    world = await World().create()
    for kind, a, b in history:
        await world.run(kind, a, b)
    await side.settle()
    entries = [fields for _id, fields in await side.redis.xrange(LOYALTY_EVENTS, f"({start}")]
    await ensure_built(side.redis, side.engine, force=True)
    rebuilt = await answers(side, world)
    chance = random.Random(seed)

    for _ in range(ORDERS):
        await deliver(side, entries, chance)
        assert await answers(side, world) == rebuilt, "a stale event changed the rebuilt model"
    for _ in range(ORDERS):
        await side.redis.zrem(
            keys.PUBLIC_CODES, *[keys.public_member(c.code, c.id) for c in world.codes]
        )
        await side.redis.delete(*world.keys())
        await deliver(side, entries, chance)
        assert await answers(side, world) == rebuilt, "the events alone, in this order, differ"


async def test_two_projectors_in_one_group_end_as_one_and_as_a_rebuild(side):
    """Two consumers of one group take the entries between them (each reclaiming what the other
    holds at once, so some are applied twice and out of order); the result is the rebuild's."""
    chance = random.Random(11)
    world = await World().create()
    await side.settle()
    for _ in range(40):
        await world.run(*random_step(chance))
    while sum([await relay.publish_pending() for relay in side.relays]):
        pass
    group = PROJECTOR_GROUPS[LOYALTY_EVENTS]
    first, second = side.runner(LOYALTY_EVENTS, group), side.runner(LOYALTY_EVENTS, group)
    first.batch = second.batch = 2
    while sum(await asyncio.gather(first.step(), second.step())):
        pass
    projected = await answers(side, world)
    await ensure_built(side.redis, side.engine, force=True)
    assert projected == await answers(side, world)
