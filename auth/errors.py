"""Every error auth raises, one class each: the code, the HTTP status (from the generic
`core.errors` class it extends) and the message are written here once.

`raise InvalidCredentials()`; `details=` may be given where the caller has some.
"""

from typing import Any

from core.errors import (
    AppError,
    Forbidden,
    NotAuthenticated,
    TokenExpired,
    TokenRevoked,
    TooManyAttempts,
    ValidationFailed,
)
from core.security import ROLES


class AuthError(AppError):
    """The class states `code` (or inherits the generic one) and `message`."""

    message: str

    def __init__(
        self, *, details: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message=self.message, details=details, headers=headers)


# ---- registration and accounts ---------------------------------------------------------------


class WeakPassword(AuthError, ValidationFailed, code="weak_password"):
    def __init__(self, problems: list[str]) -> None:
        self.message = f"The password is not acceptable: {'; '.join(problems)}"
        super().__init__(details={"problems": problems})


class UnknownRole(AuthError, ValidationFailed, code="unknown_role"):
    message = f"Role must be one of {', '.join(ROLES)}"


class EmailTaken(AuthError, code="email_taken", status_code=409):
    message = "An account with this email already exists"


class TooManyRegistrations(TooManyAttempts):
    message = "Too many registrations from this address; try again later"


class UserNotFound(AuthError, code="user_not_found", status_code=404):
    message = "No account with this id"


class UserDeleted(AuthError, code="user_deleted", status_code=409):
    message = "This account has been deleted"


class CannotChangeOwnStatus(AuthError, Forbidden):
    message = "You cannot block or unblock your own account"


class OnlyAdminChangesAdmin(AuthError, Forbidden):
    message = "Only an admin can block or unblock an admin"


# ---- login -----------------------------------------------------------------------------------


class InvalidCredentials(AuthError, NotAuthenticated, code="invalid_credentials"):
    message = "Email or password is wrong"


class AccountBlocked(AuthError, Forbidden, code="account_blocked"):
    message = "This account is blocked"


class TooManyFailedLogins(TooManyAttempts):
    message = "Too many failed logins; try again later"


# ---- refresh tokens --------------------------------------------------------------------------


class InvalidRefreshToken(AuthError, NotAuthenticated, code="invalid_refresh_token"):
    message = "The refresh token is not valid"


class RefreshTokenReused(AuthError, NotAuthenticated, code="token_reused"):
    message = "This refresh token was already used; the session is ended"


class RefreshTokenRevoked(AuthError, TokenRevoked):
    message = "The refresh token has been revoked"


class RefreshTokenExpired(AuthError, TokenExpired):
    message = "The refresh token has expired"
