"""Every error code of auth, one class each (the generic ones are in core.errors)."""

from core.errors import AppError, Forbidden, NotAuthenticated, TokenExpired, TokenRevoked


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    message = "Email or password is wrong"


class InvalidRefreshToken(NotAuthenticated):
    code = "invalid_refresh_token"
    message = "The refresh token is not valid"


class RefreshTokenReused(NotAuthenticated):
    code = "token_reused"
    message = "This refresh token was already used; the session is ended"


class RefreshTokenExpired(TokenExpired):
    message = "The refresh token has expired"


class RefreshTokenRevoked(TokenRevoked):
    message = "The refresh token has been revoked"


class AccountBlocked(Forbidden):
    code = "account_blocked"
    message = "This account is blocked"


class WeakPassword(AppError):
    status_code = 422
    code = "weak_password"
    message = "The password is not acceptable"


class UnknownRole(AppError):
    status_code = 422
    code = "unknown_role"
    message = "Unknown role"


class EmailTaken(AppError):
    status_code = 409
    code = "email_taken"
    message = "An account with this email already exists"


class AccountNotFound(AppError):
    status_code = 404
    code = "user_not_found"
    message = "No account with this id"


class AccountDeleted(AppError):
    status_code = 409
    code = "user_deleted"
    message = "This account has been deleted"
