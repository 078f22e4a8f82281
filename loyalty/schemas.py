"""Request and response models of the write side, shared by command_api and the admin.

Handlers take these validated inputs and return these outputs; every amount is integer
kopecks with `currency`.
"""

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from core.inputs import Text, UtcMoment
from loyalty.catalog import generator
from loyalty.domain import rules
from loyalty.domain.enums import Audience, DiscountType

PG_INT_MAX = 2**31 - 1
MAX_KOPECKS = 10**13
CODE_RE = re.compile(r"^[A-Z0-9-]{4,64}$")

DbId = Annotated[int, Field(ge=1, le=PG_INT_MAX)]
Kopecks = Annotated[int, Field(ge=0, le=MAX_KOPECKS)]
Currency = Literal["RUB"]


def _unique(items: list) -> list:
    """Each id once, in the order first sent."""
    return list(dict.fromkeys(items))


UserIds = Annotated[list[uuid.UUID], Field(max_length=10_000), AfterValidator(_unique)]
SomeUserIds = Annotated[
    list[uuid.UUID], Field(min_length=1, max_length=10_000), AfterValidator(_unique)
]
GroupIds = Annotated[list[DbId], Field(max_length=10_000), AfterValidator(_unique)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    """A response read off a row (or a read model's snapshot) by attribute or key."""

    model_config = ConfigDict(from_attributes=True)


# ---- buyer ---------------------------------------------------------------------------------


class PromocodeRequest(Body):
    """`apply_promocode` and `use_promocode`: the code as the user typed it and the tariff."""

    promocode: Text = Field(min_length=1, max_length=200)
    tariff_id: DbId


class PurchaseRequest(Body):
    purchase_id: uuid.UUID


class CancelRequest(Body):
    purchase_id: uuid.UUID
    reason: Text | None = Field(default=None, max_length=200)


class QuoteOut(BaseModel):
    promocode: str
    tariff_id: int
    base_price: int
    discount: int
    final_price: int
    currency: str
    discount_type: str
    trial_days: int | None
    valid_until: datetime | None


class PurchaseOut(Out):
    """A purchase as both APIs answer it (`use_promocode`, `GET /purchases`, ...)."""

    purchase_id: uuid.UUID = Field(validation_alias=AliasChoices("purchase_id", "id"))
    status: str
    user_id: uuid.UUID
    tariff_id: int
    promocode_id: int | None
    promocode: str | None = Field(validation_alias=AliasChoices("promocode", "code"))
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


# ---- operator: tariffs -----------------------------------------------------------------------


class TariffCreate(Body):
    name: Text = Field(min_length=1, max_length=200)
    price: Kopecks
    currency: Currency = "RUB"
    is_active: bool = True


class TariffUpdate(Body):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    price: Kopecks | None = None
    currency: Currency | None = None
    is_active: bool | None = None


class TariffOut(Out):
    id: int
    name: str
    price: int
    currency: str
    is_active: bool


# ---- operator: promo codes -------------------------------------------------------------------


class PromocodeTerms(Body):
    """The fields a code and a generated batch share."""

    discount_type: DiscountType
    value: int = Field(ge=0, le=MAX_KOPECKS)
    valid_from: UtcMoment | None = None
    valid_until: UtcMoment | None = None
    max_uses: int | None = Field(default=None, ge=1, le=PG_INT_MAX)
    per_user_limit: int | None = Field(default=1, ge=1, le=PG_INT_MAX)
    tariff_ids: list[DbId] = Field(default_factory=list, max_length=1000)
    audience: Audience = Audience.everyone
    is_active: bool = True
    description: Text = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _consistent(self):
        problem = rules.value_problem(self.discount_type, self.value)
        if problem:
            raise ValueError(problem)
        if self.valid_from is not None:
            problem = rules.window_problem(self.valid_from, self.valid_until)
            if problem:
                raise ValueError(problem)
        self.tariff_ids = sorted(set(self.tariff_ids))
        return self


class PromocodeCreate(PromocodeTerms):
    code: Text

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        code = rules.normalise_code(value)
        if not CODE_RE.match(code):
            raise ValueError("a code is 4 to 64 of A-Z, 0-9 and '-'")
        return code


class PromocodeUpdate(Body):
    """Only the fields sent change; `valid_until: null` removes the end of the window."""

    discount_type: DiscountType | None = None
    value: int | None = Field(default=None, ge=0, le=MAX_KOPECKS)
    valid_from: UtcMoment | None = None
    valid_until: UtcMoment | None = None
    max_uses: int | None = Field(default=None, ge=1, le=PG_INT_MAX)
    per_user_limit: int | None = Field(default=None, ge=1, le=PG_INT_MAX)
    tariff_ids: list[DbId] | None = Field(default=None, max_length=1000)
    audience: Audience | None = None
    is_active: bool | None = None
    description: Text | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _not_null(self):
        for name in ("discount_type", "value", "valid_from", "audience", "is_active"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        if self.tariff_ids is not None:
            self.tariff_ids = sorted(set(self.tariff_ids))
        return self


class PromocodeFields(Out):
    """A promo code as both APIs show it; each adds its own fields."""

    id: int
    code: str
    discount_type: str
    value: int
    valid_from: datetime
    valid_until: datetime | None
    max_uses: int | None
    uses: int
    per_user_limit: int | None
    tariff_ids: list[int]
    audience: str
    is_active: bool
    batch_id: uuid.UUID | None
    description: str
    created_at: datetime
    updated_at: datetime

    @computed_field(description="null: unlimited")
    @property
    def uses_left_total(self) -> int | None:
        return rules.uses_left(self.max_uses, self.uses)


class PromocodeOut(PromocodeFields):
    version: int


class ActivePromocode(BaseModel):
    """A code in a buyer's listing (`get_active_promocodes`): its terms as the buyer sees them,
    then what is left of it for them (the read side builds the entries: `loyalty.read.active`)."""

    code: str
    discount_type: str
    value: int
    valid_from: datetime
    valid_until: datetime | None
    tariff_ids: list[int]
    uses_left_for_you: int | None = Field(description="null: unlimited")
    uses_left_total: int | None = Field(description="null: unlimited")


class GenerateRequest(PromocodeTerms):
    """A batch of random codes sharing the same terms (single-use by default)."""

    count: int = Field(ge=1, le=1_000_000)
    pattern: Text | None = Field(default=None, min_length=4, max_length=64)
    prefix: Text = Field(default="", max_length=32)
    length: int | None = Field(default=None, ge=generator.MIN_LENGTH, le=64)
    max_uses: int | None = Field(default=1, ge=1, le=PG_INT_MAX)

    @model_validator(mode="after")
    def _shape(self):
        self.prefix = self.prefix.upper()
        if self.pattern is not None:
            self.pattern = self.pattern.upper()
        problem = generator.shape_problem(self.prefix, self.pattern, self.length)
        if problem is None:
            shape = generator.make_shape(self.prefix, self.pattern, self.length)
            problem = generator.capacity_problem(shape, self.count)
        if problem:
            raise ValueError(problem)
        return self


class BatchOut(BaseModel):
    batch_id: uuid.UUID
    count: int


class AssignmentRequest(Body):
    user_ids: UserIds = Field(default_factory=list)
    group_ids: GroupIds = Field(default_factory=list)


class AssignmentOut(BaseModel):
    """Only the ids this call added (or removed)."""

    promocode_id: int
    user_ids: list[uuid.UUID]
    group_ids: list[int]


class ApplyToUsersRequest(Body):
    user_ids: SomeUserIds
    tariff_id: DbId
    dry_run: bool = False


class AppliedPurchase(BaseModel):
    user_id: uuid.UUID
    purchase_id: uuid.UUID | None  # None in a dry run
    base_price: int
    discount: int
    final_price: int
    currency: str


class RejectedUser(BaseModel):
    user_id: uuid.UUID
    reason: str


class ApplyToUsersOut(BaseModel):
    promocode_id: int
    tariff_id: int
    dry_run: bool
    applied: list[AppliedPurchase]
    rejected: list[RejectedUser]


# ---- operator: groups ------------------------------------------------------------------------


class GroupCreate(Body):
    name: Text = Field(min_length=1, max_length=200)
    description: Text = Field(default="", max_length=1000)


class GroupOut(Out):
    id: int
    name: str
    description: str
    created_at: datetime


class MembersRequest(Body):
    user_ids: SomeUserIds


class MembersOut(BaseModel):
    """Only the ids this call added (or removed)."""

    group_id: int
    user_ids: list[uuid.UUID]
