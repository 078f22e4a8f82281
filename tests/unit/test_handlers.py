"""Operator handlers driven with a fake unit of work: the decisions they make without any SQL
(what they refuse, what they emit, when they commit). The SQL itself is tested against
Postgres in tests/integration."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import ValidationFailed
from loyalty import handlers
from loyalty.domain import errors
from loyalty.models import Promocode, Tariff, UserGroup
from loyalty.schemas import (
    AssignmentRequest,
    PromocodeCreate,
    PromocodeUpdate,
    TariffCreate,
    TariffUpdate,
)

OPERATOR = uuid.uuid4()
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class FakeRows:
    """A RowRepository kept in a dict: ids count up, a taken unique value is refused."""

    def __init__(self, model: type, unique: str, taken: type[errors.AppError]) -> None:
        self.model, self.unique, self.taken = model, unique, taken
        self.rows: dict[int, Any] = {}

    async def get(self, row_id: int) -> Any:
        return self.rows.get(row_id)

    async def add(self, values: dict[str, Any]) -> Any:
        if any(getattr(r, self.unique) == values[self.unique] for r in self.rows.values()):
            raise self.taken()
        row_id = len(self.rows) + 1
        stamps = {k: NOW for k in ("created_at", "updated_at") if k in self.model.model_fields}
        self.rows[row_id] = self.model(id=row_id, **stamps, **values)
        return self.rows[row_id]

    async def change(self, row_id: int, values: dict[str, Any]) -> Any:
        if row_id not in self.rows:
            return None
        self.rows[row_id] = self.rows[row_id].model_copy(update=values)
        return self.rows[row_id]

    async def existing_ids(self, ids: list[int]) -> set[int]:
        return set(ids) & set(self.rows)


class FakeUsers:
    def __init__(self) -> None:
        self.known: dict[uuid.UUID, str] = {}

    async def statuses(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        return {u: self.known[u] for u in user_ids if u in self.known}


class FakeAssignments:
    def __init__(self) -> None:
        self.pairs: set[tuple[int, object]] = set()

    async def change(self, promocode_id: int, user_ids: list, group_ids: list) -> tuple:
        new = [(promocode_id, target) for target in [*user_ids, *group_ids]]
        added = [target for pair in new if pair not in self.pairs for target in [pair[1]]]
        self.pairs.update(new)
        return [u for u in added if u in user_ids], [g for g in added if g in group_ids]


class FakeAudienceVersions:
    def __init__(self) -> None:
        self.last = 0

    async def stamp(self, kind: str, scope_id: int, targets: list, *, present: bool) -> list:
        first, self.last = self.last + 1, self.last + len(targets)
        return list(range(first, self.last + 1))


class FakeUnitOfWork:
    def __init__(self, world: "FakeContext") -> None:
        self.tariffs = world.tariffs
        self.codes = world.codes
        self.groups = world.groups
        self.users = world.users
        self.assignments = world.assignments
        self.audience_versions = world.audience_versions
        self.world = world
        self.pending: list[tuple[str, object, dict]] = []

    async def __aenter__(self) -> "FakeUnitOfWork":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.pending = []  # leaving without commit: the events are gone with the change

    def add_event(self, type: str, aggregate_id: object, payload: dict) -> None:
        self.pending.append((type, aggregate_id, payload))

    async def commit(self) -> None:
        self.world.committed.extend(self.pending)
        self.pending = []

    async def commit_event(self, type: str, aggregate_id: object, payload: dict) -> None:
        self.add_event(type, aggregate_id, payload)
        await self.commit()


class FakeContext:
    """What the handlers need from a `loyalty.context.Context`: a unit of work."""

    def __init__(self) -> None:
        self.tariffs = FakeRows(Tariff, "name", errors.TariffNameTaken)
        self.codes = FakeRows(Promocode, "code", errors.PromocodeCodeTaken)
        self.groups = FakeRows(UserGroup, "name", errors.GroupNameTaken)
        self.users = FakeUsers()
        self.assignments = FakeAssignments()
        self.audience_versions = FakeAudienceVersions()
        self.committed: list[tuple[str, object, dict]] = []

    def uow(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def types(self) -> list[str]:
        return [event[0] for event in self.committed]


@pytest.fixture
def ctx() -> FakeContext:
    return FakeContext()


async def make_code(ctx: FakeContext, **fields: Any) -> Promocode:
    body = {"code": "SPRING", "discount_type": "percent", "value": 10, "max_uses": 10, **fields}
    out = await handlers.create_promocode(PromocodeCreate(**body), actor_id=OPERATOR, ctx=ctx)
    return ctx.codes.rows[out.id]


async def test_a_new_tariff_is_answered_and_its_event_carries_the_row(ctx):
    out = await handlers.create_tariff(
        TariffCreate(name="Monthly", price=39_900), actor_id=OPERATOR, ctx=ctx
    )
    [(event_type, aggregate_id, payload)] = ctx.committed
    assert (event_type, aggregate_id) == ("tariff.created", out.id)
    assert (payload["name"], payload["price"], payload["schema"]) == ("Monthly", 39_900, 1)


async def test_a_taken_tariff_name_is_refused_and_nothing_is_emitted(ctx):
    await handlers.create_tariff(TariffCreate(name="Monthly", price=1), actor_id=OPERATOR, ctx=ctx)
    with pytest.raises(errors.TariffNameTaken):
        await handlers.create_tariff(
            TariffCreate(name="Monthly", price=2), actor_id=OPERATOR, ctx=ctx
        )
    assert ctx.types() == ["tariff.created"]


async def test_an_empty_tariff_change_answers_the_tariff_and_emits_nothing(ctx):
    out = await handlers.create_tariff(
        TariffCreate(name="Monthly", price=1), actor_id=OPERATOR, ctx=ctx
    )
    same = await handlers.update_tariff(out.id, TariffUpdate(), actor_id=OPERATOR, ctx=ctx)
    assert same == out and ctx.types() == ["tariff.created"]
    with pytest.raises(errors.TariffNotFound):
        await handlers.update_tariff(99, TariffUpdate(price=5), actor_id=OPERATOR, ctx=ctx)


async def test_a_code_for_unknown_tariffs_is_refused_with_their_ids(ctx):
    with pytest.raises(errors.TariffNotFound) as refused:
        await make_code(ctx, tariff_ids=[5, 3])
    assert refused.value.details == {"tariff_ids": [3, 5]}
    assert ctx.committed == []


async def test_a_code_without_valid_from_starts_now_and_an_end_before_it_is_refused(ctx):
    code = await make_code(ctx)
    assert datetime.now(UTC) - code.valid_from < timedelta(minutes=1)
    with pytest.raises(ValidationFailed):
        await make_code(ctx, code="LATER", valid_until=datetime.now(UTC) - timedelta(days=1))


@pytest.mark.parametrize(
    "change",
    [
        {"value": 150},  # a percent above 100 once merged with the stored type
        {"max_uses": 2},  # below the 3 uses already taken
        {"valid_until": NOW - timedelta(days=400)},  # before valid_from
    ],
)
async def test_a_change_is_judged_against_the_stored_code(ctx, change):
    code = await make_code(ctx, valid_from=NOW - timedelta(days=1))
    await ctx.codes.change(code.id, {"uses": 3})
    with pytest.raises(ValidationFailed):
        await handlers.update_promocode(
            code.id, PromocodeUpdate(**change), actor_id=OPERATOR, ctx=ctx
        )
    assert ctx.types() == ["promocode.created"]


async def test_disabling_a_code_emits_its_new_row(ctx):
    code = await make_code(ctx)
    out = await handlers.update_promocode(
        code.id, PromocodeUpdate(is_active=False), actor_id=OPERATOR, ctx=ctx
    )
    assert out.is_active is False
    assert ctx.committed[-1][0] == "promocode.updated"
    assert ctx.committed[-1][2]["is_active"] is False


async def test_assigning_to_unknown_users_names_them_and_changes_nothing(ctx):
    code = await make_code(ctx)
    known, stranger = uuid.uuid4(), uuid.uuid4()
    ctx.users.known[known] = "active"
    with pytest.raises(errors.UserNotFound) as refused:
        await handlers.assign_promocode(
            code.id, AssignmentRequest(user_ids=[known, stranger]), actor_id=OPERATOR, ctx=ctx
        )
    assert refused.value.details == {"user_ids": [str(stranger)]}
    assert ctx.types() == ["promocode.created"]


async def test_an_assignment_that_adds_nobody_emits_nothing(ctx):
    code = await make_code(ctx)
    user = uuid.uuid4()
    ctx.users.known[user] = "active"
    body = AssignmentRequest(user_ids=[user, user])
    first = await handlers.assign_promocode(code.id, body, actor_id=OPERATOR, ctx=ctx)
    again = await handlers.assign_promocode(code.id, body, actor_id=OPERATOR, ctx=ctx)
    assert (first.user_ids, again.user_ids) == ([user], [])
    assert ctx.types() == ["promocode.created", "promocode.assigned"]
    assert ctx.committed[-1][2]["user_ids"] == [user]
