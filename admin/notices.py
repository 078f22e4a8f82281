"""Messages shown on the next page after a change (SQLAdmin's flash, in the session)."""

from sqladmin.flash import Flash
from starlette.requests import Request


def notify(request: Request, text: str, *, ok: bool = True) -> None:
    """Flash appends to a list already in the session, which Starlette's session does not
    notice by itself: marked changed so the cookie carries the message."""
    (Flash.success if ok else Flash.error)(request, text)
    mark = getattr(request.session, "mark_modified", None)
    if mark is not None:
        mark()
