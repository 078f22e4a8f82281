"""command_api over HTTP (in process): routes, roles, error shapes, Idempotency-Key."""

import asyncio
import uuid

import httpx
import pytest

from command_api.app import app
from tests.support.db import attempts_of, sql
from tests.support.factories import (
    bearer,
    create_loyalty_user,
    create_promocode,
    create_tariff,
    unique_code,
)
from tests.support.http import client_fixture, without_request_id

API = "/api/v1/loyalty"


client = client_fixture(app)


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]["code"]


async def test_buyer_flow_over_http(client):
    tariff = await create_tariff(price=39_900)
    promo = await create_promocode(discount_type="percent", value=10, max_uses=5)
    user = await create_loyalty_user()
    headers = bearer(user)
    body = {"promocode": promo.code.lower(), "tariff_id": tariff.id}

    quote = await client.post(f"{API}/apply_promocode", json=body, headers=headers)
    assert quote.status_code == 200, quote.text
    assert quote.json() | {"valid_until": None} == {
        "promocode": promo.code,
        "tariff_id": tariff.id,
        "base_price": 39_900,
        "discount": 3_990,
        "final_price": 35_910,
        "currency": "RUB",
        "discount_type": "percent",
        "trial_days": None,
        "valid_until": None,
    }
    used = await client.post(f"{API}/use_promocode", json=body, headers=headers)
    assert used.status_code == 201, used.text
    purchase = used.json()
    assert purchase["status"] == "pending" and purchase["final_price"] == 35_910
    assert purchase["expires_at"]
    paid = await client.post(
        f"{API}/confirm_purchase", json={"purchase_id": purchase["purchase_id"]}, headers=headers
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    cancel = await client.post(
        f"{API}/cancel_use_promocode",
        json={"purchase_id": purchase["purchase_id"]},
        headers=headers,
    )
    assert cancel.status_code == 409 and error_of(cancel) == "purchase_not_cancellable"


async def test_calls_need_a_token_and_operator_calls_need_the_role(client):
    body = {"name": f"t-{uuid.uuid4().hex[:8]}", "price": 100}
    anonymous = await client.post(f"{API}/tariffs", json=body)
    assert anonymous.status_code == 401 and error_of(anonymous) == "not_authenticated"
    as_user = await client.post(f"{API}/tariffs", json=body, headers=bearer(uuid.uuid4()))
    assert as_user.status_code == 403 and error_of(as_user) == "forbidden"
    as_operator = await client.post(
        f"{API}/tariffs", json=body, headers=bearer(uuid.uuid4(), "operator")
    )
    assert as_operator.status_code == 201
    assert as_operator.json() | {"id": 0} == {**body, "id": 0, "currency": "RUB", "is_active": True}
    buyer = await client.post(f"{API}/apply_promocode", json={"promocode": "X", "tariff_id": 1})
    assert buyer.status_code == 401


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/apply_promocode", {"promocode": "", "tariff_id": 1}),
        ("/apply_promocode", {"promocode": "ABCD", "tariff_id": 2**40}),
        ("/use_promocode", {"promocode": "ABCD"}),
        ("/confirm_purchase", {"purchase_id": "not-a-uuid"}),
        ("/cancel_use_promocode", {"purchase_id": str(uuid.uuid4()), "extra": 1}),
    ],
)
async def test_bad_buyer_input_is_a_422_with_the_error_shape(client, path, body):
    response = await client.post(f"{API}{path}", json=body, headers=bearer(uuid.uuid4()))
    assert response.status_code == 422 and error_of(response) == "validation_error"


@pytest.mark.parametrize(
    "body",
    [
        {"code": "AB", "discount_type": "percent", "value": 10},
        {"code": "OK-CODE", "discount_type": "percent", "value": 101},
        {"code": "OK-CODE", "discount_type": "bogus", "value": 1},
        {"code": "OK CODE!", "discount_type": "amount", "value": 1},
        {
            "code": "OK-CODE",
            "discount_type": "amount",
            "value": 1,
            "valid_from": "2026-01-02T00:00:00Z",
            "valid_until": "2026-01-01T00:00:00Z",
        },
        {"code": "OK-CODE", "discount_type": "amount", "value": 1, "max_uses": 0},
    ],
)
async def test_bad_promocodes_are_refused(client, body):
    response = await client.post(
        f"{API}/promocodes", json=body, headers=bearer(uuid.uuid4(), "operator")
    )
    assert response.status_code == 422 and error_of(response) == "validation_error"


async def test_operator_endpoints_over_http(client):
    headers = bearer(uuid.uuid4(), "admin")
    tariff = (
        await client.post(
            f"{API}/tariffs", json={"name": unique_code(), "price": 500}, headers=headers
        )
    ).json()
    patched = await client.patch(
        f"{API}/tariffs/{tariff['id']}", json={"price": 700}, headers=headers
    )
    assert patched.json()["price"] == 700
    code = unique_code()
    created = await client.post(
        f"{API}/promocodes",
        json={"code": code, "discount_type": "amount", "value": 100, "audience": "assigned"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    promo = created.json()
    assert promo["uses_left_total"] is None and promo["per_user_limit"] == 1
    user = await create_loyalty_user()
    group = await client.post(f"{API}/groups", json={"name": unique_code()}, headers=headers)
    assert group.status_code == 201
    group_id = group.json()["id"]
    # Members and assignments: POST adds, DELETE with the same body removes (and answers it).
    members = (f"{API}/groups/{group_id}/members", {"user_ids": [str(user)]})
    assignments = (f"{API}/promocodes/{promo['id']}/assignments", {"group_ids": [group_id]})
    for path, body in (members, assignments):
        added = await client.post(path, json=body, headers=headers)
        assert added.status_code == 200 and body.items() <= added.json().items(), added.text
    applied = await client.post(
        f"{API}/promocodes/{promo['id']}/apply_to_users",
        json={"user_ids": [str(user)], "tariff_id": tariff["id"], "dry_run": True},
        headers=headers,
    )
    assert applied.status_code == 200 and len(applied.json()["applied"]) == 1
    for path, body in (members, assignments):
        removed = await client.request("DELETE", path, json=body, headers=headers)
        assert removed.status_code == 200 and body.items() <= removed.json().items(), removed.text
    generated = await client.post(
        f"{API}/promocodes/generate",
        json={"count": 20, "length": 8, "discount_type": "trial", "value": 14},
        headers=headers,
    )
    assert generated.status_code == 201 and generated.json()["count"] == 20
    missing = await client.patch(
        f"{API}/promocodes/2147483647", json={"is_active": False}, headers=headers
    )
    assert missing.status_code == 404 and error_of(missing) == "promocode_not_found"
    too_big = await client.patch(f"{API}/promocodes/2147483648", json={}, headers=headers)
    assert too_big.status_code == 422


async def test_not_assigned_is_answered_as_not_found_but_logged_as_it_is(client):
    tariff = await create_tariff()
    promo = await create_promocode(audience="assigned")
    user = await create_loyalty_user()
    response = await client.post(
        f"{API}/apply_promocode",
        json={"promocode": promo.code, "tariff_id": tariff.id},
        headers=bearer(user),
    )
    assert response.status_code == 404 and error_of(response) == "promocode_not_found"
    assert [a["reason"] for a in await attempts_of(user)] == ["promocode_not_assigned"]


async def test_rate_limited_answer_has_retry_after(client, settings):
    tariff = await create_tariff()
    user = await create_loyalty_user()
    headers = bearer(user)
    for n in range(settings.failed_attempts_per_minute):
        r = await client.post(
            f"{API}/apply_promocode",
            json={"promocode": f"NOPE{n}", "tariff_id": tariff.id},
            headers=headers,
        )
        assert r.status_code == 404
    limited = await client.post(
        f"{API}/use_promocode", json={"promocode": "NOPE", "tariff_id": tariff.id}, headers=headers
    )
    assert limited.status_code == 429 and error_of(limited) == "too_many_attempts"
    assert int(limited.headers["retry-after"]) >= 1


async def test_wrong_codes_are_counted_by_the_callers_address(settings, monkeypatch):
    """command_api hands the caller's address to the per-address limit of wrong codes."""
    monkeypatch.setattr(settings, "failed_attempts_per_address_per_minute", 2)
    tariff = await create_tariff()
    host = f"198.51.100.{uuid.uuid4().int % 250 + 1}"

    async def guess(client_host: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(client_host, 40_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as caller:
            response = await caller.post(
                f"{API}/apply_promocode",
                json={"promocode": f"NOPE-{uuid.uuid4().hex[:8]}", "tariff_id": tariff.id},
                headers=bearer(await create_loyalty_user()),
            )
        return response.status_code

    assert [await guess(host) for _ in range(3)] == [404, 404, 429]
    assert await guess(f"203.0.113.{uuid.uuid4().int % 250 + 1}") == 404


# ---- Idempotency-Key ------------------------------------------------------------------------


async def keyed_use(**code_fields) -> tuple[dict, dict, int]:
    """A new buyer's use_promocode of a new code: (body, headers with a new Idempotency-Key,
    promo code id)."""
    tariff = await create_tariff()
    promo = await create_promocode(**code_fields)
    headers = {**bearer(await create_loyalty_user()), "Idempotency-Key": uuid.uuid4().hex}
    return {"promocode": promo.code, "tariff_id": tariff.id}, headers, promo.id


async def test_same_key_same_body_replays_the_first_answer(client):
    body, headers, promocode_id = await keyed_use(max_uses=10, per_user_limit=5)
    first = await client.post(f"{API}/use_promocode", json=body, headers=headers)
    second = await client.post(f"{API}/use_promocode", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    [row] = await sql("SELECT uses FROM promocodes WHERE id = :p", p=promocode_id)
    assert row["uses"] == 1
    # Another key is another purchase.
    third = await client.post(
        f"{API}/use_promocode", json=body, headers={**headers, "Idempotency-Key": "other"}
    )
    assert third.status_code == 201 and third.json()["purchase_id"] != first.json()["purchase_id"]


async def test_a_key_past_its_24_hours_runs_again_even_with_another_body(client):
    body, headers, promocode_id = await keyed_use(max_uses=10, per_user_limit=5)
    first = await client.post(f"{API}/use_promocode", json=body, headers=headers)
    await sql(
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = :k",
        k=headers["Idempotency-Key"],
    )
    other = await keyed_use(max_uses=10)  # another code: another body under the same key
    again = await client.post(f"{API}/use_promocode", json=other[0], headers=headers)
    replayed = await client.post(f"{API}/use_promocode", json=other[0], headers=headers)
    assert first.status_code == again.status_code == replayed.status_code == 201
    assert again.json()["purchase_id"] != first.json()["purchase_id"]
    assert replayed.json() == again.json(), "the key now holds the new answer"
    used = await sql("SELECT uses FROM promocodes WHERE id IN (:a, :b)", a=promocode_id, b=other[2])
    assert [row["uses"] for row in used] == [1, 1], "one use of each code, none given back"


async def test_same_key_another_body_is_refused(client):
    tariff = await create_tariff()
    a, b = await create_promocode(per_user_limit=5), await create_promocode(per_user_limit=5)
    user = await create_loyalty_user()
    headers = {**bearer(user), "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post(
        f"{API}/use_promocode", json={"promocode": a.code, "tariff_id": tariff.id}, headers=headers
    )
    other = await client.post(
        f"{API}/use_promocode", json={"promocode": b.code, "tariff_id": tariff.id}, headers=headers
    )
    assert first.status_code == 201
    assert other.status_code == 422 and error_of(other) == "idempotency_key_reused"


async def test_a_failed_first_attempt_is_replayed_too(client):
    tariff = await create_tariff()
    user = await create_loyalty_user()
    headers = {**bearer(user), "Idempotency-Key": uuid.uuid4().hex}
    body = {"promocode": unique_code(), "tariff_id": tariff.id}
    first = await client.post(f"{API}/use_promocode", json=body, headers=headers)
    second = await client.post(f"{API}/use_promocode", json=body, headers=headers)
    assert first.status_code == second.status_code == 404
    # The same answer; each carries the id of the request it answers.
    assert without_request_id(first.json()) == without_request_id(second.json())
    assert len(await attempts_of(user)) == 1, "a replay is not a new attempt"


async def test_confirm_and_cancel_replay_and_keys_are_per_endpoint(client):
    body, headers, _ = await keyed_use(max_uses=10)
    used = await client.post(f"{API}/use_promocode", json=body, headers=headers)
    purchase_id = used.json()["purchase_id"]
    cancels = [
        await client.post(
            f"{API}/cancel_use_promocode", json={"purchase_id": purchase_id}, headers=headers
        )
        for _ in range(2)
    ]
    assert [c.status_code for c in cancels] == [200, 200]
    assert cancels[0].json() == cancels[1].json()
    confirm = await client.post(
        f"{API}/confirm_purchase", json={"purchase_id": purchase_id}, headers=headers
    )
    assert confirm.status_code == 409 and error_of(confirm) == "purchase_cancelled"


async def test_a_key_still_running_answers_409(client):
    body, headers, promocode_id = await keyed_use(max_uses=100, per_user_limit=100)
    responses = await asyncio.gather(
        *(client.post(f"{API}/use_promocode", json=body, headers=headers) for _ in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    for r in responses:
        if r.status_code == 409:
            assert error_of(r) == "idempotency_key_in_use"
    ids = {r.json()["purchase_id"] for r in responses if r.status_code == 201}
    assert len(ids) == 1
    [row] = await sql("SELECT uses FROM promocodes WHERE id = :p", p=promocode_id)
    assert row["uses"] == 1


async def test_keys_belong_to_their_user(client):
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=10)
    key = uuid.uuid4().hex
    body = {"promocode": promo.code, "tariff_id": tariff.id}
    for _ in range(2):
        user = await create_loyalty_user()
        r = await client.post(
            f"{API}/use_promocode", json=body, headers={**bearer(user), "Idempotency-Key": key}
        )
        assert r.status_code == 201
    [row] = await sql("SELECT uses FROM promocodes WHERE id = :p", p=promo.id)
    assert row["uses"] == 2
