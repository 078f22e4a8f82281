"""The rules of the promo-code engine: pricing, eligibility and the one reason a code fails.

Pure functions over plain values: no I/O, no clock (the caller passes `now`). Handlers read a
snapshot, ask these functions, and only then take the limits with conditional UPDATEs.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from loyalty.models import Audience, DiscountType, UserStatus


class Reason(StrEnum):
    """Why a code was refused, in the order they are checked (the first that applies wins)."""

    tariff_not_found = "tariff_not_found"
    promocode_not_found = "promocode_not_found"
    promocode_not_assigned = "promocode_not_assigned"
    promocode_disabled = "promocode_disabled"
    promocode_not_started = "promocode_not_started"
    promocode_expired = "promocode_expired"
    tariff_not_eligible = "tariff_not_eligible"
    user_not_eligible = "user_not_eligible"
    user_limit_reached = "user_limit_reached"
    promocode_exhausted = "promocode_exhausted"
    # Not a property of the code: the caller failed too often (checked before everything).
    too_many_attempts = "too_many_attempts"


REASON_ORDER: tuple[Reason, ...] = tuple(r for r in Reason if r is not Reason.too_many_attempts)

REASON_STATUS: dict[Reason, int] = {
    Reason.tariff_not_found: 404,
    Reason.promocode_not_found: 404,
    Reason.promocode_not_assigned: 404,
    Reason.promocode_disabled: 422,
    Reason.promocode_not_started: 422,
    Reason.promocode_expired: 422,
    Reason.tariff_not_eligible: 422,
    Reason.user_not_eligible: 403,
    Reason.user_limit_reached: 409,
    Reason.promocode_exhausted: 409,
    Reason.too_many_attempts: 429,
}

REASON_MESSAGE: dict[Reason, str] = {
    Reason.tariff_not_found: "No such tariff",
    Reason.promocode_not_found: "No such promo code",
    Reason.promocode_not_assigned: "No such promo code",
    Reason.promocode_disabled: "This promo code has been disabled",
    Reason.promocode_not_started: "This promo code is not valid yet",
    Reason.promocode_expired: "This promo code has expired",
    Reason.tariff_not_eligible: "This promo code does not apply to this tariff",
    Reason.user_not_eligible: "This account cannot use promo codes",
    Reason.user_limit_reached: "You have already used this promo code as often as allowed",
    Reason.promocode_exhausted: "This promo code has been used up",
    Reason.too_many_attempts: "Too many failed attempts; try again later",
}


def public_reason(reason: Reason) -> Reason:
    """What the buyer is told: a code assigned to others looks like a code that does not exist."""
    if reason is Reason.promocode_not_assigned:
        return Reason.promocode_not_found
    return reason


@dataclass(frozen=True)
class TariffFacts:
    id: int
    price: int
    is_active: bool


@dataclass(frozen=True)
class PromocodeFacts:
    id: int
    discount_type: str
    value: int
    valid_from: datetime
    valid_until: datetime | None
    max_uses: int | None
    uses: int
    per_user_limit: int | None
    tariff_ids: tuple[int, ...]
    audience: str
    is_active: bool


@dataclass(frozen=True)
class Quote:
    base_price: int
    discount: int
    final_price: int
    discount_type: str
    trial_days: int | None = None


def normalise_code(typed: str) -> str:
    """Codes are stored upper-case; what a user types is stripped and upper-cased."""
    return typed.strip().upper()


def price(discount_type: str, value: int, base_price: int) -> Quote:
    """The price of a tariff under a code. Never negative, never above the base price."""
    if base_price < 0:
        raise ValueError("a base price is never negative")
    trial_days = None
    match DiscountType(discount_type):
        case DiscountType.percent:
            exact = Decimal(base_price) * Decimal(value) / Decimal(100)
            discount = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        case DiscountType.amount:
            discount = max(min(value, base_price), 0)
        case DiscountType.fixed_price:
            discount = base_price - max(min(value, base_price), 0)
        case DiscountType.trial:
            discount = base_price
            trial_days = value
    discount = max(min(discount, base_price), 0)
    return Quote(
        base_price=base_price,
        discount=discount,
        final_price=base_price - discount,
        discount_type=str(discount_type),
        trial_days=trial_days,
    )


def rejection_reason(
    *,
    tariff: TariffFacts | None,
    promocode: PromocodeFacts | None,
    assigned_to_user: bool,
    user_status: str | None,
    user_uses: int,
    now: datetime,
) -> Reason | None:
    """The first reason (in `REASON_ORDER`) the code cannot be used, or None when it can.

    `user_status` None means the loyalty side does not know the user (not synced yet);
    `assigned_to_user` says whether the code reaches the user directly or through a group.
    """
    if tariff is None or not tariff.is_active:
        return Reason.tariff_not_found
    if promocode is None:
        return Reason.promocode_not_found
    if promocode.audience == Audience.assigned and not assigned_to_user:
        return Reason.promocode_not_assigned
    if not promocode.is_active:
        return Reason.promocode_disabled
    if now < promocode.valid_from:
        return Reason.promocode_not_started
    if promocode.valid_until is not None and now >= promocode.valid_until:
        return Reason.promocode_expired
    if promocode.tariff_ids and tariff.id not in promocode.tariff_ids:
        return Reason.tariff_not_eligible
    if user_status != UserStatus.active:
        return Reason.user_not_eligible
    if promocode.per_user_limit is not None and user_uses >= promocode.per_user_limit:
        return Reason.user_limit_reached
    if promocode.max_uses is not None and promocode.uses >= promocode.max_uses:
        return Reason.promocode_exhausted
    return None


def uses_left(limit: int | None, uses: int) -> int | None:
    """None: unlimited."""
    return None if limit is None else max(limit - uses, 0)


# Promo-code field rules shared by create, change and the generator.

PERCENT_RANGE = (1, 100)
MAX_TRIAL_DAYS = 3660


def value_problem(discount_type: str, value: int) -> str | None:
    """Why `value` makes no sense for `discount_type`, or None."""
    match DiscountType(discount_type):
        case DiscountType.percent:
            low, high = PERCENT_RANGE
            if not low <= value <= high:
                return f"a percent discount is between {low} and {high}"
        case DiscountType.amount:
            if value < 1:
                return "an amount discount is at least 1 kopeck"
        case DiscountType.fixed_price:
            if value < 0:
                return "a fixed price is never negative"
        case DiscountType.trial:
            if not 1 <= value <= MAX_TRIAL_DAYS:
                return f"a trial lasts between 1 and {MAX_TRIAL_DAYS} days"
    return None


def window_problem(valid_from: datetime, valid_until: datetime | None) -> str | None:
    if valid_until is not None and valid_until <= valid_from:
        return "valid_until must be after valid_from"
    return None
