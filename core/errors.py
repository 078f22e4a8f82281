"""Errors the caller can act on: one class per error code, each with its status and message.

    class EmailTaken(AppError, code="email_taken", status_code=409):
        message = "An account with this email already exists"

(`code` and `status_code` may also be class attributes). Every subclass that names a `code`
is registered in `ERROR_CODES`, the one list of public codes; the app factory (`core.app`)
turns any of them into `{"error": {code, message, details}}` and lists them in the OpenAPI
document.
"""

from typing import Any, ClassVar

ERROR_CODES: dict[str, type["AppError"]] = {}


def _package(cls: type) -> str:
    return cls.__module__.split(".")[0]


class AppError(Exception):
    """A failure with a reason code from API.md and an HTTP status."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    message: str = "The request cannot be served"

    def __init_subclass__(
        cls, *, code: str | None = None, status_code: int | None = None, **kwargs: Any
    ) -> None:
        """`code=` and `status_code=` in the class statement are the same as the class
        attributes (stating one both ways is a TypeError); registers the class's code."""
        super().__init_subclass__(**kwargs)
        for name, value in (("code", code), ("status_code", status_code)):
            if value is not None:
                if name in cls.__dict__:
                    raise TypeError(f"{cls.__name__} states {name} twice")
                setattr(cls, name, value)
        if "code" in cls.__dict__:
            taken = ERROR_CODES.get(cls.code)
            # Services are separate processes and may share a code (auth's `user_not_found`);
            # within one package and with core, a code has exactly one class.
            if taken is not None and _package(taken) in (_package(cls), "core"):
                raise TypeError(f"error code {cls.code!r} has two classes: {taken} and {cls}")
            ERROR_CODES[cls.code] = cls

    def __init__(
        self,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.details = details or {}
        self.headers = headers
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


class NotAuthenticated(AppError, code="not_authenticated", status_code=401):
    message = "The access token is not valid"


class TokenExpired(NotAuthenticated, code="token_expired", status_code=401):
    message = "The token has expired"


class TokenRevoked(NotAuthenticated, code="token_revoked", status_code=401):
    message = "The token has been revoked"


class Forbidden(AppError, code="forbidden", status_code=403):
    message = "This call is not allowed for this account"


class ValidationFailed(AppError, code="validation_error", status_code=422):
    message = "The request is not valid"


class TooManyAttempts(AppError, code="too_many_attempts", status_code=429):
    message = "Too many failed attempts; try again later"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(
            message,
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


class ServiceUnavailable(AppError, code="service_unavailable", status_code=503):
    message = "A dependency is not answering; try again shortly"


class DependencyUnavailable(ServiceUnavailable, code="dependency_unavailable", status_code=503):
    message = "A dependency is not answering"


class InternalError(AppError, code="internal_error", status_code=500):
    message = "Unexpected error; it has been logged"


# What the framework itself refuses (no route, wrong method, ...), by HTTP status.


class RouteNotFound(AppError, code="not_found", status_code=404):
    message = "Not Found"


class MethodNotAllowed(AppError, code="method_not_allowed", status_code=405):
    message = "Method Not Allowed"


class UnsupportedMediaType(AppError, code="unsupported_media_type", status_code=415):
    message = "Unsupported Media Type"


class BadRequest(AppError, code="bad_request", status_code=400):
    message = "The request cannot be read"


class PayloadTooLarge(AppError, code="payload_too_large", status_code=413):
    message = "The request body is larger than this API accepts"


HTTP_ERRORS: dict[int, type[AppError]] = {
    cls.status_code: cls
    for cls in (
        BadRequest,
        NotAuthenticated,
        Forbidden,
        RouteNotFound,
        MethodNotAllowed,
        UnsupportedMediaType,
        PayloadTooLarge,
        ValidationFailed,
        TooManyAttempts,
    )
}
