"""Right in any order: a random history of the write side, delivered to the projector shuffled
and with duplicates, ends in the state a rebuild from Postgres gives (hypothesis).

The history runs through the real handlers (rows, versions and events in one transaction) and
the real relay and stream; then its events are delivered again, each copy under a fresh event
id so that dedupe hides nothing: once onto the rebuilt model (a late, stale event must change
nothing) and once onto a model from which this history's keys were removed (the events alone,
in any order, must build the same answers).
"""

import contextlib
import random
import sys
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import get_settings
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
from tests.support.platform import Platform
from tests.support.polling import eventually
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


def shuffled_copies(entries: list[dict], chance: random.Random) -> list[dict]:
    """Every entry and as many random duplicates, shuffled, each under a fresh event id (the
    projector skips an event id it has applied: dedupe would hide a wrong order)."""
    copies = entries + [chance.choice(entries) for _ in range(len(entries))] if entries else []
    chance.shuffle(copies)
    return [{**fields, "event_id": str(uuid.uuid4())} for fields in copies]


async def deliver(side: ReadSideDriver, entries: list[dict], chance: random.Random) -> None:
    for fields in shuffled_copies(entries, chance):
        await side.projector.handle(Envelope.from_entry(LOYALTY_EVENTS, "0-0", fields))


async def forget(side: ReadSideDriver, world: World) -> None:
    """Removes what this history put in the read model: its events alone must build it again."""
    await side.redis.zrem(
        keys.PUBLIC_CODES, *[keys.public_member(c.code, c.id) for c in world.codes]
    )
    await side.redis.delete(*world.keys())


async def history(side: ReadSideDriver, steps: list) -> tuple[World, list[dict]]:
    """A new world and the steps run through the handlers; the stream entries of it all (its
    codes' creation too), in commit order."""
    await side.settle()
    start = await last_entry(side)
    world = await World().create()
    for kind, a, b in steps:
        await world.run(kind, a, b)
    await side.settle()
    return world, [fields for _id, fields in await side.redis.xrange(LOYALTY_EVENTS, f"({start}")]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=4, max_size=30), seed=st.integers(0, 2**32 - 1))
async def test_a_shuffled_duplicated_history_ends_as_a_rebuild_from_postgres(side, steps, seed):
    world, entries = await history(side, steps)
    await ensure_built(side.redis, side.engine, force=True)
    rebuilt = await answers(side, world)
    chance = random.Random(seed)

    for _ in range(ORDERS):
        await deliver(side, entries, chance)
        assert await answers(side, world) == rebuilt, "a stale event changed the rebuilt model"
    for _ in range(ORDERS):
        await forget(side, world)
        await deliver(side, entries, chance)
        assert await answers(side, world) == rebuilt, "the events alone, in this order, differ"


async def test_two_projector_processes_in_one_group_end_as_a_rebuild(side):
    """Two OS processes, each the workers' projector, share one consumer group on a stream of
    this test's own. This history's events, shuffled and duplicated, are added one by one once
    both wait on the group (Redis hands each entry to the one waiting longest, so both take
    entries, and a stuck one is reclaimed by the other after 300 ms), onto a model without this
    history's keys: what the two build must be what a rebuild from Postgres builds."""
    chance = random.Random(11)
    world, entries = await history(side, [random_step(chance) for _ in range(40)])
    await ensure_built(side.redis, side.engine, force=True)
    rebuilt, rebuilt_state = await answers(side, world), await state(side, world)
    await forget(side, world)

    stream, group = f"tests:projectors:{uuid.uuid4().hex[:8]}", PROJECTOR_GROUPS[LOYALTY_EVENTS]
    await side.redis.xgroup_create(stream, group, id="0", mkstream=True)
    # Each process's Redis connections carry its name, so CLIENT LIST shows when it waits.
    processes = {
        name: Platform({"REDIS_URL": f"{get_settings().redis_url}?client_name={name}"})
        for name in (f"tests-projector-{n}-{uuid.uuid4().hex[:6]}" for n in (1, 2))
    }
    try:
        for name, process in processes.items():
            process.start_process(name, [*PROJECTOR_PROCESS, stream, group])
        await eventually(
            lambda: waiting_on_the_group(side, processes),
            timeout=30,
            message="both projector processes waiting on the group",
        )
        for fields in shuffled_copies(entries, chance):
            await side.redis.xadd(stream, fields)
        await eventually(
            lambda: all_acknowledged(side, stream, group, processes),
            timeout=60,
            message="the two projector processes acknowledging every entry",
        )
        consumers = await side.redis.xinfo_consumers(stream, group)
    finally:
        for process in processes.values():
            process.stop()
        await side.redis.delete(stream)
    assert len(consumers) == 2, consumers  # each process a consumer of its own, both served
    assert await state(side, world) == rebuilt_state
    assert await answers(side, world) == rebuilt


async def state(side: ReadSideDriver, world: World) -> dict:
    """This history's keys as they are (versions included) and its codes' `rm:public` scores."""
    found: dict = {}
    ours = world.keys()
    for key in ours:
        kind = await side.redis.type(key)
        if kind == "hash":
            found[key] = await side.redis.hgetall(key)
        elif kind == "zset":
            found[key] = await side.redis.zrange(key, 0, -1, withscores=True)
    for c in world.codes:
        found[c.code] = await side.redis.zscore(keys.PUBLIC_CODES, keys.public_member(c.code, c.id))
    return found


PROJECTOR_PROCESS = [sys.executable, "-m", "tests.support.projector_process"]


def still_running(processes: dict[str, Platform]) -> None:
    for name, process in processes.items():
        assert process.procs[name].poll() is None, f"{name} exited:\n{process.log(name)}"


async def waiting_on_the_group(side: ReadSideDriver, processes: dict[str, Platform]) -> bool:
    still_running(processes)
    blocked = {
        client["name"]
        for client in await side.redis.client_list()
        if client["cmd"] == "xreadgroup" and "b" in client["flags"]
    }
    return set(processes) <= blocked


async def all_acknowledged(
    side: ReadSideDriver, stream: str, group: str, processes: dict[str, Platform]
) -> bool:
    still_running(processes)
    last = (await side.redis.xinfo_stream(stream))["last-generated-id"]
    (state,) = [g for g in await side.redis.xinfo_groups(stream) if g["name"] == group]
    return state["pending"] == 0 and state["last-delivered-id"] == last
