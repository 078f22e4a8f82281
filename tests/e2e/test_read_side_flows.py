"""The read side end to end: commands through command_api and auth, events through the real
relay and streams, the projector in the workers process, answers from query_api."""

import uuid
from collections.abc import Callable

import httpx
import pytest

from core.redis import make_redis
from loyalty.read import keys
from tests.support.db import loyalty_status
from tests.support.factories import bearer
from tests.support.http import every_page
from tests.support.polling import eventually

API = "/api/v1/loyalty"


@pytest.fixture
async def http(platform):
    async with (
        httpx.AsyncClient(base_url=platform.urls["command_api"], timeout=10) as command,
        httpx.AsyncClient(base_url=platform.urls["query_api"], timeout=10) as query,
        httpx.AsyncClient(base_url=platform.urls["auth"], timeout=10) as auth,
    ):
        yield command, query, auth


@pytest.fixture
def operator():
    return bearer(uuid.uuid4(), "admin")


async def register(auth: httpx.AsyncClient, command: httpx.AsyncClient) -> uuid.UUID:
    """A new account, once user sync has recorded it on the loyalty side."""
    email = f"reader-{uuid.uuid4().hex[:10]}@example.com"
    response = await auth.post(
        "/api/v1/auth/user_registration", json={"email": email, "password": "s3cret-pass!"}
    )
    assert response.status_code == 201, response.text
    user_id = uuid.UUID(response.json()["id"])

    async def known() -> bool:
        return await loyalty_status(user_id) is not None

    await eventually(known, message="the user reaching the loyalty side")
    return user_id


async def create_tariff(command, operator) -> dict:
    response = await command.post(
        f"{API}/tariffs",
        json={"name": f"e2e-{uuid.uuid4().hex[:8]}", "price": 49_900},
        headers=operator,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def create_code(command, operator, **fields) -> dict:
    body = {
        "code": f"E2E-{uuid.uuid4().hex[:10].upper()}",
        "discount_type": "percent",
        "value": 20,
        "max_uses": 10,
        "per_user_limit": 2,
        **fields,
    }
    response = await command.post(f"{API}/promocodes", json=body, headers=operator)
    assert response.status_code == 201, response.text
    return response.json()


def active_reader(query: httpx.AsyncClient, user_id: uuid.UUID):
    async def read() -> dict[str, dict]:
        url = f"{API}/get_active_promocodes?limit=200"
        return {c["code"]: c for c in await every_page(query, url, bearer(user_id))}

    return read


async def buyer_with_a_listed_code(http, operator) -> tuple[uuid.UUID, dict, Callable]:
    """A new buyer and a new public code, once the buyer's active codes list it; with the
    reader of those active codes."""
    command, query, auth = http
    user = await register(auth, command)
    code = await create_code(command, operator)
    read = active_reader(query, user)
    await eventually(read, until=lambda codes: code["code"] in codes)
    return user, code, read


async def use(command, user_id, code: str, tariff_id: int) -> dict:
    response = await command.post(
        f"{API}/use_promocode",
        json={"promocode": code, "tariff_id": tariff_id},
        headers=bearer(user_id),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_use_and_a_cancel_show_up_in_active_codes_and_purchases(http, operator):
    command, query, _ = http
    user, created, read = await buyer_with_a_listed_code(http, operator)
    tariff, code = await create_tariff(command, operator), created["code"]
    listed = await read()
    assert (listed[code]["uses_left_for_you"], listed[code]["uses_left_total"]) == (2, 10)

    purchase = await use(command, user, code, tariff["id"])
    listed = await eventually(read, until=lambda codes: codes[code]["uses_left_total"] == 9)
    assert (listed[code]["uses_left_for_you"], listed[code]["uses_left_total"]) == (1, 9)
    purchases = await query.get(f"{API}/purchases", headers=bearer(user))
    assert [(p["purchase_id"], p["status"]) for p in purchases.json()] == [
        (purchase["purchase_id"], "pending")
    ]

    cancelled = await command.post(
        f"{API}/cancel_use_promocode",
        json={"purchase_id": purchase["purchase_id"]},
        headers=bearer(user),
    )
    assert cancelled.status_code == 200, cancelled.text
    listed = await eventually(read, until=lambda codes: codes[code]["uses_left_total"] == 10)
    assert listed[code]["uses_left_for_you"] == 2

    async def statuses():
        response = await query.get(f"{API}/purchases", headers=bearer(user))
        return [p["status"] for p in response.json()]

    await eventually(statuses, until=lambda s: s == ["cancelled"])


async def test_an_assignment_shows_the_code_to_that_user_only(http, operator):
    command, query, auth = http
    user, other = await register(auth, command), await register(auth, command)
    code = await create_code(command, operator, audience="assigned")
    response = await command.post(
        f"{API}/promocodes/{code['id']}/assignments",
        json={"user_ids": [str(user)]},
        headers=operator,
    )
    assert response.status_code == 200, response.text
    listed = await eventually(active_reader(query, user), until=lambda codes: code["code"] in codes)
    assert code["code"] in listed
    assert code["code"] not in await active_reader(query, other)()


async def test_group_membership_changes_show_up(http, operator):
    command, query, auth = http
    user = await register(auth, command)
    code = await create_code(command, operator, audience="assigned")
    group = await command.post(
        f"{API}/groups", json={"name": f"e2e-{uuid.uuid4().hex[:8]}"}, headers=operator
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    assigned = await command.post(
        f"{API}/promocodes/{code['id']}/assignments",
        json={"group_ids": [group_id]},
        headers=operator,
    )
    assert assigned.status_code == 200, assigned.text
    read = active_reader(query, user)
    assert code["code"] not in await read()

    added = await command.post(
        f"{API}/groups/{group_id}/members", json={"user_ids": [str(user)]}, headers=operator
    )
    assert added.status_code == 200, added.text
    await eventually(read, until=lambda codes: code["code"] in codes)

    removed = await command.request(
        "DELETE",
        f"{API}/groups/{group_id}/members",
        json={"user_ids": [str(user)]},
        headers=operator,
    )
    assert removed.status_code == 200, removed.text
    await eventually(read, until=lambda codes: code["code"] not in codes)


async def test_a_disabled_code_disappears(http, operator):
    command, query, _ = http
    _, code, read = await buyer_with_a_listed_code(http, operator)
    patched = await command.patch(
        f"{API}/promocodes/{code['id']}", json={"is_active": False}, headers=operator
    )
    assert patched.status_code == 200, patched.text
    await eventually(read, until=lambda codes: code["code"] not in codes)

    detail = await query.get(f"{API}/promocodes/{code['id']}", headers=operator)
    assert detail.json()["is_active"] is False


async def test_a_blocked_user_sees_no_codes(http, operator):
    _, _, auth = http
    user, _, read = await buyer_with_a_listed_code(http, operator)

    blocked = await auth.post(f"/api/v1/auth/users/{user}/block", headers=operator)
    assert blocked.status_code == 204, blocked.text
    # Tokens issued before the block are revoked; `read` signs a new one each time, so it
    # reaches the read model, which must answer nothing for a blocked account.
    await eventually(read, until=lambda codes: codes == {})


async def test_redis_losing_its_memory_costs_no_empty_answer_and_the_platform_recovers(
    http, operator, settings
):
    command, _, _ = http
    user, created, read = await buyer_with_a_listed_code(http, operator)
    tariff, code = await create_tariff(command, operator), created["code"]
    before = await read()

    redis = make_redis(settings.redis_url)
    try:
        await redis.flushdb()  # our test slot's database only, never FLUSHALL
        during = await read()
        # This test's own code only: other tests write rows without events (bulk fillers, users
        # inserted as user sync would), which Postgres answers and the read model has not seen.
        assert during[code] == before[code]
        await eventually(lambda: redis.exists(keys.BUILT), until=lambda n: n == 1)
    finally:
        await redis.aclose()

    # The consumer groups come back by themselves and new events flow again.
    await use(command, user, code, tariff["id"])
    listed = await eventually(read, until=lambda codes: codes[code]["uses_left_total"] == 9)
    assert listed[code]["uses_left_total"] == 9
