"""Buyer commands: quote, reserve a use, confirm the payment, cancel it; and the reaper's expiry.

Each command: `async with uow:` → snapshot read → rules → conditional updates → events →
commit. A rejected code is logged (and its `promocode.rejected` emitted) in a transaction of
its own after the main one rolled back, then the error is raised.
"""

import uuid
from datetime import datetime, timedelta
from typing import NoReturn

from core.errors import AppError, Conflict, NotFound, TooManyAttempts, error_body
from core.outbox import UnitOfWork
from core.streams import LOYALTY_EVENTS
from loyalty import events, idempotency, ratelimit, rules
from loyalty.handlers.context import Context, default_context, utcnow
from loyalty.handlers.views import promocode_facts, purchase_out, tariff_facts
from loyalty.models import Promocode, Purchase, PurchaseStatus, Tariff
from loyalty.repository import LoyaltyRepository
from loyalty.rules import Reason
from loyalty.schemas import CancelRequest, PromocodeRequest, PurchaseOut, PurchaseRequest, QuoteOut

APPLY = "apply_promocode"
USE = "use_promocode"
CONFIRM = "confirm_purchase"
CANCEL = "cancel_use_promocode"
RESERVATION_EXPIRED = "reservation_expired"
DEFAULT_CANCEL_REASON = "payment_failed"


class Rejected(Exception):
    def __init__(self, reason: Reason, promocode_id: int | None = None) -> None:
        self.reason = reason
        self.promocode_id = promocode_id
        super().__init__(reason)


def rejection_error(reason: Reason, retry_after: int | None = None) -> AppError:
    """The error the buyer sees: `promocode_not_assigned` is answered as `promocode_not_found`."""
    public = rules.public_reason(reason)
    if reason is Reason.too_many_attempts:
        return TooManyAttempts(
            message=rules.REASON_MESSAGE[reason],
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
    return AppError(
        public.value, rules.REASON_MESSAGE[public], status_code=rules.REASON_STATUS[public]
    )


def _error_json(error: AppError) -> dict:
    return error_body(error.code, error.message, error.details)


# ---- rejections ------------------------------------------------------------------------------


async def _reject(
    ctx: Context,
    rejected: Rejected,
    *,
    user_id: uuid.UUID,
    data: PromocodeRequest,
    endpoint: str,
    claim: idempotency.Claim | None = None,
    retry_after: int | None = None,
) -> NoReturn:
    error = rejection_error(rejected.reason, retry_after)
    async with ctx.uow() as uow:
        attempt = await LoyaltyRepository(uow.session).insert_attempt(
            {
                "user_id": user_id,
                "code": data.promocode[:200],
                "promocode_id": rejected.promocode_id,
                "tariff_id": data.tariff_id,
                "reason": rejected.reason.value,
                "endpoint": endpoint,
                "created_at": utcnow(),
            }
        )
        uow.emit(
            LOYALTY_EVENTS,
            events.PROMOCODE_REJECTED,
            attempt.id,
            {
                "attempt_id": attempt.id,
                "user_id": attempt.user_id,
                "code": attempt.code,
                "promocode_id": attempt.promocode_id,
                "tariff_id": attempt.tariff_id,
                "reason": attempt.reason,
                "endpoint": attempt.endpoint,
                "created_at": attempt.created_at,
            },
        )
        # A 429 is not stored: replaying it for 24 hours would lock the key out for good.
        if claim is not None and rejected.reason is not Reason.too_many_attempts:
            await idempotency.record(uow.session, claim, error.status_code, _error_json(error))
        await uow.commit()
    if rejected.reason is not Reason.too_many_attempts:
        await ratelimit.note_failure(ctx.redis, user_id)
    raise error


async def _refuse_when_too_many(
    ctx: Context, user_id: uuid.UUID, data: PromocodeRequest, endpoint: str
) -> None:
    wait = await ratelimit.retry_after(ctx.redis, user_id, ctx.settings.failed_attempts_per_minute)
    if wait is not None:
        await _reject(
            ctx,
            Rejected(Reason.too_many_attempts),
            user_id=user_id,
            data=data,
            endpoint=endpoint,
            retry_after=wait,
        )


async def _checked(
    repo: LoyaltyRepository, user_id: uuid.UUID, data: PromocodeRequest, now: datetime
) -> tuple[Promocode, Tariff]:
    """The code and tariff when the rules allow the use (snapshot read), else `Rejected`."""
    seen = await repo.use_snapshot(user_id, rules.normalise_code(data.promocode), data.tariff_id)
    promo, tariff = seen.promocode, seen.tariff
    reason = rules.rejection_reason(
        tariff=tariff_facts(tariff),
        promocode=promocode_facts(promo),
        assigned_to_user=seen.assigned_to_user,
        user_status=seen.user_status,
        user_uses=seen.user_uses,
        now=now,
    )
    if reason is not None:
        raise Rejected(reason, promo.id if promo else None)
    return promo, tariff


# ---- quote and use ---------------------------------------------------------------------------


async def apply_promocode(
    data: PromocodeRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> QuoteOut:
    """A quote: what the tariff costs with this code. Changes nothing but the attempts log."""
    ctx = ctx or default_context()
    await _refuse_when_too_many(ctx, actor_id, data, APPLY)
    try:
        async with ctx.uow() as uow:
            promo, tariff = await _checked(LoyaltyRepository(uow.session), actor_id, data, utcnow())
    except Rejected as rejected:
        await _reject(ctx, rejected, user_id=actor_id, data=data, endpoint=APPLY)
    quote = rules.price(promo.discount_type, promo.value, tariff.price)
    return QuoteOut(
        promocode=promo.code,
        tariff_id=tariff.id,
        base_price=quote.base_price,
        discount=quote.discount,
        final_price=quote.final_price,
        currency=tariff.currency,
        discount_type=quote.discount_type,
        trial_days=quote.trial_days,
        valid_until=promo.valid_until,
    )


async def take_use(
    uow: UnitOfWork,
    repo: LoyaltyRepository,
    *,
    promo: Promocode,
    tariff: Tariff,
    user_id: uuid.UUID,
    now: datetime,
    status: PurchaseStatus,
    source: str,
    expires_at: datetime | None,
) -> Purchase:
    """Takes the user's use, records the purchase, then takes the code's use (conditional
    updates, in this order on every path so locks are always taken alike), and emits."""
    user_uses = await repo.take_user_use(promo.id, user_id, promo.per_user_limit)
    if user_uses is None:
        raise Rejected(Reason.user_limit_reached, promo.id)
    quote = rules.price(promo.discount_type, promo.value, tariff.price)
    purchase = await repo.insert_purchase(
        {
            "id": uuid.uuid4(),
            "user_id": user_id,
            "tariff_id": tariff.id,
            "promocode_id": promo.id,
            "code": promo.code,
            "status": status.value,
            "base_price": quote.base_price,
            "discount": quote.discount,
            "final_price": quote.final_price,
            "currency": tariff.currency,
            "discount_type": quote.discount_type,
            "trial_days": quote.trial_days,
            "source": source,
            "created_at": now,
            "expires_at": expires_at,
            "paid_at": now if status is PurchaseStatus.paid else None,
        }
    )
    # The code's row is the hot one (every buyer of the code queues on it): take it last,
    # so its lock is held only for the outbox insert and the commit.
    taken = await repo.take_global_use(promo.id)
    if taken is None:
        raise Rejected(Reason.promocode_exhausted, promo.id)
    promocode_uses, version = taken
    event_type = events.PURCHASE_PAID if status is PurchaseStatus.paid else events.PURCHASE_RESERVED
    uow.emit(
        LOYALTY_EVENTS,
        event_type,
        purchase.id,
        events.purchase_payload(
            purchase,
            promocode_uses=promocode_uses,
            user_uses=user_uses,
            promocode_version=version,
        ),
    )
    return purchase


async def use_promocode(
    data: PromocodeRequest,
    *,
    actor_id: uuid.UUID,
    claim: idempotency.Claim | None = None,
    ctx: Context | None = None,
) -> PurchaseOut:
    """Reserves one use of the code and creates a pending purchase (until RESERVATION_TTL)."""
    ctx = ctx or default_context()
    await _refuse_when_too_many(ctx, actor_id, data, USE)
    now = utcnow()
    try:
        async with ctx.uow() as uow:
            repo = LoyaltyRepository(uow.session)
            promo, tariff = await _checked(repo, actor_id, data, now)
            purchase = await take_use(
                uow,
                repo,
                promo=promo,
                tariff=tariff,
                user_id=actor_id,
                now=now,
                status=PurchaseStatus.pending,
                source="user",
                expires_at=now + timedelta(seconds=ctx.settings.reservation_ttl_seconds),
            )
            out = purchase_out(purchase)
            if claim is not None:
                await idempotency.record(uow.session, claim, 201, out.model_dump(mode="json"))
            await uow.commit()
            return out
    except Rejected as rejected:
        await _reject(ctx, rejected, user_id=actor_id, data=data, endpoint=USE, claim=claim)


# ---- confirm and cancel ----------------------------------------------------------------------


async def _own_purchase(
    repo: LoyaltyRepository, purchase_id: uuid.UUID, user_id: uuid.UUID
) -> Purchase:
    purchase = await repo.purchase(purchase_id)
    if purchase is None or purchase.user_id != user_id:
        raise NotFound("purchase_not_found", "No such purchase")
    return purchase


async def _cancel(
    uow: UnitOfWork, repo: LoyaltyRepository, purchase: Purchase, now: datetime, reason: str
) -> Purchase | None:
    """pending → cancelled and the use given back, exactly once; None when not pending."""
    cancelled = await repo.mark_cancelled(purchase.id, now, reason)
    if cancelled is None:
        return None
    counters = None
    if cancelled.promocode_id is not None:
        counters = await repo.give_back_use(cancelled.promocode_id, cancelled.user_id)
    uow.emit(
        LOYALTY_EVENTS,
        events.PURCHASE_CANCELLED,
        cancelled.id,
        events.purchase_payload(
            cancelled,
            promocode_uses=counters.promocode_uses if counters else None,
            user_uses=counters.user_uses if counters else None,
            promocode_version=counters.promocode_version if counters else None,
        ),
    )
    return cancelled


def _expired_error() -> Conflict:
    return Conflict(
        RESERVATION_EXPIRED,
        "The reservation expired before the payment was confirmed; the use was given back",
    )


async def _answer(
    uow: UnitOfWork, claim: idempotency.Claim | None, purchase: Purchase, status_code: int = 200
) -> PurchaseOut:
    out = purchase_out(purchase)
    if claim is not None:
        await idempotency.record(uow.session, claim, status_code, out.model_dump(mode="json"))
    await uow.commit()
    return out


async def confirm_purchase(
    data: PurchaseRequest,
    *,
    actor_id: uuid.UUID,
    claim: idempotency.Claim | None = None,
    ctx: Context | None = None,
) -> PurchaseOut:
    """The payment succeeded: pending → paid. Confirming a paid purchase again answers the same.

    A reservation past `expires_at` is cancelled instead (use given back) and answered with
    409 `reservation_expired`; a cancelled purchase cannot be paid (409 `purchase_cancelled`).
    """
    ctx = ctx or default_context()
    now = utcnow()
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        purchase = await _own_purchase(repo, data.purchase_id, actor_id)
        if purchase.status == PurchaseStatus.pending:
            if purchase.expires_at is not None and purchase.expires_at <= now:
                if await _cancel(uow, repo, purchase, now, RESERVATION_EXPIRED) is not None:
                    error = _expired_error()
                    if claim is not None:
                        await idempotency.record(uow.session, claim, 409, _error_json(error))
                    await uow.commit()
                    raise error
            else:
                paid = await repo.mark_paid(purchase.id, now)
                if paid is not None:
                    if paid.promocode_id is not None:
                        counters = await repo.current_counters(paid.promocode_id, paid.user_id)
                        payload = events.purchase_payload(
                            paid,
                            promocode_uses=counters.promocode_uses,
                            user_uses=counters.user_uses,
                            promocode_version=counters.promocode_version,
                        )
                    else:
                        payload = events.purchase_payload(paid)
                    uow.emit(LOYALTY_EVENTS, events.PURCHASE_PAID, paid.id, payload)
                    return await _answer(uow, claim, paid)
            # A concurrent cancel or confirm settled it first: answer from what it became.
            purchase = await repo.purchase(purchase.id)
        if purchase.status == PurchaseStatus.paid:
            return await _answer(uow, claim, purchase)
        if purchase.cancel_reason == RESERVATION_EXPIRED:
            raise _expired_error()
        raise Conflict("purchase_cancelled", "This purchase was cancelled and cannot be paid")


async def cancel_use_promocode(
    data: CancelRequest,
    *,
    actor_id: uuid.UUID,
    claim: idempotency.Claim | None = None,
    ctx: Context | None = None,
) -> PurchaseOut:
    """The payment failed: pending → cancelled and the reserved use goes back, exactly once.

    Cancelling a cancelled purchase answers its state again and gives back nothing; a paid
    purchase cannot be cancelled (409 `purchase_not_cancellable`).
    """
    ctx = ctx or default_context()
    now = utcnow()
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        purchase = await _own_purchase(repo, data.purchase_id, actor_id)
        if purchase.status == PurchaseStatus.pending:
            reason = data.reason or DEFAULT_CANCEL_REASON
            cancelled = await _cancel(uow, repo, purchase, now, reason)
            if cancelled is not None:
                return await _answer(uow, claim, cancelled)
            purchase = await repo.purchase(purchase.id)
        if purchase.status == PurchaseStatus.cancelled:
            return await _answer(uow, claim, purchase)
        raise Conflict("purchase_not_cancellable", "A paid purchase cannot be cancelled")


# ---- the reaper ------------------------------------------------------------------------------


async def expire_reservation(purchase_id: uuid.UUID, *, ctx: Context | None = None) -> bool:
    """Cancels one reservation past its `expires_at` (reason `reservation_expired`).
    False when it was settled meanwhile."""
    ctx = ctx or default_context()
    now = utcnow()
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        purchase = await repo.purchase(purchase_id)
        if (
            purchase is None
            or purchase.status != PurchaseStatus.pending
            or purchase.expires_at is None
            or purchase.expires_at > now
        ):
            return False
        if await _cancel(uow, repo, purchase, now, RESERVATION_EXPIRED) is None:
            return False
        await uow.commit()
        return True


async def expire_reservations(*, ctx: Context | None = None, limit: int = 500) -> int:
    """Cancels up to `limit` expired reservations; returns how many it cancelled."""
    ctx = ctx or default_context()
    async with ctx.sessionmaker() as session:
        due = await LoyaltyRepository(session).expired_reservations(utcnow(), limit)
    expired = 0
    for purchase_id in due:
        expired += await expire_reservation(purchase_id, ctx=ctx)
    return expired
