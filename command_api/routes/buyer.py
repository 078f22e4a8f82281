"""Buyer endpoints: a quote, reserving a use, and settling the payment."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from command_api.deps import ContextDep, IdempotencyKey, run_idempotent
from core.security import CurrentPrincipal
from loyalty import handlers
from loyalty.purchasing.handlers import CANCEL, CONFIRM, USE
from loyalty.schemas import (
    CancelRequest,
    PromocodeRequest,
    PurchaseOut,
    PurchaseRequest,
    QuoteOut,
)

router = APIRouter(prefix="/api/v1/loyalty", tags=["buyer"])


@router.post("/apply_promocode", response_model=QuoteOut)
async def apply_promocode(
    body: PromocodeRequest, principal: CurrentPrincipal, ctx: ContextDep
) -> QuoteOut:
    """Quote: the tariff's price with this code. Nothing is reserved; a rejection is logged
    with its reason (a code assigned to others answers `promocode_not_found`)."""
    return await handlers.apply_promocode(body, actor_id=principal.user_id, ctx=ctx)


@router.post("/use_promocode", status_code=201, response_model=PurchaseOut)
async def use_promocode(
    body: PromocodeRequest,
    principal: CurrentPrincipal,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Reserves one use of the code and creates a pending purchase that expires after
    RESERVATION_TTL unless confirmed."""
    return await run_idempotent(
        ctx,
        principal,
        handlers.use_promocode,
        body,
        endpoint=USE,
        key=idempotency_key,
        status_code=201,
    )


@router.post("/confirm_purchase", response_model=PurchaseOut)
async def confirm_purchase(
    body: PurchaseRequest,
    principal: CurrentPrincipal,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The payment succeeded: the purchase becomes paid. A reservation that has expired is
    cancelled instead and answered with 409 `reservation_expired`."""
    return await run_idempotent(
        ctx, principal, handlers.confirm_purchase, body, endpoint=CONFIRM, key=idempotency_key
    )


@router.post("/cancel_use_promocode", response_model=PurchaseOut)
async def cancel_use_promocode(
    body: CancelRequest,
    principal: CurrentPrincipal,
    ctx: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The payment failed: the purchase is cancelled and its use given back, exactly once.
    A paid purchase answers 409 `purchase_not_cancellable`."""
    return await run_idempotent(
        ctx, principal, handlers.cancel_use_promocode, body, endpoint=CANCEL, key=idempotency_key
    )
