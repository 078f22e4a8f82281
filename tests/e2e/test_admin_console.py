"""The operator console over HTTP: targeting with pickers, finding people by email, a user's
and a code's pages, apply with preview and confirmation, the dashboard and the pipeline."""

import csv
import io
import json
import re
import uuid

import pytest

from core.config import get_settings
from core.redis import get_redis
from core.streams import LOYALTY_EVENTS
from tests.support.admin import (
    AdminClient,
    alerts,
    code_form,
    field_problems,
    operator,
    registered_buyer,
)
from tests.support.db import sql
from tests.support.factories import create_group, create_promocode, create_tariff
from tests.support.loyalty_writes import reject

__all__ = ["operator"]  # the fixture


def notices(html: str, level: str = "success") -> str:
    """The messages a console page shows after a change."""
    return " ".join(re.findall(rf'(?s)data-notice="{level}">(.*?)</div', html))


async def test_group_members_form_adds_the_picked_users(operator):
    group = await create_group()
    [(user_id,)] = [
        tuple(r.values())
        for r in await sql(
            "INSERT INTO users (id, status, registered_at, updated_at) "
            "VALUES (gen_random_uuid(), 'active', now(), now()) RETURNING id"
        )
    ]
    form = await operator.get("/admin/group-member/create")
    assert form.status_code == 200
    assert group.name in form.text
    response = await operator.send_form(
        "/admin/group-member/create", {"group_id": group.id, "user_ids": str(user_id)}
    )
    assert response.status_code == 302, alerts(response.text)
    assert await sql(
        "SELECT 1 FROM group_members WHERE group_id = :g AND user_id = :u", g=group.id, u=user_id
    )
    listed = await operator.get(f"/admin/group-member/list?search={user_id}")
    assert f'<a href="/admin/groups/{group.id}">{group.name}</a>' in listed.text


async def test_assignments_form_assigns_a_code_to_a_group(operator):
    group = await create_group()
    code = await create_promocode(audience="assigned")
    response = await operator.send_form(
        "/admin/promocode-assignment/create", {"promocode_id": code.id, "group_ids": group.id}
    )
    assert response.status_code == 302, alerts(response.text)
    assert await sql(
        "SELECT 1 FROM promocode_assignments WHERE promocode_id = :c AND group_id = :g",
        c=code.id,
        g=group.id,
    )
    empty = await operator.send_form(
        "/admin/promocode-assignment/create", {"promocode_id": code.id}
    )
    assert empty.status_code == 400
    assert "choose at least one user or group" in alerts(empty.text)


async def test_users_are_found_by_email_and_by_part_of_their_id(platform, operator):
    user_id, email = await registered_buyer(platform)
    by_email = await operator.get("/admin/users", params={"q": email.split("@")[0].upper()})
    assert str(user_id) in by_email.text and email in by_email.text
    hex_part = email.split("@")[0].removeprefix("buyer-")  # looks like a piece of an id too
    assert email in (await operator.get("/admin/users", params={"q": hex_part})).text
    by_id = await operator.get("/admin/users", params={"q": str(user_id)[:13]})
    assert str(user_id) in by_id.text
    nobody = await operator.get("/admin/users", params={"q": f"{uuid.uuid4().hex}@nowhere"})
    assert str(user_id) not in nobody.text


async def test_ticked_users_get_a_code_and_a_group_from_the_users_list(platform, operator):
    first, _ = await registered_buyer(platform)
    second, _ = await registered_buyer(platform)
    code = await create_promocode(audience="assigned")
    group = await create_group()
    ticked = [("user_ids", str(first)), ("user_ids", str(second))]
    assigned = await operator.send_form(
        "/admin/users", [*ticked, ("op", "assign"), ("promocode_id", str(code.id))]
    )
    assert assigned.status_code == 303
    rows = await sql("SELECT user_id FROM promocode_assignments WHERE promocode_id = :c", c=code.id)
    assert {r["user_id"] for r in rows} == {first, second}
    grouped = await operator.send_form(
        "/admin/users", [*ticked, ("op", "add_to_group"), ("group_id", str(group.id))]
    )
    assert grouped.status_code == 303
    page = await operator.get(grouped.headers["location"])
    assert "2 user(s) added to the group" in notices(page.text)
    nothing = await operator.send_form("/admin/users", [("op", "assign"), ("promocode_id", "1")])
    page = await operator.get(nothing.headers["location"])
    assert "tick at least one user" in notices(page.text, "danger")


async def test_a_users_page_shows_groups_codes_purchases_and_failed_attempts(platform, operator):
    user_id, email = await registered_buyer(platform)
    group = await create_group(user_id)
    code = await create_promocode(audience="assigned")
    await operator.send_form(
        f"/admin/codes/{code.id}", {"op": "assign_group", "group_id": str(group.id)}
    )
    await reject(user_id, code, "promocode_expired", code.code)
    page = await operator.get(f"/admin/users/{user_id}")
    assert page.status_code == 200
    assert email in page.text
    assert group.name in page.text
    assert code.code in page.text
    assert "promocode_expired" in page.text and "This promo code has expired" in page.text


async def test_a_codes_page_shows_terms_in_words_and_failures_by_reason(platform, operator):
    tariff = await create_tariff(price=47_920)
    code = await create_promocode(
        discount_type="amount", value=10_050, max_uses=10, tariff_ids=[tariff.id]
    )
    user_id, _ = await registered_buyer(platform)
    for reason in ["promocode_expired", "promocode_expired", "user_limit_reached"]:
        await reject(user_id, code, reason, code.code)
    page = await operator.get(f"/admin/codes/{code.id}")
    assert page.status_code == 200
    assert "100.50 ₽ off" in page.text
    assert f"for tariffs {tariff.name}" in page.text
    assert "used 0 of 10 times (10 left)" in page.text
    assert "<code>promocode_expired</code>" in page.text
    assert "<svg" in page.text and "3 failure(s)" in page.text


async def test_a_code_is_assigned_to_searched_users_and_unassigned_from_its_page(
    platform, operator
):
    user_id, email = await registered_buyer(platform)
    code = await create_promocode(audience="assigned")
    search = await operator.get(f"/admin/codes/{code.id}", params={"q": email})
    assert f'value="{user_id}"' in search.text
    await operator.send_form(
        f"/admin/codes/{code.id}", {"op": "assign_users", "user_ids": str(user_id)}
    )
    page = await operator.get(f"/admin/codes/{code.id}")
    assert email in page.text
    await operator.send_form(
        f"/admin/codes/{code.id}", {"op": "unassign", "user_ids": str(user_id)}
    )
    assert await sql("SELECT 1 FROM promocode_assignments WHERE promocode_id = :c", c=code.id) == []


async def test_apply_previews_then_creates_paid_purchases_and_says_how_many(platform, operator):
    tariff = await create_tariff(price=50_000)
    code = await create_promocode(discount_type="percent", value=20, max_uses=1)
    first, _ = await registered_buyer(platform)
    second, _ = await registered_buyer(platform)
    body = [
        ("op", "apply"),
        ("promocode_id", str(code.id)),
        ("tariff_id", str(tariff.id)),
        ("user_ids", str(first)),
        ("user_ids", str(second)),
    ]
    preview = await operator.send_form("/admin/operations", body)
    assert preview.status_code == 200, alerts(preview.text)
    assert "Preview (nothing written yet)" in preview.text
    assert code.code in preview.text and tariff.name in preview.text
    assert "PAID purchase" in preview.text
    assert await sql("SELECT 1 FROM purchases WHERE promocode_id = :c", c=code.id) == []
    done = await operator.send_form("/admin/operations", [*body, ("confirm", "yes")])
    assert 'data-outcome="warning"' in done.text
    assert "applied to 1 of 2 user(s)" in done.text and "promocode_exhausted" in done.text
    [purchase] = await sql(
        "SELECT status, final_price FROM purchases WHERE promocode_id = :c", c=code.id
    )
    assert purchase == {"status": "paid", "final_price": 40_000}


async def test_apply_without_a_code_says_so_and_keeps_the_form(operator):
    response = await operator.send_form(
        "/admin/operations", {"op": "apply", "user_ids_text": "not-an-id", "tariff_id": "1"}
    )
    assert response.status_code == 400
    assert field_problems(response.text)["promocode_id"] == "choose a code"
    assert "not-an-id" in response.text


async def test_money_is_typed_and_shown_in_roubles(operator):
    name = f"Roubles {uuid.uuid4().hex[:8]}"
    response = await operator.send_form(
        "/admin/tariff/create", {"name": name, "price": "479,20", "currency": "RUB"}
    )
    assert response.status_code == 302, alerts(response.text)
    [row] = await sql("SELECT id, price FROM tariffs WHERE name = :n", n=name)
    assert row["price"] == 47_920
    listing = await operator.get("/admin/tariff/list", params={"search": name})
    assert "479.20 ₽" in listing.text
    edit = await operator.get(f"/admin/tariff/edit/{row['id']}")
    assert 'value="479.20"' in edit.text


async def test_a_code_without_valid_from_starts_now_and_an_error_keeps_what_was_typed(operator):
    code = f"NOW{uuid.uuid4().hex[:8].upper()}"
    fields = code_form(
        code, discount_type="amount", value="12.5x", valid_from="", description="kept text"
    )
    wrong = await operator.send_form("/admin/promocode/create", fields)
    assert wrong.status_code == 400
    assert "is not an amount in roubles" in field_problems(wrong.text)["value"]
    assert "invalid literal" not in wrong.text
    assert code in wrong.text and "kept text" in wrong.text
    right = await operator.send_form("/admin/promocode/create", {**fields, "value": "12.50"})
    assert right.status_code == 302, alerts(right.text)
    [row] = await sql("SELECT value, valid_from FROM promocodes WHERE code = :c", c=code)
    assert row["value"] == 1250 and row["valid_from"] is not None


async def test_a_codes_text_is_not_on_its_edit_form(operator):
    code = await create_promocode()
    edit = await operator.get(f"/admin/promocode/edit/{code.id}")
    assert edit.status_code == 200
    assert 'name="code"' not in edit.text
    assert "cannot be changed after creation" in edit.text


async def test_generator_takes_an_operators_word_as_prefix_and_says_why_not_another(operator):
    form = {"op": "generate", "count": "3", "discount_type": "percent", "value": "10"}
    refused = await operator.send_form("/admin/operations", {**form, "prefix": "SPRING_"})
    assert refused.status_code == 400
    assert "prefix" in field_problems(refused.text)["prefix"]
    too_much = await operator.send_form("/admin/operations", {**form, "value": "150"})
    assert field_problems(too_much.text)["value"] == "a percent discount is between 1 and 100"
    assert 'value="150"' in too_much.text
    assert 'value="SPRING_"' in refused.text

    prefix = f"SPRING{uuid.uuid4().hex[:4].upper()}-"
    await operator.send_form("/admin/operations", {**form, "prefix": prefix})
    made = await sql("SELECT code FROM promocodes WHERE code LIKE :p", p=f"{prefix}%")
    assert len(made) == 3


async def test_export_exports_what_the_search_shows(operator):
    kept = await create_promocode(code=f"EXPKEEP{uuid.uuid4().hex[:6].upper()}")
    await create_promocode(code=f"EXPDROP{uuid.uuid4().hex[:6].upper()}")
    response = await operator.get("/admin/promocode/export/csv", params={"search": kept.code})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["code"] for r in rows] == [kept.code]


async def test_the_dashboard_counts_todays_failures_by_reason(platform, operator):
    user_id, _ = await registered_buyer(platform)
    code = await create_promocode()
    await reject(user_id, code, "tariff_not_eligible", code.code)
    page = await operator.get("/admin/")
    assert page.status_code == 200
    assert "Failed attempts today" in page.text
    assert "<code>tariff_not_eligible</code>" in page.text
    assert LOYALTY_EVENTS in page.text


async def test_a_dead_letter_is_shown_with_its_error_and_replayed(platform, operator):
    redis = get_redis(get_settings().redis_url)
    event_id = str(uuid.uuid4())
    fields = {
        "event_id": event_id,
        "type": "test.dead_letter",
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "aggregate_id": "x",
        "payload": json.dumps({"n": 1}),
    }
    entry_id = await redis.xadd(
        f"{LOYALTY_EVENTS}.dlq",
        {**fields, "source_id": "1-0", "group": "projector", "error": "Boom('test')"},
    )
    page = await operator.get("/admin/pipeline")
    assert entry_id in page.text and "Boom(&#39;test&#39;)" in page.text
    replayed = await operator.send_form(
        "/admin/pipeline", {"stream": LOYALTY_EVENTS, "entry_id": entry_id}
    )
    assert replayed.status_code == 303
    assert await redis.xrange(f"{LOYALTY_EVENTS}.dlq", min=entry_id, max=entry_id) == []
    tail = await redis.xrevrange(LOYALTY_EVENTS, count=50)
    assert any(f.get("event_id") == event_id and "error" not in f for _, f in tail)
    again = await operator.send_form(
        "/admin/pipeline", {"stream": LOYALTY_EVENTS, "entry_id": entry_id}
    )
    page = await operator.get(again.headers["location"])
    assert "already replayed" in notices(page.text, "danger")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/users/not-a-uuid",
        f"/admin/users/{uuid.uuid4()}",
        "/admin/codes/2147483000",
        "/admin/groups/2147483000",
    ],
)
async def test_unknown_pages_say_so(operator, path):
    response = await operator.get(path)
    assert response.status_code == 404 and "No such" in response.text


@pytest.mark.parametrize("path", ["/admin/", "/admin/users", "/admin/pipeline", "/admin/codes/1"])
async def test_the_console_pages_send_an_anonymous_visitor_to_the_login_page(platform, path):
    async with AdminClient(base_url=platform.urls["admin"]) as anonymous:
        response = await anonymous.get(path)
    assert response.status_code == 302
    assert "/admin/login" in response.headers["location"]


async def test_codes_filter_by_validity_and_batch_and_export_what_the_filter_shows(operator):
    from datetime import UTC, datetime, timedelta

    from tests.support.factories import create_batch

    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6].upper()
    expired = await create_promocode(
        code=f"OLD{tag}", valid_from=now - timedelta(days=3), valid_until=now - timedelta(days=1)
    )
    current = await create_promocode(code=f"NOW{tag}")
    batch = await create_batch(3)
    listing = await operator.get(
        "/admin/promocode/list", params={"search": tag, "validity": "expired"}
    )
    assert expired.code in listing.text and current.code not in listing.text
    exported = await operator.get(
        "/admin/promocode/export/csv", params={"search": tag, "validity": "now"}
    )
    assert [r["code"] for r in csv.DictReader(io.StringIO(exported.text))] == [current.code]
    codes = await operator.get("/admin/promocode/export/csv", params={"batch": str(batch.batch_id)})
    assert len(list(csv.DictReader(io.StringIO(codes.text)))) == 3


async def test_a_code_that_can_never_discount_is_questioned_before_it_is_created(operator):
    tariff = await create_tariff(price=10_000)
    code = f"NEVER{uuid.uuid4().hex[:8].upper()}"
    fields = code_form(code, discount_type="fixed_price", value="150.00", tariff_ids=str(tariff.id))
    warned = await operator.send_form("/admin/promocode/create", fields)
    assert warned.status_code == 400
    assert "can never give a discount" in field_problems(warned.text)["create_anyway"]
    assert await sql("SELECT 1 FROM promocodes WHERE code = :c", c=code) == []
    created = await operator.send_form("/admin/promocode/create", {**fields, "create_anyway": "y"})
    assert created.status_code == 302, alerts(created.text)


async def test_a_batchs_page_pages_its_codes_counts_their_use_and_offers_its_csv(operator):
    from types import SimpleNamespace

    from tests.support.factories import create_batch, create_loyalty_user
    from tests.support.loyalty_writes import reserve

    batch = await create_batch(60, max_uses=2)
    codes = await sql(
        "SELECT code FROM promocodes WHERE batch_id = :b ORDER BY id", b=batch.batch_id
    )
    tariff = await create_tariff(price=100_000)
    buyer = await create_loyalty_user()
    used = SimpleNamespace(code=codes[7]["code"])
    await reserve(buyer, used, tariff)
    await reserve(await create_loyalty_user(), used, tariff)
    await reserve(buyer, SimpleNamespace(code=codes[30]["code"]), tariff)

    listing = await operator.get("/admin/promocode-batch/list")
    assert f"/admin/batches/{batch.batch_id}" in listing.text
    first = await operator.get(f"/admin/batches/{batch.batch_id}")
    assert first.status_code == 200
    figures = dict(re.findall(r'data-figure="(\w+)">(\d+)<', first.text))
    assert figures == {"codes": "60", "used": "2", "unused": "58", "uses": "3"}
    assert "page 1 of 2" in first.text
    shown = re.findall(r'href="[^"]*/admin/codes/\d+">([^<]+)</a>', first.text)
    assert len(shown) == 50 and shown[:2] == [codes[7]["code"], codes[30]["code"]]
    second = await operator.get(f"/admin/batches/{batch.batch_id}", params={"page": "2"})
    rest = re.findall(r'href="[^"]*/admin/codes/\d+">([^<]+)</a>', second.text)
    assert len(rest) == 10 and not set(rest) & set(shown)
    assert f"batch_csv={batch.batch_id}" in first.text
    download = await operator.get("/admin/operations", params={"batch_csv": str(batch.batch_id)})
    assert len(list(csv.DictReader(io.StringIO(download.text)))) == 60
    unknown = await operator.get(f"/admin/batches/{uuid.uuid4()}")
    assert unknown.status_code == 404


async def test_the_create_forms_pick_users_by_searching_all_of_them(platform, operator):
    user_id, email = await registered_buyer(platform)
    form = await operator.get("/admin/group-member/create")
    assert 'data-role="select2-ajax"' in form.text and str(user_id) not in form.text
    for identity in ["group-member", "promocode-assignment"]:
        by_email = await operator.get(
            f"/admin/{identity}/ajax/lookup",
            params={"name": "user_ids", "term": email.split("@")[0][-8:]},
        )
        assert by_email.status_code == 200, by_email.text
        [found] = by_email.json()["results"]
        assert found["id"] == str(user_id) and email in found["text"]
    by_id = await operator.get(
        "/admin/group-member/ajax/lookup", params={"name": "user_ids", "term": str(user_id)[:13]}
    )
    assert str(user_id) in [r["id"] for r in by_id.json()["results"]]


async def test_a_picked_user_that_is_not_an_id_is_refused_under_the_users_field(operator):
    group = await create_group()
    response = await operator.send_form(
        "/admin/group-member/create", {"group_id": group.id, "user_ids": "anna"}
    )
    assert response.status_code == 400
    assert field_problems(response.text)["user_ids"] == "'anna' is not a user id"
    nobody = await operator.send_form("/admin/group-member/create", {"group_id": group.id})
    assert field_problems(nobody.text)["user_ids"] == "pick at least one user"


async def test_a_taken_code_is_said_under_the_code_field_and_dates_say_their_zone(operator):
    taken = await create_promocode()
    response = await operator.send_form("/admin/promocode/create", code_form(taken.code))
    assert response.status_code == 400
    assert field_problems(response.text)["code"] == "A promo code with this code exists"
    assert "Valid from (UTC)" in response.text
    page = await operator.get(f"/admin/codes/{taken.id}")
    assert re.search(r"valid from \d{4}-\d\d-\d\d \d\d:\d\d UTC", page.text)
    listing = await operator.get("/admin/promocode/list", params={"search": taken.code})
    cells = re.sub(r"<[^>]+>", "", listing.text)  # a list's moment: its day, then its time
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", cells)
