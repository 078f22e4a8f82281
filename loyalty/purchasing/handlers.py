"""Buyer commands: quote, reserve a use, confirm the payment, cancel it; and the reaper's expiry.

A quote and a use run on a bare connection (`ctx.uses()`): the snapshot read → the rules →
the use taken in one statement with its purchase and events, all or nothing. Confirm, cancel
and the reaper likewise: the purchase read → what it may become → settled in one statement
with its event, only from pending. A rejected code is logged (and its `promocode.rejected`
emitted) in a transaction of its own after the attempt wrote nothing, then the error is
raised.
"""

import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import NoReturn

from core.errors import AppError, TooManyAttempts
from loyalty.catalog import generator
from loyalty.context import Context, LoyaltyUnitOfWork, default_context, loyalty_event
from loyalty.domain import errors, events, rules
from loyalty.domain.enums import PurchaseSource, PurchaseStatus
from loyalty.domain.events import Counters
from loyalty.models import Promocode, Purchase, Tariff, utcnow
from loyalty.purchasing import ratelimit
from loyalty.purchasing.idempotency import Claim
from loyalty.purchasing.repository import UseStatements, settlement
from loyalty.schemas import CancelRequest, PromocodeRequest, PurchaseOut, PurchaseRequest, QuoteOut

APPLY = "apply_promocode"
USE = "use_promocode"
CONFIRM = "confirm_purchase"
CANCEL = "cancel_use_promocode"
RESERVATION_EXPIRED = errors.ReservationExpired.code
DEFAULT_CANCEL_REASON = "payment_failed"


class Rejected(Exception):
    """The rules refused the code: why, and which code (None when there is no such code)."""

    def __init__(self, reason: type[errors.Rejection], promocode_id: int | None = None) -> None:
        self.reason = reason
        self.promocode_id = promocode_id
        super().__init__(reason.code)


# ---- rejections ------------------------------------------------------------------------------


async def log_rejection(
    uow: LoyaltyUnitOfWork,
    reason: type[AppError],
    *,
    user_id: uuid.UUID,
    data: PromocodeRequest,
    promocode_id: int | None,
    endpoint: str,
) -> None:
    """One row in the attempts log and its `promocode.rejected` event, in the caller's uow."""
    attempt = await uow.attempts.add(
        {
            "user_id": user_id,
            "code": data.promocode[:200],
            "promocode_id": promocode_id,
            "tariff_id": data.tariff_id,
            "reason": reason.code,
            "endpoint": endpoint,
            "created_at": utcnow(),
        }
    )
    uow.add_event(events.PROMOCODE_REJECTED, attempt.id, events.rejection_payload(attempt))


async def _reject(
    ctx: Context,
    rejected: Rejected,
    *,
    user_id: uuid.UUID,
    data: PromocodeRequest,
    endpoint: str,
) -> NoReturn:
    error = rejected.reason.shown_as()()
    async with ctx.uow() as uow:
        await log_rejection(
            uow,
            rejected.reason,
            user_id=user_id,
            data=data,
            promocode_id=rejected.promocode_id,
            endpoint=endpoint,
        )
        await uow.idempotency.record_error(ctx.claim, error)
        await uow.commit()
    await ratelimit.note_failure(
        ctx.redis, ctx.settings, user_id, ctx.client_address, rejected.reason
    )
    raise error


async def _refuse_when_too_many(
    ctx: Context, user_id: uuid.UUID, data: PromocodeRequest, endpoint: str
) -> None:
    """429 once the user (or their address) failed too often (`ratelimit`); logged, but not
    stored for an Idempotency-Key (replaying it for 24 hours would lock the key out for good)."""
    wait = await ratelimit.retry_after(ctx.redis, ctx.settings, user_id, ctx.client_address)
    if wait is None:
        return
    async with ctx.uow() as uow:
        await log_rejection(
            uow, TooManyAttempts, user_id=user_id, data=data, promocode_id=None, endpoint=endpoint
        )
        await uow.commit()
    raise TooManyAttempts(wait)


async def _checked(
    uses: UseStatements, ctx: Context, user_id: uuid.UUID, data: PromocodeRequest, now: datetime
) -> tuple[Promocode, Tariff]:
    """The code and tariff when the rules allow the use (snapshot read), else `Rejected`."""
    code = rules.normalise_code(data.promocode)
    seen = await uses.snapshot(user_id, code, data.tariff_id)
    promo = seen.promocode
    mistyped = promo is None and generator.is_mistyped(code, await _shapes_like(ctx, code))
    reason = rules.rejection(seen, now, mistyped=mistyped)
    if reason is not None:
        raise Rejected(reason, promo.id if promo else None)
    return promo, seen.tariff


async def _shapes_like(ctx: Context, code: str) -> list[generator.CodeShape]:
    async with ctx.uow() as uow:
        return await uow.batches.shapes_like(code)


# ---- quote and use ---------------------------------------------------------------------------


async def apply_promocode(
    data: PromocodeRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> QuoteOut:
    """A quote: what the tariff costs with this code. Changes nothing but the attempts log."""
    ctx = ctx or default_context()
    await _refuse_when_too_many(ctx, actor_id, data, APPLY)
    try:
        async with ctx.uses() as uses:
            promo, tariff = await _checked(uses, ctx, actor_id, data, utcnow())
    except Rejected as rejected:
        await _reject(ctx, rejected, user_id=actor_id, data=data, endpoint=APPLY)
    quote = rules.price(promo.discount_type, promo.value, tariff.price)
    return QuoteOut(
        promocode=promo.code,
        tariff_id=tariff.id,
        currency=tariff.currency,
        valid_until=promo.valid_until,
        **asdict(quote),
    )


async def take_use(
    uses: UseStatements,
    promo: Promocode,
    tariff: Tariff,
    user_id: uuid.UUID,
    now: datetime,
    *,
    reserved_until: datetime | None = None,
    claim: Claim | None = None,
) -> PurchaseOut:
    """Takes the code's use and the user's, with the purchase, its event and the answer for
    an Idempotency-Key `claim`, in one statement that is its own transaction; the answer.

    A buyer's use is a pending purchase `reserved_until` a time; without one it is the
    operator's paid purchase."""
    status = PurchaseStatus.paid if reserved_until is None else PurchaseStatus.pending
    source = PurchaseSource.operator if reserved_until is None else PurchaseSource.user
    quote = rules.price(promo.discount_type, promo.value, tariff.price)
    purchase = Purchase.model_construct(  # our own values: no validation on the hot path
        id=uuid.uuid4(),
        user_id=user_id,
        tariff_id=tariff.id,
        promocode_id=promo.id,
        code=promo.code,
        status=status,
        currency=tariff.currency,
        source=source,
        created_at=now,
        expires_at=reserved_until,
        paid_at=now if status is PurchaseStatus.paid else None,
        **asdict(quote),
    )
    answer = PurchaseOut.model_validate(purchase)
    stored = None if claim is None else (claim, 201, answer.model_dump(mode="json"))
    event_type = events.PURCHASE_PAID if status is PurchaseStatus.paid else events.PURCHASE_RESERVED
    event = loyalty_event(event_type, purchase.id, events.purchase_payload(purchase))
    taken = await uses.take(purchase, promo.per_user_limit, event, stored)
    if not isinstance(taken, Counters):
        raise Rejected(taken, promo.id)
    return answer


async def use_promocode(
    data: PromocodeRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> PurchaseOut:
    """Reserves one use of the code and creates a pending purchase (until RESERVATION_TTL):
    two round trips to Postgres, the snapshot and the use, each its own transaction (under
    READ COMMITTED a transaction around both would see no more than they do)."""
    ctx = ctx or default_context()
    await _refuse_when_too_many(ctx, actor_id, data, USE)
    now = utcnow()
    expiry = now + timedelta(seconds=ctx.settings.reservation_ttl_seconds)
    try:
        async with ctx.uses() as uses:
            promo, tariff = await _checked(uses, ctx, actor_id, data, now)
            return await take_use(
                uses, promo, tariff, actor_id, now, reserved_until=expiry, claim=ctx.claim
            )
    except Rejected as rejected:
        await _reject(ctx, rejected, user_id=actor_id, data=data, endpoint=USE)


# ---- confirm and cancel ----------------------------------------------------------------------


async def _own_purchase(
    uses: UseStatements, purchase_id: uuid.UUID, user_id: uuid.UUID
) -> Purchase:
    purchase = await uses.purchase(purchase_id)
    if purchase is None or purchase.user_id != user_id:
        raise errors.PurchaseNotFound()
    return purchase


async def _settle(
    uses: UseStatements,
    purchase: Purchase,
    now: datetime,
    cancel_reason: str | None,
    claim: Claim | None = None,
    error: AppError | None = None,
) -> PurchaseOut | None:
    """pending → paid (no `cancel_reason`) or cancelled (its use given back), with its event
    and the answer for an Idempotency-Key `claim` (the purchase, or `error`), exactly once, in
    one statement (`SETTLE`): what it became, or None when a concurrent confirm, cancel or the
    reaper settled it first."""
    settled = Purchase.model_construct(
        **{**purchase.model_dump(), **settlement(now, cancel_reason)}
    )
    out = PurchaseOut.model_validate(settled)
    event_type = events.PURCHASE_PAID if cancel_reason is None else events.PURCHASE_CANCELLED
    event = loyalty_event(event_type, settled.id, events.purchase_payload(settled))
    answer = None
    if claim is not None and error is not None:
        answer = (claim, error.status_code, error.body())
    elif claim is not None:
        answer = (claim, 200, out.model_dump(mode="json"))
    return out if await uses.settle(settled, event, answer) else None


async def _settle_own(
    ctx: Context | None, purchase_id: uuid.UUID, user_id: uuid.UUID, *, cancel_reason: str | None
) -> PurchaseOut:
    """The buyer's own pending purchase paid (no `cancel_reason`) or cancelled, exactly once;
    one settled already (by a concurrent call, or the same call sent again) answers what it
    became when that is what was asked, else why it cannot be."""
    ctx = ctx or default_context()
    claim, now = ctx.claim, utcnow()
    wanted = PurchaseStatus.paid if cancel_reason is None else PurchaseStatus.cancelled
    async with ctx.uses() as uses:
        purchase = await _own_purchase(uses, purchase_id, user_id)
        if purchase.status == PurchaseStatus.pending:
            if wanted is PurchaseStatus.paid and _expired(purchase, now):
                expired = errors.ReservationExpired()
                if await _settle(uses, purchase, now, RESERVATION_EXPIRED, claim, expired):
                    raise expired
            elif settled := await _settle(uses, purchase, now, cancel_reason, claim):
                return settled
            # A concurrent cancel, confirm or the reaper settled it first: answer from what
            # it became.
            purchase = await uses.purchase(purchase.id)
    if purchase.status == wanted:
        out = PurchaseOut.model_validate(purchase)
        async with ctx.uow() as uow:
            await uow.idempotency.record(claim, 200, out.model_dump(mode="json"))
            await uow.commit()
        return out
    if wanted is PurchaseStatus.cancelled:
        raise errors.PurchaseNotCancellable()
    if purchase.cancel_reason == RESERVATION_EXPIRED:
        raise errors.ReservationExpired()
    raise errors.PurchaseCancelled()


def _expired(purchase: Purchase, now: datetime) -> bool:
    return purchase.expires_at is not None and purchase.expires_at <= now


async def confirm_purchase(
    data: PurchaseRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> PurchaseOut:
    """The payment succeeded: pending → paid. Confirming a paid purchase again answers the same.

    A reservation past `expires_at` is cancelled instead (use given back) and answered with
    409 `reservation_expired`; a cancelled purchase cannot be paid (409 `purchase_cancelled`).
    """
    return await _settle_own(ctx, data.purchase_id, actor_id, cancel_reason=None)


async def cancel_use_promocode(
    data: CancelRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> PurchaseOut:
    """The payment failed: pending → cancelled and the reserved use goes back, exactly once.

    Cancelling a cancelled purchase answers its state again and gives back nothing; a paid
    purchase cannot be cancelled (409 `purchase_not_cancellable`).
    """
    reason = data.reason or DEFAULT_CANCEL_REASON
    return await _settle_own(ctx, data.purchase_id, actor_id, cancel_reason=reason)


# ---- the reaper ------------------------------------------------------------------------------


async def expire_reservation(purchase_id: uuid.UUID, *, ctx: Context | None = None) -> bool:
    """Cancels one reservation past its `expires_at` and gives its use back, exactly once;
    False when it was settled meanwhile."""
    ctx = ctx or default_context()
    now = utcnow()
    async with ctx.uses() as uses:
        purchase = await uses.purchase(purchase_id)
        if (
            purchase is None
            or purchase.status != PurchaseStatus.pending
            or not _expired(purchase, now)
        ):
            return False
        return await _settle(uses, purchase, now, RESERVATION_EXPIRED) is not None


async def expire_reservations(*, ctx: Context | None = None, limit: int = 500) -> int:
    """Cancels up to `limit` expired reservations; returns how many it cancelled."""
    ctx = ctx or default_context()
    async with ctx.uow() as uow:
        due = await uow.purchases.expired_reservations(utcnow(), limit)
    expired = 0
    for purchase_id in due:
        expired += await expire_reservation(purchase_id, ctx=ctx)
    return expired
