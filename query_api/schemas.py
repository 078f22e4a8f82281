"""Response models of query_api (API.md)."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from loyalty.schemas import PromocodeFields


class ActivePromocode(BaseModel):
    code: str
    discount_type: str
    value: int
    valid_from: datetime
    valid_until: datetime | None
    tariff_ids: list[int]
    uses_left_for_you: int | None = Field(description="null: unlimited")
    uses_left_total: int | None = Field(description="null: unlimited")


class PurchaseOut(BaseModel):
    purchase_id: uuid.UUID
    status: str
    tariff_id: int
    promocode_id: int | None
    code: str | None
    base_price: int
    discount: int
    final_price: int
    currency: str
    discount_type: str | None
    trial_days: int | None
    source: str
    created_at: datetime
    expires_at: datetime | None
    paid_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None

    @classmethod
    def of(cls, snapshot: dict) -> "PurchaseOut":
        return cls.model_validate({**snapshot, "purchase_id": snapshot["id"]})


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
