"""Quote, reserve, confirm, cancel and expiry through the real handlers and Postgres."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import AppError
from loyalty import handlers
from loyalty.schemas import CancelRequest, PurchaseRequest
from tests.support.db import events_for, sql
from tests.support.factories import create_loyalty_user, create_promocode, create_tariff, request


async def counters(promocode_id: int, user_id: uuid.UUID) -> tuple[int, int, int]:
    code = (await sql("SELECT uses, version FROM promocodes WHERE id = :i", i=promocode_id))[0]
    user = await sql(
        "SELECT uses FROM promocode_user_uses WHERE promocode_id = :p AND user_id = :u",
        p=promocode_id,
        u=user_id,
    )
    return code["uses"], code["version"], user[0]["uses"] if user else 0


async def test_quote_prices_the_tariff_and_changes_nothing():
    tariff = await create_tariff(price=39_900)
    promo = await create_promocode(discount_type="percent", value=15, max_uses=5)
    user = await create_loyalty_user()
    quote = await handlers.apply_promocode(request(promo.code.lower(), tariff.id), actor_id=user)
    assert (quote.base_price, quote.discount, quote.final_price) == (39_900, 5_985, 33_915)
    assert quote.promocode == promo.code and quote.currency == "RUB"
    assert quote.valid_until == promo.valid_until
    assert await counters(promo.id, user) == (0, 1, 0)
    assert await sql("SELECT 1 FROM purchases WHERE user_id = :u", u=user) == []


async def test_use_reserves_one_use_and_publishes_the_counters():
    tariff = await create_tariff(price=10_000)
    promo = await create_promocode(discount_type="amount", value=2_500, max_uses=3)
    user = await create_loyalty_user()
    purchase = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    assert purchase.status == "pending"
    assert (purchase.base_price, purchase.discount, purchase.final_price) == (10_000, 2_500, 7_500)
    assert purchase.expires_at > datetime.now(UTC) + timedelta(minutes=14)
    assert await counters(promo.id, user) == (1, 2, 1)
    [reserved] = await events_for(purchase.purchase_id, "purchase.reserved")
    payload = reserved["payload"]
    assert payload["promocode_uses"] == 1 and payload["user_uses"] == 1
    assert payload["promocode_version"] == 2 and payload["status"] == "pending"


async def test_confirm_pays_once_and_keeps_the_counters():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=3)
    user = await create_loyalty_user()
    purchase = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    paid = await handlers.confirm_purchase(
        PurchaseRequest(purchase_id=purchase.purchase_id), actor_id=user
    )
    again = await handlers.confirm_purchase(
        PurchaseRequest(purchase_id=purchase.purchase_id), actor_id=user
    )
    assert paid.status == "paid" and paid.paid_at is not None
    assert again == paid
    assert await counters(promo.id, user) == (1, 2, 1)
    [event] = await events_for(purchase.purchase_id, "purchase.paid")
    assert event["payload"]["promocode_version"] == 2
    assert event["payload"]["promocode_uses"] == 1 and event["payload"]["user_uses"] == 1


async def test_cancel_gives_back_exactly_one_use_once_and_the_code_can_be_used_again():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=1, per_user_limit=1)
    user = await create_loyalty_user()
    purchase = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    body = CancelRequest(purchase_id=purchase.purchase_id, reason="card_declined")
    cancelled = await handlers.cancel_use_promocode(body, actor_id=user)
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "card_declined"
    assert await counters(promo.id, user) == (0, 3, 0)
    replay = await handlers.cancel_use_promocode(body, actor_id=user)
    assert replay == cancelled
    assert await counters(promo.id, user) == (0, 3, 0), "a second cancel gives nothing back"
    [event] = await events_for(purchase.purchase_id, "purchase.cancelled")
    assert event["payload"]["promocode_uses"] == 0 and event["payload"]["promocode_version"] == 3

    again = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    assert again.status == "pending" and again.purchase_id != purchase.purchase_id
    assert await counters(promo.id, user) == (1, 4, 1)


SETTLE = {
    "paid": lambda purchase_id, user: handlers.confirm_purchase(
        PurchaseRequest(purchase_id=purchase_id), actor_id=user
    ),
    "cancelled": lambda purchase_id, user: handlers.cancel_use_promocode(
        CancelRequest(purchase_id=purchase_id), actor_id=user
    ),
}


@pytest.mark.parametrize(
    ("settled", "then", "refusal", "counters_after"),
    [
        ("paid", "cancelled", "purchase_not_cancellable", (1, 2, 1)),
        ("cancelled", "paid", "purchase_cancelled", (0, 3, 0)),
    ],
)
async def test_a_settled_purchase_cannot_be_settled_the_other_way(
    settled, then, refusal, counters_after
):
    tariff = await create_tariff()
    promo = await create_promocode()
    user = await create_loyalty_user()
    purchase = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    await SETTLE[settled](purchase.purchase_id, user)
    with pytest.raises(AppError) as refused:
        await SETTLE[then](purchase.purchase_id, user)
    assert (refused.value.code, refused.value.status_code) == (refusal, 409)
    assert await counters(promo.id, user) == counters_after


async def test_someone_elses_purchase_is_not_found():
    tariff = await create_tariff()
    promo = await create_promocode()
    owner, other = await create_loyalty_user(), await create_loyalty_user()
    purchase = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=owner)
    for call, body in [
        (handlers.confirm_purchase, PurchaseRequest(purchase_id=purchase.purchase_id)),
        (handlers.cancel_use_promocode, CancelRequest(purchase_id=purchase.purchase_id)),
        (handlers.confirm_purchase, PurchaseRequest(purchase_id=uuid.uuid4())),
    ]:
        with pytest.raises(AppError) as refused:
            await call(body, actor_id=other)
        assert (refused.value.code, refused.value.status_code) == ("purchase_not_found", 404)
    assert await counters(promo.id, owner) == (1, 2, 1)


async def expire(purchase_id: uuid.UUID) -> None:
    """Expired before any other reservation in the database, so the reaper, which takes the
    oldest first, reaches it whatever other tests and benchmarks left pending."""
    await sql(
        "UPDATE purchases SET expires_at = '2001-01-01T00:00:00Z' WHERE id = :i",
        i=purchase_id,
    )


async def test_confirming_an_expired_reservation_cancels_it_and_gives_the_use_back():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=1)
    user = await create_loyalty_user()
    purchase = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    await expire(purchase.purchase_id)
    for _ in range(2):  # the answer stays the same afterwards
        with pytest.raises(AppError) as refused:
            await handlers.confirm_purchase(
                PurchaseRequest(purchase_id=purchase.purchase_id), actor_id=user
            )
        assert (refused.value.code, refused.value.status_code) == ("reservation_expired", 409)
    [row] = await sql(
        "SELECT status, cancel_reason FROM purchases WHERE id = :i", i=purchase.purchase_id
    )
    assert row == {"status": "cancelled", "cancel_reason": "reservation_expired"}
    assert (await counters(promo.id, user))[0] == 0


async def test_the_reaper_cancels_expired_reservations_only():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=10, per_user_limit=None)
    user = await create_loyalty_user()
    stale = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    fresh = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    await expire(stale.purchase_id)
    assert await handlers.expire_reservations() >= 1
    rows = {
        r["id"]: r
        for r in await sql(
            "SELECT id, status, cancel_reason FROM purchases WHERE user_id = :u", u=user
        )
    }
    assert rows[stale.purchase_id]["status"] == "cancelled"
    assert rows[stale.purchase_id]["cancel_reason"] == "reservation_expired"
    assert rows[fresh.purchase_id]["status"] == "pending"
    assert await counters(promo.id, user) == (1, 4, 1)
    [event] = await events_for(stale.purchase_id, "purchase.cancelled")
    assert event["payload"]["cancel_reason"] == "reservation_expired"
    assert await handlers.expire_reservation(stale.purchase_id) is False


async def test_trial_and_fixed_price_purchases():
    tariff = await create_tariff(price=399_000)
    trial = await create_promocode(discount_type="trial", value=30)
    fixed = await create_promocode(discount_type="fixed_price", value=199_000)
    user = await create_loyalty_user()
    a = await handlers.use_promocode(request(trial.code, tariff.id), actor_id=user)
    b = await handlers.use_promocode(request(fixed.code, tariff.id), actor_id=user)
    assert (a.final_price, a.trial_days, a.discount_type) == (0, 30, "trial")
    assert (b.final_price, b.discount) == (199_000, 200_000)
