"""The operators' commands: tariffs, codes, assignments, groups, the generator, apply-to-users."""

import secrets
import uuid

import pytest

from core.config import get_settings
from core.errors import AppError
from loyalty import handlers
from loyalty.catalog import generator
from loyalty.catalog import handlers as catalog_handlers
from loyalty.read.batch_csv import batch_csv
from loyalty.read.postgres import read_only_engine
from loyalty.schemas import (
    ApplyToUsersRequest,
    AssignmentRequest,
    GenerateRequest,
    GroupCreate,
    MembersRequest,
    PromocodeUpdate,
    TariffUpdate,
)
from tests.support.db import events_for, sql
from tests.support.factories import (
    OPERATOR_ID,
    create_loyalty_user,
    create_loyalty_users,
    create_promocode,
    create_tariff,
    request,
    unique_code,
)


async def raises(code: str, call, *args, **kwargs) -> AppError:
    with pytest.raises(AppError) as raised:
        await call(*args, actor_id=OPERATOR_ID, **kwargs)
    assert raised.value.code == code
    return raised.value


async def test_tariff_create_update_and_events():
    tariff = await create_tariff(price=1000)
    changed = await handlers.update_tariff(
        tariff.id, TariffUpdate(price=2000, is_active=False), actor_id=OPERATOR_ID
    )
    assert (changed.price, changed.is_active, changed.name) == (2000, False, tariff.name)
    types = [e["type"] for e in await events_for(tariff.id) if e["type"].startswith("tariff.")]
    assert types[-2:] == ["tariff.created", "tariff.updated"]
    await raises("tariff_not_found", handlers.update_tariff, 2**31 - 1, TariffUpdate(price=1))
    other = await create_tariff()
    await raises(
        "tariff_name_taken", handlers.update_tariff, other.id, TariffUpdate(name=tariff.name)
    )


async def test_promocode_is_stored_upper_case_and_unique():
    code = unique_code().lower()
    promo = await create_promocode(code=code)
    assert promo.code == code.upper() and promo.version == 1 and promo.uses == 0
    error = await raises("promocode_code_taken", make_promocode_as_operator, code.upper())
    assert error.status_code == 409
    [event] = await events_for(promo.id, "promocode.created")
    assert event["payload"]["code"] == promo.code


async def make_promocode_as_operator(code: str, actor_id):
    return await create_promocode(code=code)


async def test_promocode_with_an_unknown_tariff_is_refused():
    with pytest.raises(AppError) as raised:
        await create_promocode(tariff_ids=[2**31 - 1])
    assert raised.value.code == "tariff_not_found"


async def test_change_and_disable_bump_the_version_and_publish_a_snapshot():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=10)
    changed = await handlers.update_promocode(
        promo.id, PromocodeUpdate(value=20, valid_until=None), actor_id=OPERATOR_ID
    )
    assert (changed.value, changed.valid_until, changed.version) == (20, None, 2)
    disabled = await handlers.update_promocode(
        promo.id, PromocodeUpdate(is_active=False), actor_id=OPERATOR_ID
    )
    assert disabled.is_active is False and disabled.version == 3
    updates = await events_for(promo.id, "promocode.updated")
    assert [e["payload"]["version"] for e in updates] == [2, 3]
    user = await create_loyalty_user()
    with pytest.raises(AppError) as raised:
        await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    assert raised.value.code == "promocode_disabled"


async def test_max_uses_cannot_go_below_the_uses_taken():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=5, per_user_limit=None)
    user = await create_loyalty_user()
    for _ in range(3):
        await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    error = await raises(
        "validation_error", handlers.update_promocode, promo.id, PromocodeUpdate(max_uses=2)
    )
    assert error.status_code == 422
    ok = await handlers.update_promocode(
        promo.id, PromocodeUpdate(max_uses=3), actor_id=OPERATOR_ID
    )
    assert ok.uses_left_total == 0


async def test_a_percent_above_100_is_refused_on_change():
    promo = await create_promocode(discount_type="amount", value=50_000)
    await raises(
        "validation_error",
        handlers.update_promocode,
        promo.id,
        PromocodeUpdate(discount_type="percent"),
    )


async def test_assignments_answer_only_what_changed():
    promo = await create_promocode(audience="assigned")
    a, b = await create_loyalty_users(2)
    group = await handlers.create_group(
        GroupCreate(name=f"segment-{uuid.uuid4().hex[:8]}"), actor_id=OPERATOR_ID
    )
    first = await handlers.assign_promocode(
        promo.id, AssignmentRequest(user_ids=[a], group_ids=[group.id]), actor_id=OPERATOR_ID
    )
    second = await handlers.assign_promocode(
        promo.id, AssignmentRequest(user_ids=[a, b, b]), actor_id=OPERATOR_ID
    )
    assert (first.user_ids, first.group_ids) == ([a], [group.id])
    assert (second.user_ids, second.group_ids) == ([b], [])
    removed = await handlers.unassign_promocode(
        promo.id, AssignmentRequest(user_ids=[a], group_ids=[group.id]), actor_id=OPERATOR_ID
    )
    assert (removed.user_ids, removed.group_ids) == ([a], [group.id])
    assigned = await events_for(promo.id, "promocode.assigned")
    assert [e["payload"]["user_ids"] for e in assigned] == [[str(a)], [str(b)]]
    [unassigned] = await events_for(promo.id, "promocode.unassigned")
    payload = unassigned["payload"]
    assert {k: v for k, v in payload.items() if not k.endswith("_versions")} == {
        "schema": 1,
        "promocode_id": promo.id,
        "user_ids": [str(a)],
        "group_ids": [group.id],
    }
    # Each pair's change has a newer version than the pair's assignment had.
    [assigned_a] = [e for e in assigned if e["payload"]["user_ids"] == [str(a)]]
    assert payload["user_versions"][0] > assigned_a["payload"]["user_versions"][0]
    assert payload["group_versions"][0] > assigned_a["payload"]["group_versions"][0]
    await raises(
        "user_not_found",
        handlers.assign_promocode,
        promo.id,
        AssignmentRequest(user_ids=[uuid.uuid4()]),
    )
    await raises(
        "group_not_found",
        handlers.assign_promocode,
        promo.id,
        AssignmentRequest(group_ids=[2**31 - 1]),
    )


async def test_groups_and_members():
    name = f"vip-{uuid.uuid4().hex[:8]}"
    group = await handlers.create_group(
        GroupCreate(name=name, description="d"), actor_id=OPERATOR_ID
    )
    await raises("group_name_taken", handlers.create_group, GroupCreate(name=name))
    a, b = await create_loyalty_users(2)
    added = await handlers.add_group_members(
        group.id, MembersRequest(user_ids=[a, b]), actor_id=OPERATOR_ID
    )
    again = await handlers.add_group_members(
        group.id, MembersRequest(user_ids=[a]), actor_id=OPERATOR_ID
    )
    removed = await handlers.remove_group_members(
        group.id, MembersRequest(user_ids=[a]), actor_id=OPERATOR_ID
    )
    assert (
        sorted(added.user_ids) == sorted([a, b])
        and again.user_ids == []
        and removed.user_ids == [a]
    )
    types = [e["type"] for e in await events_for(group.id) if e["type"].startswith("group.")]
    assert types == ["group.created", "group.members_added", "group.members_removed"]
    await raises(
        "group_not_found", handlers.add_group_members, 2**31 - 1, MembersRequest(user_ids=[a])
    )


async def test_generator_makes_unique_checked_codes_and_one_batch_event():
    tariff = await create_tariff()
    batch = await handlers.generate_promocodes(
        GenerateRequest(
            count=500,
            prefix="GEN-",
            pattern="XXXX-XXXX",
            discount_type="percent",
            value=30,
            tariff_ids=[tariff.id],
        ),
        actor_id=OPERATOR_ID,
    )
    rows = await sql(
        "SELECT code, max_uses, tariff_ids, batch_id FROM promocodes WHERE batch_id = :b",
        b=batch.batch_id,
    )
    assert batch.count == len(rows) == 500
    assert all(generator.has_valid_check(r["code"]) and r["code"].startswith("GEN-") for r in rows)
    assert {r["max_uses"] for r in rows} == {1}
    [event] = await events_for(batch.batch_id, "promocode.batch_generated")
    payload = event["payload"]
    assert (payload["count"], payload["prefix"], payload["pattern"]) == (500, "GEN-", "XXXX-XXXX")
    assert payload["template"]["tariff_ids"] == [tariff.id]
    assert "code" not in payload["template"] and "uses" not in payload["template"]
    csv = await batch_csv(read_only_engine(get_settings().loyalty_database_url), batch.batch_id)
    assert csv.splitlines()[0].startswith("code,") and len(csv.splitlines()) == 501
    # A generated code works like any other.
    user = await create_loyalty_user()
    quote = await handlers.apply_promocode(request(rows[0]["code"], tariff.id), actor_id=user)
    assert quote.discount == 11_970


async def test_generator_tops_up_codes_that_already_exist():
    # 4-character codes: 31**3 = 29791 possible; fill a lot of the space first (inactive
    # fillers, written without events: no buyer of a later test is offered 5,000 of them).
    prefix = "".join(secrets.choice(generator.ALPHABET) for _ in range(6)) + "-"
    taken = generator.generate_codes(generator.make_shape(prefix=prefix, length=4), 5000)
    await sql(
        "INSERT INTO promocodes (code, discount_type, value, valid_from, tariff_ids, audience, "
        "is_active, description, uses, version, created_at, updated_at, per_user_limit) "
        "SELECT c, 'percent', 5, now(), '{}', 'everyone', false, '', 0, 1, now(), now(), 1 "
        "FROM unnest(CAST(:codes AS text[])) c ON CONFLICT DO NOTHING",
        codes=taken,
    )
    batch = await handlers.generate_promocodes(
        GenerateRequest(count=250, prefix=prefix, length=4, discount_type="trial", value=7),
        actor_id=OPERATOR_ID,
    )
    [row] = await sql("SELECT count(*) AS n FROM promocodes WHERE batch_id = :b", b=batch.batch_id)
    assert row["n"] == 250


async def test_a_batch_larger_than_a_chunk_is_generated_whole_in_one_transaction(monkeypatch):
    monkeypatch.setattr(catalog_handlers, "GENERATION_CHUNK", 64)
    batch = await handlers.generate_promocodes(
        GenerateRequest(count=250, prefix="CHUNK-", discount_type="percent", value=5),
        actor_id=OPERATOR_ID,
    )
    [row] = await sql(
        "SELECT count(*) AS n, count(DISTINCT code) AS d FROM promocodes WHERE batch_id = :b",
        b=batch.batch_id,
    )
    assert (row["n"], row["d"]) == (250, 250)
    [event] = await events_for(batch.batch_id, "promocode.batch_generated")
    assert event["payload"]["count"] == 250


async def test_apply_to_users_until_the_code_runs_out():
    tariff = await create_tariff(price=10_000)
    promo = await create_promocode(discount_type="fixed_price", value=1_000, max_uses=3)
    users = await create_loyalty_users(3)
    blocked = await create_loyalty_user(status="blocked")
    late = await create_loyalty_users(2)
    body = ApplyToUsersRequest(user_ids=[*users, blocked, *late], tariff_id=tariff.id)

    dry = await handlers.apply_to_users(
        promo.id, body.model_copy(update={"dry_run": True}), actor_id=OPERATOR_ID
    )
    assert [a.user_id for a in dry.applied] == users
    assert all(a.purchase_id is None and a.final_price == 1_000 for a in dry.applied)
    assert [(r.user_id, r.reason) for r in dry.rejected] == [
        (blocked, "user_not_eligible"),
        (late[0], "promocode_exhausted"),
        (late[1], "promocode_exhausted"),
    ]
    [row] = await sql("SELECT uses FROM promocodes WHERE id = :p", p=promo.id)
    assert row["uses"] == 0, "a dry run writes nothing"
    assert await logged_attempts(promo.id) == [], "not even the attempts log"

    real = await handlers.apply_to_users(promo.id, body, actor_id=OPERATOR_ID)
    assert [a.user_id for a in real.applied] == users
    assert [(r.user_id, r.reason) for r in real.rejected] == [
        (r.user_id, r.reason) for r in dry.rejected
    ]
    purchases = await sql(
        "SELECT status, source, final_price FROM purchases WHERE promocode_id = :p", p=promo.id
    )
    assert purchases == [{"status": "paid", "source": "operator", "final_price": 1_000}] * 3
    paid_events = [await events_for(a.purchase_id, "purchase.paid") for a in real.applied]
    assert [e[0]["payload"]["promocode_uses"] for e in paid_events] == [1, 2, 3]
    assert await logged_attempts(promo.id) == [
        (r.user_id, r.reason, "apply_to_users") for r in real.rejected
    ]


async def logged_attempts(promocode_id: int) -> list[tuple]:
    rows = await sql(
        "SELECT user_id, reason, endpoint FROM promocode_attempts WHERE promocode_id = :p "
        "ORDER BY id",
        p=promocode_id,
    )
    return [(r["user_id"], r["reason"], r["endpoint"]) for r in rows]


async def test_apply_to_users_reports_the_real_reason_for_assigned_codes():
    tariff = await create_tariff()
    promo = await create_promocode(audience="assigned")
    [outsider] = await create_loyalty_users(1)
    out = await handlers.apply_to_users(
        promo.id,
        ApplyToUsersRequest(user_ids=[outsider], tariff_id=tariff.id),
        actor_id=OPERATOR_ID,
    )
    assert [r.reason for r in out.rejected] == ["promocode_not_assigned"]
    await raises(
        "tariff_not_found",
        handlers.apply_to_users,
        promo.id,
        ApplyToUsersRequest(user_ids=[outsider], tariff_id=2**31 - 1),
    )
