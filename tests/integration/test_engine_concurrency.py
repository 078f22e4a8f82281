"""The limits hold under concurrency because Postgres takes them, not Python."""

import asyncio

import pytest

from core.errors import AppError
from loyalty import handlers
from loyalty.schemas import CancelRequest, PurchaseRequest
from tests.support.db import sql
from tests.support.factories import (
    create_loyalty_user,
    create_loyalty_users,
    create_promocode,
    create_tariff,
    request,
)


async def outcomes(calls) -> tuple[list, list[str]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, AppError)]
    assert not unexpected, unexpected[:3]
    won = [r for r in results if not isinstance(r, Exception)]
    lost = [r.code for r in results if isinstance(r, AppError)]
    return won, lost


@pytest.mark.parametrize("round_", range(5))
async def test_200_buyers_at_once_leave_exactly_50_purchases(round_):
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=50, per_user_limit=1)
    buyers = await create_loyalty_users(200)
    won, lost = await outcomes(
        handlers.use_promocode(request(promo.code, tariff.id), actor_id=b) for b in buyers
    )
    assert len(won) == 50
    assert lost == ["promocode_exhausted"] * 150
    [row] = await sql(
        "SELECT count(*) AS purchases FROM purchases WHERE promocode_id = :p", p=promo.id
    )
    assert row["purchases"] == 50
    [code] = await sql("SELECT uses FROM promocodes WHERE id = :p", p=promo.id)
    assert code["uses"] == 50


async def test_one_user_firing_20_parallel_uses_of_a_once_per_user_code_gets_one():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=100, per_user_limit=1)
    user = await create_loyalty_user()
    won, lost = await outcomes(
        handlers.use_promocode(request(promo.code, tariff.id), actor_id=user) for _ in range(20)
    )
    assert len(won) == 1
    assert lost == ["user_limit_reached"] * 19
    [row] = await sql(
        "SELECT count(*) AS n FROM purchases WHERE promocode_id = :p AND user_id = :u",
        p=promo.id,
        u=user,
    )
    assert row["n"] == 1


async def test_a_per_user_limit_of_3_holds_under_parallel_uses():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=None, per_user_limit=3)
    user = await create_loyalty_user()
    won, lost = await outcomes(
        handlers.use_promocode(request(promo.code, tariff.id), actor_id=user) for _ in range(15)
    )
    assert len(won) == 3 and len(lost) == 12


async def test_concurrent_confirm_and_cancel_end_in_exactly_one():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=None, per_user_limit=None)
    user = await create_loyalty_user()
    for _ in range(20):
        purchase = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
        confirm = handlers.confirm_purchase(
            PurchaseRequest(purchase_id=purchase.purchase_id), actor_id=user
        )
        cancel = handlers.cancel_use_promocode(
            CancelRequest(purchase_id=purchase.purchase_id), actor_id=user
        )
        confirmed, cancelled = await asyncio.gather(confirm, cancel, return_exceptions=True)
        [row] = await sql("SELECT status FROM purchases WHERE id = :i", i=purchase.purchase_id)
        if row["status"] == "paid":
            assert confirmed.status == "paid"
            assert cancelled.code == "purchase_not_cancellable"
        else:
            assert row["status"] == "cancelled"
            assert cancelled.status == "cancelled"
            assert confirmed.code == "purchase_cancelled"
    # Counters: one use per paid purchase, none for the cancelled ones.
    [counts] = await sql(
        "SELECT count(*) FILTER (WHERE status = 'paid') AS paid FROM purchases "
        "WHERE promocode_id = :p",
        p=promo.id,
    )
    [code] = await sql("SELECT uses FROM promocodes WHERE id = :p", p=promo.id)
    [mine] = await sql(
        "SELECT uses FROM promocode_user_uses WHERE promocode_id = :p AND user_id = :u",
        p=promo.id,
        u=user,
    )
    assert code["uses"] == mine["uses"] == counts["paid"]


async def test_parallel_cancels_give_back_one_use():
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=5)
    user = await create_loyalty_user()
    purchase = await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
    body = CancelRequest(purchase_id=purchase.purchase_id)
    won, lost = await outcomes(
        handlers.cancel_use_promocode(body, actor_id=user) for _ in range(10)
    )
    assert len(won) == 10 and not lost
    [code] = await sql("SELECT uses FROM promocodes WHERE id = :p", p=promo.id)
    assert code["uses"] == 0
    events = await sql(
        "SELECT count(*) AS n FROM outbox WHERE aggregate_id = :a AND type = 'purchase.cancelled'",
        a=str(purchase.purchase_id),
    )
    assert events[0]["n"] == 1
