"""Auth's error classes: the codes and statuses clients see (docs/API.md), one class each."""

import ast
import inspect
from pathlib import Path

import pytest

import auth
from auth import errors
from core import errors as core_errors
from core.errors import AppError

EXPECTED = {
    errors.WeakPassword: ("weak_password", 422),
    errors.UnknownRole: ("unknown_role", 422),
    errors.EmailTaken: ("email_taken", 409),
    errors.TooManyRegistrations: ("too_many_attempts", 429),
    errors.UserNotFound: ("user_not_found", 404),
    errors.UserDeleted: ("user_deleted", 409),
    errors.CannotChangeOwnStatus: ("forbidden", 403),
    errors.OnlyAdminChangesAdmin: ("forbidden", 403),
    errors.InvalidCredentials: ("invalid_credentials", 401),
    errors.AccountBlocked: ("account_blocked", 403),
    errors.TooManyFailedLogins: ("too_many_attempts", 429),
    errors.InvalidRefreshToken: ("invalid_refresh_token", 401),
    errors.RefreshTokenReused: ("token_reused", 401),
    errors.RefreshTokenRevoked: ("token_revoked", 401),
    errors.RefreshTokenExpired: ("token_expired", 401),
}


def test_every_auth_error_class_is_listed():
    defined = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if cls.__module__ == errors.__name__
        and issubclass(cls, AppError)
        and cls is not errors.AuthError
    }
    assert defined == set(EXPECTED)


@pytest.mark.parametrize("cls", list(EXPECTED), ids=lambda cls: cls.__name__)
def test_code_status_and_message_come_from_the_class(cls):
    if cls is errors.WeakPassword:
        error = cls(["too short"])
    elif cls in (errors.TooManyFailedLogins, errors.TooManyRegistrations):
        error = cls(7)
    else:
        error = cls()
    assert (error.code, error.status_code) == EXPECTED[cls]
    assert error.message and str(error) == error.message


def test_weak_password_and_too_many_failed_logins_carry_their_details():
    weak = errors.WeakPassword(["too short", "only digits"])
    assert weak.message == "The password is not acceptable: too short; only digits"
    assert weak.details == {"problems": ["too short", "only digits"]}
    limited = errors.TooManyFailedLogins(7)
    assert limited.details == {"retry_after": 7}
    assert limited.headers == {"Retry-After": "7"}


def test_auth_constructs_no_error_from_a_generic_class():
    """Every error auth raises is one of its own classes, so a grep finds every raise."""
    generic = {
        name
        for name, cls in inspect.getmembers(core_errors, inspect.isclass)
        if issubclass(cls, AppError)
    }
    package = Path(auth.__file__).parent
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in generic, f"{path.name}:{node.lineno} {node.func.id}(...)"
