"""Account rules: pure functions, no I/O."""

import uuid

from core.errors import AppError, Conflict, Forbidden, NotAuthenticated, ValidationFailed
from core.security import ROLES

ACTIVE = "active"
BLOCKED = "blocked"
DELETED = "deleted"


def ensure_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed("unknown_role", f"Role must be one of {', '.join(ROLES)}")


def login_refusal(status: str) -> AppError | None:
    """Why an account with the right password still may not have tokens, if it may not."""
    if status == BLOCKED:
        return Forbidden("account_blocked", "This account is blocked")
    if status == DELETED:
        # A deleted account answers exactly like an unknown email.
        return NotAuthenticated("invalid_credentials", "Email or password is wrong")
    return None


def ensure_may_change_status(
    actor_id: uuid.UUID, actor_role: str, target_id: uuid.UUID, target_role: str, status: str
) -> None:
    """Operators block and unblock users; only an admin touches an admin; nobody themselves."""
    if actor_id == target_id:
        raise Forbidden(message="You cannot block or unblock your own account")
    if target_role == "admin" and actor_role != "admin":
        raise Forbidden(message="Only an admin can block or unblock an admin")
    if status == DELETED:
        raise Conflict("user_deleted", "This account has been deleted")
