"""Each audience rule has one definition, and its other forms are held to it here:

- `rules.is_public` (Python, used by the projector) and `postgres.public_codes` (SQL);
- "this code reaches this user" in SQL (`audience.repository.codes_assigned_to`, used by the
  buyer's snapshot and the read side's fallback) and in the Redis read model (the Lua script
  that unions a user's own, group and public sets), over a random history of assignments and
  group memberships.
"""

import random
import uuid

import pytest
from sqlalchemy import select

from loyalty import handlers
from loyalty.domain import rules
from loyalty.read import postgres
from loyalty.schemas import AssignmentRequest, GroupCreate, MembersRequest, PromocodeCreate
from tests.support.factories import (
    create_batch,
    create_loyalty_user,
    create_promocode,
    unique_code,
)
from tests.support.read_side import ReadSideDriver

OPERATOR = uuid.uuid4()


@pytest.fixture
async def side():
    driver = await ReadSideDriver().start()
    yield driver
    await driver.close()


async def test_the_public_code_rule_is_the_same_in_python_and_in_sql(side):
    cases = {}
    for audience in ("everyone", "assigned"):
        for in_batch in (False, True):
            for is_active in (True, False):
                if in_batch:
                    batch = await create_batch(1, audience=audience, is_active=is_active)
                    code = await batch_code(side, batch.batch_id)
                else:
                    code = await create_promocode(audience=audience, is_active=is_active)
                cases[code.id] = rules.is_public(code.audience, code.batch_id, code.is_active)
    async with postgres.read_only(side.engine) as conn:
        public = set(
            await conn.scalars(
                select(postgres.codes_t.c.id).where(
                    postgres.codes_t.c.id.in_(list(cases)), postgres.public_codes()
                )
            )
        )
    assert public == {code_id for code_id, is_public in cases.items() if is_public}
    assert 1 <= len(public) < len(cases)


async def batch_code(side: ReadSideDriver, batch_id: uuid.UUID):
    async with postgres.read_only(side.engine) as conn:
        return (
            await conn.execute(
                select(postgres.codes_t).where(postgres.codes_t.c.batch_id == batch_id)
            )
        ).first()


@pytest.mark.parametrize("seed", [1, 2])
async def test_redis_and_postgres_agree_on_which_codes_reach_each_user(side, seed):
    chance = random.Random(seed)
    users = [await create_loyalty_user() for _ in range(6)]
    codes = [
        await handlers.create_promocode(
            PromocodeCreate(
                code=unique_code("REACH"),
                discount_type="percent",
                value=10,
                audience=chance.choice(["assigned", "assigned", "everyone"]),
            ),
            actor_id=OPERATOR,
        )
        for _ in range(8)
    ]
    groups = [
        await handlers.create_group(
            GroupCreate(name=f"reach-{uuid.uuid4().hex}"), actor_id=OPERATOR
        )
        for _ in range(3)
    ]
    for _ in range(40):
        step = chance.choice(["assign_user", "assign_group", "unassign", "join", "leave"])
        user, group, code = chance.choice(users), chance.choice(groups).id, chance.choice(codes).id
        if step == "assign_user":
            await handlers.assign_promocode(
                code, AssignmentRequest(user_ids=[user]), actor_id=OPERATOR
            )
        elif step == "assign_group":
            await handlers.assign_promocode(
                code, AssignmentRequest(group_ids=[group]), actor_id=OPERATOR
            )
        elif step == "unassign":
            await handlers.unassign_promocode(
                code, AssignmentRequest(user_ids=[user], group_ids=[group]), actor_id=OPERATOR
            )
        elif step == "join":
            await handlers.add_group_members(
                group, MembersRequest(user_ids=[user]), actor_id=OPERATOR
            )
        else:
            await handlers.remove_group_members(
                group, MembersRequest(user_ids=[user]), actor_id=OPERATOR
            )
    await side.settle()

    ours = {code.code for code in codes}
    for user in users:
        in_redis = await side.active(user)
        async with postgres.read_only(side.engine) as conn:
            in_postgres = await postgres.active_candidates(conn, user)
        # Every code here is open and unused: listed exactly when it reaches the user.
        redis_ids = {c["code"] for c in in_redis} & ours
        postgres_ids = {c.view.code for c in in_postgres} & ours
        assert redis_ids == postgres_ids, f"user {user}"
