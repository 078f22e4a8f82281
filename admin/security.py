"""CSRF protection and security headers for every admin request (a pure ASGI middleware).

A request that may change something (any method but GET, HEAD, OPTIONS) must carry the
session's CSRF token (`admin.sessions.csrf_token`), in the `csrf_token` form field or the
`X-CSRF-Token` header; otherwise it is answered 403 before any view runs. The body is read
once here and replayed to the view. GET requests never change data (the views see to that:
SQLAdmin's GET actions are confirmation pages that POST).
"""

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from admin import sessions

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def admin_security(app: ASGIApp) -> ASGIApp:
    """The admin app wrapped: every HTTP answer with the security headers, every request that
    may change something refused (403) unless it carries the session's CSRF token."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        if scope["method"] in SAFE_METHODS:
            return await app(scope, receive, send_with_headers)
        body = await _read_body(receive)
        if await _token_ok(Request(scope, _replayer(body, receive))):
            return await app(scope, _replayer(body, receive), send_with_headers)
        await PlainTextResponse(CSRF_REFUSED, status_code=403)(scope, receive, send_with_headers)

    return guarded


CSRF_REFUSED = (
    "This form has expired or did not come from the admin (missing or wrong CSRF token). Go "
    "back, reload the page and try again."
)


async def _token_ok(request: Request) -> bool:
    sent = request.headers.get(sessions.CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(sessions.CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    return sessions.csrf_valid(request, sent)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replayer(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the client's own messages (e.g. its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
