"""Every error code of the loyalty domain, one class each (the generic ones are in core.errors).

A `Rejection` is a reason a promo code cannot be used: it is logged with the attempt and
emitted as `promocode.rejected`; `REJECTION_ORDER` is the order the rules check them in.
"""

from typing import ClassVar

from core.errors import AppError


class Rejection(AppError):
    """Why a code was refused to a buyer; `shown_as()` is what the buyer is told: the
    rejection itself unless it names another in `told_as`."""

    told_as: ClassVar[type["Rejection"] | None] = None

    @classmethod
    def shown_as(cls) -> type["Rejection"]:
        return cls.told_as or cls


class TariffNotFound(Rejection, code="tariff_not_found", status_code=404):
    message = "No such tariff"


class PromocodeNotFound(Rejection, code="promocode_not_found", status_code=404):
    message = "No such promo code"


class PromocodeMistyped(Rejection, code="promocode_mistyped", status_code=404):
    message = "No such promo code: its check character does not fit, so it was probably mistyped"


class PromocodeNotAssigned(Rejection, code="promocode_not_assigned", status_code=404):
    """Logged only: a code assigned to others looks to the buyer like no code at all."""

    message = PromocodeNotFound.message
    told_as = PromocodeNotFound


class PromocodeDisabled(Rejection, code="promocode_disabled", status_code=422):
    message = "This promo code has been disabled"


class PromocodeNotStarted(Rejection, code="promocode_not_started", status_code=422):
    message = "This promo code is not valid yet"


class PromocodeExpired(Rejection, code="promocode_expired", status_code=422):
    message = "This promo code has expired"


class TariffNotEligible(Rejection, code="tariff_not_eligible", status_code=422):
    message = "This promo code does not apply to this tariff"


class UserNotEligible(Rejection, code="user_not_eligible", status_code=403):
    message = "This account cannot use promo codes"


class UserLimitReached(Rejection, code="user_limit_reached", status_code=409):
    message = "You have already used this promo code as often as allowed"


class PromocodeExhausted(Rejection, code="promocode_exhausted", status_code=409):
    message = "This promo code has been used up"


REJECTION_ORDER: tuple[type[Rejection], ...] = (
    TariffNotFound,
    PromocodeNotFound,
    PromocodeMistyped,
    PromocodeNotAssigned,
    PromocodeDisabled,
    PromocodeNotStarted,
    PromocodeExpired,
    TariffNotEligible,
    UserNotEligible,
    UserLimitReached,
    PromocodeExhausted,
)


# ---- purchases -------------------------------------------------------------------------------


class PurchaseNotFound(AppError, code="purchase_not_found", status_code=404):
    message = "No such purchase"


class PurchaseNotCancellable(AppError, code="purchase_not_cancellable", status_code=409):
    message = "A paid purchase cannot be cancelled"


class PurchaseCancelled(AppError, code="purchase_cancelled", status_code=409):
    message = "This purchase was cancelled and cannot be paid"


class ReservationExpired(AppError, code="reservation_expired", status_code=409):
    message = "The reservation expired before the payment was confirmed; the use was given back"


class IdempotencyKeyReused(AppError, code="idempotency_key_reused", status_code=422):
    message = "This Idempotency-Key was used with another request body"


class IdempotencyKeyInUse(AppError, code="idempotency_key_in_use", status_code=409):
    message = "A request with this Idempotency-Key is still running; retry"


# ---- the catalog and the audience --------------------------------------------------------------


class TariffNameTaken(AppError, code="tariff_name_taken", status_code=409):
    message = "A tariff with this name exists"


class PromocodeCodeTaken(AppError, code="promocode_code_taken", status_code=409):
    message = "A promo code with this code exists"


class CodeSpaceExhausted(AppError, code="code_space_exhausted", status_code=409):
    message = "Could not find enough free codes; use longer codes"


class BatchNotFound(AppError, code="batch_not_found", status_code=404):
    message = "No such batch"


class GroupNotFound(AppError, code="group_not_found", status_code=404):
    message = "No such group"


class GroupNameTaken(AppError, code="group_name_taken", status_code=409):
    message = "A group with this name exists"


class UserNotFound(AppError, code="user_not_found", status_code=404):
    message = "Unknown to the loyalty side (not registered, or not synced yet)"
