"""Every error code of the loyalty domain, one class each (the generic ones are in core.errors).

A `Rejection` is a reason a promo code cannot be used: it is logged with the attempt and
emitted as `promocode.rejected`; `REJECTION_ORDER` is the order the rules check them in.
"""

from core.errors import AppError, ServiceUnavailable


class Rejection(AppError):
    """Why a code was refused to a buyer; `shown_as` is what the buyer is told."""

    @classmethod
    def shown_as(cls) -> type["Rejection"]:
        return cls


class TariffNotFound(Rejection):
    status_code = 404
    code = "tariff_not_found"
    message = "No such tariff"


class PromocodeNotFound(Rejection):
    status_code = 404
    code = "promocode_not_found"
    message = "No such promo code"


class PromocodeMistyped(Rejection):
    status_code = 404
    code = "promocode_mistyped"
    message = "No such promo code: its check character does not fit, so it was probably mistyped"


class PromocodeNotAssigned(Rejection):
    """Logged only: a code assigned to others looks to the buyer like no code at all."""

    status_code = 404
    code = "promocode_not_assigned"
    message = PromocodeNotFound.message

    @classmethod
    def shown_as(cls) -> type[Rejection]:
        return PromocodeNotFound


class PromocodeDisabled(Rejection):
    status_code = 422
    code = "promocode_disabled"
    message = "This promo code has been disabled"


class PromocodeNotStarted(Rejection):
    status_code = 422
    code = "promocode_not_started"
    message = "This promo code is not valid yet"


class PromocodeExpired(Rejection):
    status_code = 422
    code = "promocode_expired"
    message = "This promo code has expired"


class TariffNotEligible(Rejection):
    status_code = 422
    code = "tariff_not_eligible"
    message = "This promo code does not apply to this tariff"


class UserNotEligible(Rejection):
    status_code = 403
    code = "user_not_eligible"
    message = "This account cannot use promo codes"


class UserLimitReached(Rejection):
    status_code = 409
    code = "user_limit_reached"
    message = "You have already used this promo code as often as allowed"


class PromocodeExhausted(Rejection):
    status_code = 409
    code = "promocode_exhausted"
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


class PurchaseNotFound(AppError):
    status_code = 404
    code = "purchase_not_found"
    message = "No such purchase"


class PurchaseNotCancellable(AppError):
    status_code = 409
    code = "purchase_not_cancellable"
    message = "A paid purchase cannot be cancelled"


class PurchaseCancelled(AppError):
    status_code = 409
    code = "purchase_cancelled"
    message = "This purchase was cancelled and cannot be paid"


class ReservationExpired(AppError):
    status_code = 409
    code = "reservation_expired"
    message = "The reservation expired before the payment was confirmed; the use was given back"


class IdempotencyKeyReused(AppError):
    status_code = 422
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was used with another request body"


class IdempotencyKeyInUse(AppError):
    status_code = 409
    code = "idempotency_key_in_use"
    message = "A request with this Idempotency-Key is still running; retry"


# ---- the catalog and the audience --------------------------------------------------------------


class TariffNameTaken(AppError):
    status_code = 409
    code = "tariff_name_taken"
    message = "A tariff with this name exists"


class PromocodeCodeTaken(AppError):
    status_code = 409
    code = "promocode_code_taken"
    message = "A promo code with this code exists"


class CodeSpaceExhausted(AppError):
    status_code = 409
    code = "code_space_exhausted"
    message = "Could not find enough free codes; use longer codes"


class BatchNotFound(AppError):
    status_code = 404
    code = "batch_not_found"
    message = "No such batch"


class GroupNotFound(AppError):
    status_code = 404
    code = "group_not_found"
    message = "No such group"


class GroupNameTaken(AppError):
    status_code = 409
    code = "group_name_taken"
    message = "A group with this name exists"


class UserNotFound(AppError):
    status_code = 404
    code = "user_not_found"
    message = "Unknown to the loyalty side (not registered, or not synced yet)"


class ReadModelRebuilding(ServiceUnavailable):
    code = "read_model_rebuilding"
    message = "The read model is being rebuilt; try again shortly"
