"""Response models of query_api (API.md); a purchase is answered as command_api answers it
(`loyalty.schemas.PurchaseOut`), a listing entry as the read side builds it
(`loyalty.schemas.ActivePromocode`)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from loyalty.schemas import PromocodeFields


class PromocodeOut(PromocodeFields):
    failures: dict[str, int] = Field(description="rejected attempts on this code, by reason")
    failures_total: int


class PromocodePage(BaseModel):
    items: list[PromocodeOut]
    limit: int
    offset: int
    has_more: bool


class AttemptOut(BaseModel):
    id: int
    user_id: uuid.UUID
    code: str
    promocode_id: int | None
    tariff_id: int | None
    reason: str
    endpoint: str
    created_at: datetime
