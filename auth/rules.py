"""Account rules: pure functions, no I/O."""

import uuid

from auth.errors import (
    AccountBlocked,
    AuthError,
    CannotChangeOwnStatus,
    InvalidCredentials,
    OnlyAdminChangesAdmin,
    UnknownRole,
    UserDeleted,
)
from core.security import ROLES

ACTIVE = "active"
BLOCKED = "blocked"
DELETED = "deleted"


def ensure_role(role: str) -> None:
    if role not in ROLES:
        raise UnknownRole()


def login_refusal(status: str) -> AuthError | None:
    """Why an account with the right password still may not have tokens, if it may not."""
    if status == BLOCKED:
        return AccountBlocked()
    if status == DELETED:
        # A deleted account answers exactly like an unknown email.
        return InvalidCredentials()
    return None


def login_backoff_seconds(failures: int, after: int, cap: int) -> int:
    """How long after its latest failed login an email waits before the next attempt: nothing
    below `after` failures in the window, then 1, 2, 4, ... seconds, never more than `cap`."""
    if failures < after:
        return 0
    return min(2 ** min(failures - after, 32), cap)


def tombstone_email(user_id: uuid.UUID) -> str:
    """What a deleted account keeps instead of its email: unique, not personal, and never a
    deliverable address (`.invalid`, RFC 2606), so the email may be registered again."""
    return f"{user_id}@deleted.invalid"


def ensure_may_change_status(
    actor_id: uuid.UUID, actor_role: str, target_id: uuid.UUID, target_role: str, status: str
) -> None:
    """Operators block and unblock users; only an admin touches an admin; nobody themselves."""
    if actor_id == target_id:
        raise CannotChangeOwnStatus()
    if target_role == "admin" and actor_role != "admin":
        raise OnlyAdminChangesAdmin()
    if status == DELETED:
        raise UserDeleted()
