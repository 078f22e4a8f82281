"""Buyer endpoints: a quote, reserving a use, and settling the payment."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from command_api.deps import BuyerCall, IdempotentBuyerCall
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
async def apply_promocode(body: PromocodeRequest, buyer: BuyerCall) -> QuoteOut:
    """Quote: the tariff's price with this code. Nothing is reserved; a rejection is logged
    with its reason (a code assigned to others answers `promocode_not_found`)."""
    return await buyer.run(handlers.apply_promocode, body)


@router.post("/use_promocode", status_code=201, response_model=PurchaseOut)
async def use_promocode(body: PromocodeRequest, buyer: IdempotentBuyerCall) -> JSONResponse:
    """Reserves one use of the code and creates a pending purchase that expires after
    RESERVATION_TTL unless confirmed."""
    return await buyer.run_once(handlers.use_promocode, body, endpoint=USE, status_code=201)


@router.post("/confirm_purchase", response_model=PurchaseOut)
async def confirm_purchase(body: PurchaseRequest, buyer: IdempotentBuyerCall) -> JSONResponse:
    """The payment succeeded: the purchase becomes paid. A reservation that has expired is
    cancelled instead and answered with 409 `reservation_expired`."""
    return await buyer.run_once(handlers.confirm_purchase, body, endpoint=CONFIRM)


@router.post("/cancel_use_promocode", response_model=PurchaseOut)
async def cancel_use_promocode(body: CancelRequest, buyer: IdempotentBuyerCall) -> JSONResponse:
    """The payment failed: the purchase is cancelled and its use given back, exactly once.
    A paid purchase answers 409 `purchase_not_cancellable`."""
    return await buyer.run_once(handlers.cancel_use_promocode, body, endpoint=CANCEL)
