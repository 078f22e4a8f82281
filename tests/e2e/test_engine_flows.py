"""The promo-code engine end to end: command_api and workers as real processes."""

import json

import httpx

from tests.support.db import sql
from tests.support.factories import bearer, create_loyalty_user, create_promocode, create_tariff
from tests.support.polling import eventually

API = "/api/v1/loyalty"


async def use_new_code(client: httpx.AsyncClient, **code_fields) -> tuple[str, int, dict]:
    """A buyer's use of a new code over HTTP: (purchase id, promo code id, buyer's headers)."""
    tariff = await create_tariff()
    promo = await create_promocode(**code_fields)
    buyer = bearer(await create_loyalty_user())
    used = await client.post(
        f"{API}/use_promocode",
        json={"promocode": promo.code, "tariff_id": tariff.id},
        headers=buyer,
    )
    assert used.status_code == 201, used.text
    return used.json()["purchase_id"], promo.id, buyer


async def test_an_unconfirmed_reservation_is_reaped_and_its_use_comes_back(platform):
    async with httpx.AsyncClient(base_url=platform.urls["command_api"]) as client:
        purchase_id, promocode_id, _ = await use_new_code(client, max_uses=1)
    await sql(
        "UPDATE purchases SET expires_at = now() - interval '1 second' WHERE id = :i",
        i=purchase_id,
    )

    async def reaped():
        [row] = await sql(
            "SELECT status, cancel_reason FROM purchases WHERE id = :i", i=purchase_id
        )
        return row if row["status"] == "cancelled" else None

    row = await eventually(reaped)
    assert row == {"status": "cancelled", "cancel_reason": "reservation_expired"}
    [code] = await sql("SELECT uses FROM promocodes WHERE id = :p", p=promocode_id)
    assert code["uses"] == 0


async def test_purchase_events_reach_the_stream(platform, redis):
    async with httpx.AsyncClient(base_url=platform.urls["command_api"]) as client:
        purchase_id, _, buyer = await use_new_code(client, max_uses=3)
        paid = await client.post(
            f"{API}/confirm_purchase", json={"purchase_id": purchase_id}, headers=buyer
        )
    assert paid.status_code == 200

    async def published():
        entries = await redis.xrevrange("loyalty.events", count=2000)
        types = [f["type"] for _id, f in entries if f["aggregate_id"] == purchase_id]
        return types if len(types) == 2 else None

    types = await eventually(published)
    assert sorted(types) == ["purchase.paid", "purchase.reserved"]
    entries = await redis.xrevrange("loyalty.events", count=2000)
    [reserved] = [
        json.loads(f["payload"])
        for _id, f in entries
        if f["aggregate_id"] == purchase_id and f["type"] == "purchase.reserved"
    ]
    assert reserved["promocode_uses"] == 1 and reserved["promocode_version"] == 2
