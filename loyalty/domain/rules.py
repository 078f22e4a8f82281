"""The rules of the promo-code engine, each written once: pricing, who may use a code, the one
reason a code fails, what is left of a limit, which codes are public.

Pure functions over plain values: no I/O, no clock (the caller passes `now`). The write side
asks them before it takes a limit; the read side asks the same ones to list a user's codes.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from loyalty.domain import errors
from loyalty.domain.enums import Audience, DiscountType, UserStatus

if TYPE_CHECKING:  # the rules read these fields; a read-side snapshot with them fits too
    from loyalty.models import Promocode, Tariff


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


# ---- who may use codes -----------------------------------------------------------------------

# The user statuses that may use and see codes. A user the loyalty side does not know yet (the
# registration event is still on its way) has no status and may not, on both sides alike.
ELIGIBLE_STATUSES = frozenset({UserStatus.active})

USER_STATUS_BY_AUTH_EVENT: dict[str, UserStatus] = {
    "user.registered": UserStatus.active,
    "user.unblocked": UserStatus.active,
    "user.blocked": UserStatus.blocked,
    "user.deleted": UserStatus.deleted,
}


def is_eligible(user_status: str | None) -> bool:
    return user_status in ELIGIBLE_STATUSES


def user_status_after(auth_event_type: str) -> UserStatus | None:
    """The status an `auth.users` event gives a user; None for events that change none."""
    return USER_STATUS_BY_AUTH_EVENT.get(auth_event_type)


def is_public(audience: str, batch_id: object | None, is_active: bool) -> bool:
    """Listed to every user: audience everyone, active, and not a (secret) batch code.
    `loyalty.read.postgres.public_codes` is the same rule in SQL (tested to agree)."""
    return audience == Audience.everyone and batch_id is None and bool(is_active)


# ---- limits and time -------------------------------------------------------------------------


def uses_left(limit: int | None, uses: int) -> int | None:
    """None: unlimited; never negative."""
    return None if limit is None else max(limit - uses, 0)


# ---- price -----------------------------------------------------------------------------------


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


# ---- the one reason a code fails -------------------------------------------------------------


@dataclass(frozen=True)
class UseFacts:
    """Everything the rules need to judge one use (read in one statement): the tariff and the
    code (None when missing), whether the code reaches the user directly or through a group,
    the user's status (None: unknown) and their uses of the code."""

    tariff: "Tariff | None"
    promocode: "Promocode | None"
    assigned_to_user: bool
    user_status: str | None
    user_uses: int


def rejection(
    facts: UseFacts, now: datetime, *, mistyped: bool = False
) -> type[errors.Rejection] | None:
    """The first reason (in `errors.REJECTION_ORDER`) the code cannot be used, or None.
    `mistyped`: no such code, and the typed text fails the check character of a generated
    code's shape."""
    if facts.tariff is None or not facts.tariff.is_active:
        return errors.TariffNotFound
    if facts.promocode is None:
        return errors.PromocodeMistyped if mistyped else errors.PromocodeNotFound
    return code_rejection(
        facts.promocode,
        assigned_to_user=facts.assigned_to_user,
        user_status=facts.user_status,
        user_uses=facts.user_uses,
        now=now,
        tariff_id=facts.tariff.id,
    )


def code_rejection(
    promocode: "Promocode",
    *,
    assigned_to_user: bool,
    user_status: str | None,
    user_uses: int,
    now: datetime,
    tariff_id: int | None = None,
) -> type[errors.Rejection] | None:
    """Why this user cannot use this code now; `tariff_id` None: for any tariff (the listing
    of a user's codes asks this, so it shows exactly the codes a use would accept)."""
    if promocode.audience == Audience.assigned and not assigned_to_user:
        return errors.PromocodeNotAssigned
    if not promocode.is_active:
        return errors.PromocodeDisabled
    if now < promocode.valid_from:
        return errors.PromocodeNotStarted
    if promocode.valid_until is not None and now >= promocode.valid_until:
        return errors.PromocodeExpired
    if tariff_id is not None and promocode.tariff_ids and tariff_id not in promocode.tariff_ids:
        return errors.TariffNotEligible
    if not is_eligible(user_status):
        return errors.UserNotEligible
    if uses_left(promocode.per_user_limit, user_uses) == 0:
        return errors.UserLimitReached
    if uses_left(promocode.max_uses, promocode.uses) == 0:
        return errors.PromocodeExhausted
    return None


def uses_left_for_user(code: "Promocode", user_uses: int) -> int | None:
    """What this user can still take: their own limit, bounded by what is left for everyone."""
    mine = uses_left(code.per_user_limit, user_uses)
    total = uses_left(code.max_uses, code.uses)
    if mine is None:
        return total
    return mine if total is None else min(mine, total)


# ---- promo-code field rules shared by create, change and the generator ----------------------

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
