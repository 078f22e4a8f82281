"""query_api over HTTP (in-process ASGI) against the real Redis read models and Postgres."""

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from auth.tokens import issue_access_token
from core.config import get_settings
from core.security import revoked_jti_key, revoked_user_key
from loyalty.read import keys
from loyalty.read.postgres import read_only
from query_api.app import app
from tests.support import loyalty_writes as w
from tests.support.factories import (
    bearer,
    create_batch,
    create_group,
    create_loyalty_user,
    create_promocode,
    create_tariff,
)
from tests.support.http import client_fixture, every_page
from tests.support.polling import eventually

API = "/api/v1/loyalty"


client = client_fixture(app)


@pytest.fixture
def operator():
    return bearer(uuid.uuid4(), "operator")


async def test_every_read_needs_a_token(client):
    for path in ("/get_active_promocodes", "/purchases", "/promocodes", "/attempts"):
        response = await client.get(f"{API}{path}")
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "not_authenticated"


BUYER_READS = ("/get_active_promocodes", "/purchases")


async def test_buyer_reads_refuse_a_revoked_token_built_or_not(side, client):
    """The buyer reads check the denylist in their own Redis round trip: a logged-out token,
    and every token of a blocked user issued before the block, are refused, also while the
    read model is missing (answered from Postgres then)."""
    settings = get_settings()
    user = await create_loyalty_user()
    logged_out = issue_access_token(user, "user", settings)
    before_block = issue_access_token(user, "user", settings)
    await side.redis.set(revoked_jti_key(logged_out.jti), 1, ex=60)
    await side.redis.set(revoked_user_key(user), before_block.issued_at, ex=60)
    after_block = await eventually(
        lambda: issue_access_token(user, "user", settings),
        until=lambda issued: issued.issued_at > before_block.issued_at,
    )
    for built in (True, False):
        if not built:
            await side.redis.delete(keys.BUILT)
        for path in BUYER_READS:
            for refused in (logged_out, before_block):
                headers = {"Authorization": f"Bearer {refused.token}"}
                response = await client.get(f"{API}{path}", headers=headers)
                assert response.status_code == 401, (path, built)
                assert response.json()["error"]["code"] == "token_revoked"
            headers = {"Authorization": f"Bearer {after_block.token}"}
            assert (await client.get(f"{API}{path}", headers=headers)).status_code == 200
    await side.reads.start_rebuild()
    assert await side.redis.exists(keys.BUILT)


async def test_operator_reads_refuse_a_buyer(client):
    user = bearer(uuid.uuid4())
    for path in (
        "/promocodes",
        "/promocodes/1",
        "/attempts",
        f"/promocodes/batches/{uuid.uuid4()}.csv",
    ):
        response = await client.get(f"{API}{path}", headers=user)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"


async def test_get_active_promocodes_answers_the_contract_shape(side, client):
    user = await create_loyalty_user()
    promo = await create_promocode(max_uses=3, per_user_limit=1, discount_type="amount", value=5000)
    await side.settle()
    listed = await every_page(client, f"{API}/get_active_promocodes?limit=200", bearer(user))
    [item] = [c for c in listed if c["code"] == promo.code]
    assert set(item) == {
        "code",
        "discount_type",
        "value",
        "valid_from",
        "valid_until",
        "tariff_ids",
        "uses_left_for_you",
        "uses_left_total",
    }
    assert (item["discount_type"], item["value"]) == ("amount", 5000)
    assert (item["uses_left_for_you"], item["uses_left_total"]) == (1, 3)
    assert datetime.fromisoformat(item["valid_from"]) == promo.valid_from


async def test_get_active_promocodes_pages_end_soonest_first_with_a_link_to_the_next(side, client):
    user = await create_loyalty_user()
    now = datetime.now(UTC)
    ours = [
        (await create_promocode(valid_until=now + timedelta(days=days))).code for days in (3, 1, 2)
    ]
    await side.settle()
    url = f"{API}/get_active_promocodes"
    whole = (await client.get(f"{url}?limit=200", headers=bearer(user))).json()
    first = await client.get(f"{url}?limit=2", headers=bearer(user))
    assert len(first.json()) == 2 and first.headers["link"].endswith('; rel="next"')
    paged = await every_page(client, f"{url}?limit=50", bearer(user))
    if len(whole) < 200:
        assert paged == whole
    assert [c for c in [x["code"] for x in paged] if c in ours] == [ours[1], ours[2], ours[0]]
    never = datetime.max.replace(tzinfo=UTC)
    ends = [datetime.fromisoformat(c["valid_until"]) if c["valid_until"] else never for c in paged]
    assert ends == sorted(ends), "ending soonest first, never-ending last"
    last = await client.get(f"{url}?limit=200&offset={len(paged)}", headers=bearer(user))
    assert last.json() == [] and "link" not in last.headers
    too_big = await client.get(f"{url}?limit=201", headers=bearer(user))
    assert too_big.status_code == 422


async def test_codes_given_to_the_user_take_their_place_in_the_listing_order(side, client):
    """Public codes come from `rm:public` in the listing's order; a code assigned to the user
    or their group is merged in by its end of validity, each code once."""
    user = await create_loyalty_user()
    now = datetime.now(UTC)
    ends = {days: now + timedelta(days=days, minutes=7) for days in (1, 2, 3, 4)}
    public = [await create_promocode(valid_until=ends[d]) for d in (1, 3)]
    given = [await create_promocode(audience="assigned", valid_until=ends[d]) for d in (2, 4)]
    both = await create_promocode(valid_until=now + timedelta(days=2, minutes=8))
    group = await create_group(user)
    await w.assign(given[0].id, user_ids=[user])
    await w.assign(given[1].id, group_ids=[group.id])
    await w.assign(both.id, user_ids=[user])
    await side.settle()
    listed = await every_page(client, f"{API}/get_active_promocodes?limit=50", bearer(user))
    ours = [public[0], given[0], both, public[1], given[1]]
    codes = {c.code for c in ours}
    assert [c["code"] for c in listed if c["code"] in codes] == [c.code for c in ours]


async def test_purchases_are_the_callers_own_newest_first(side, client):
    user, other = await create_loyalty_user(), await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(per_user_limit=None)
    first = await w.reserve(user, promo, tariff)
    second = await w.reserve(user, promo, tariff)
    await w.reserve(other, promo, tariff)
    await w.cancel(first)
    await side.settle()
    response = await client.get(f"{API}/purchases", headers=bearer(user))
    assert response.status_code == 200
    body = response.json()
    assert [p["purchase_id"] for p in body] == [str(second.purchase_id), str(first.purchase_id)]
    assert [p["status"] for p in body] == ["pending", "cancelled"]
    assert body[0]["final_price"] == tariff.price - tariff.price * 10 // 100
    paged = await client.get(f"{API}/purchases?limit=1&offset=1", headers=bearer(user))
    assert [p["purchase_id"] for p in paged.json()] == [str(first.purchase_id)]


async def test_operator_detail_counts_uses_and_failures_by_reason(side, client, operator):
    user = await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=4)
    await w.reserve(user, promo, tariff)
    await w.reject(user, promo, "user_limit_reached", promo.code)
    await w.reject(user, promo, "tariff_not_eligible", promo.code)
    await w.reject(user, promo, "tariff_not_eligible", promo.code)
    await side.settle()
    response = await client.get(f"{API}/promocodes/{promo.id}", headers=operator)
    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["uses"], body["uses_left_total"]) == (promo.code, 1, 3)
    assert body["failures"] == {"tariff_not_eligible": 2, "user_limit_reached": 1}
    assert body["failures_total"] == 3


async def test_unknown_code_id_is_a_404_and_a_bad_one_a_422(side, client, operator):
    missing = await client.get(f"{API}/promocodes/2000000000", headers=operator)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "promocode_not_found"
    bad = await client.get(f"{API}/promocodes/abc", headers=operator)
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"


async def test_operator_list_filters_by_batch_activity_and_code(side, client, operator):
    batch_id = (await create_batch(4)).batch_id
    await side.settle()
    page = (await client.get(f"{API}/promocodes?batch_id={batch_id}", headers=operator)).json()
    assert len(page["items"]) == 4 and page["has_more"] is False
    disabled = page["items"][0]
    await w.update_code(disabled["id"], is_active=False)
    await side.settle()

    inactive = await client.get(
        f"{API}/promocodes?batch_id={batch_id}&is_active=false", headers=operator
    )
    assert [c["id"] for c in inactive.json()["items"]] == [disabled["id"]]
    active = await client.get(
        f"{API}/promocodes?batch_id={batch_id}&is_active=true&limit=2", headers=operator
    )
    assert len(active.json()["items"]) == 2 and active.json()["has_more"] is True
    by_code = await client.get(
        f"{API}/promocodes?code={disabled['code'].lower()}", headers=operator
    )
    assert [c["id"] for c in by_code.json()["items"]] == [disabled["id"]]
    newest_first = (await client.get(f"{API}/promocodes?limit=5", headers=operator)).json()
    ids = [c["id"] for c in newest_first["items"]]
    assert ids == sorted(ids, reverse=True)


async def test_batch_csv_lists_every_code_of_the_batch(side, client, operator):
    batch_id = (await create_batch(7, discount_type="percent", value=15)).batch_id
    response = await client.get(f"{API}/promocodes/batches/{batch_id}.csv", headers=operator)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 7
    assert {r["discount_type"] for r in rows} == {"percent"}
    assert len({r["code"] for r in rows}) == 7

    missing = await client.get(f"{API}/promocodes/batches/{uuid.uuid4()}.csv", headers=operator)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "batch_not_found"


async def test_attempts_are_filtered_and_newest_first(client, operator):
    user, other = await create_loyalty_user(), await create_loyalty_user()
    promo = await create_promocode()
    first = await w.reject(user, promo, "promocode_expired", promo.code.lower())
    second = await w.reject(user, promo, "user_limit_reached", promo.code)
    await w.reject(other, promo, "promocode_expired", promo.code)
    typo = await w.reject(user, None, "promocode_not_found", "NOPE-" + promo.code)

    mine = await client.get(f"{API}/attempts?user_id={user}", headers=operator)
    assert [a["id"] for a in mine.json()] == [typo, second, first]
    by_code = await client.get(
        f"{API}/attempts?promocode={promo.code.lower()}&user_id={user}", headers=operator
    )
    assert [a["id"] for a in by_code.json()] == [second, first]
    by_reason = await client.get(
        f"{API}/attempts?user_id={user}&reason=promocode_expired", headers=operator
    )
    assert [(a["id"], a["code"]) for a in by_reason.json()] == [(first, promo.code.lower())]
    since = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    later = await client.get(f"{API}/attempts", params={"since": since}, headers=operator)
    assert later.json() == []
    limited = await client.get(f"{API}/attempts?user_id={user}&limit=1", headers=operator)
    assert [a["id"] for a in limited.json()] == [typo]


async def test_the_read_side_connection_cannot_write(side):
    with pytest.raises(DBAPIError, match="read-only"):
        async with read_only(side.engine) as conn:
            await conn.execute(text("UPDATE promocodes SET uses = uses WHERE id = -1"))


async def test_bad_query_parameters_are_a_422(client, operator):
    for query in ("limit=0", "limit=100000", "offset=-1", "batch_id=nope", "is_active=maybe"):
        response = await client.get(f"{API}/promocodes?{query}", headers=operator)
        assert response.status_code == 422, query
        assert response.json()["error"]["code"] == "validation_error"
    response = await client.get(f"{API}/attempts?user_id=nope", headers=operator)
    assert response.status_code == 422
