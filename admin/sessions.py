"""Operator sessions kept server side: the cookie carries an opaque session id only.

The signed session cookie (`SessionMiddleware`) holds `{"sid": ...}`; the tokens auth issued
live in Redis under `admin:session:<sid>` with the session's lifetime, so nothing readable in
the cookie can be replayed at auth. The CSRF token of a session is derived from its id with
the session secret (an HMAC), so anonymous visitors (the login form) have one too without a
Redis write, and a new sign-in (a new id) gets a new token.
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass

from starlette.requests import HTTPConnection

from core.config import get_settings
from core.redis import get_redis

# How long an operator stays signed in without signing in again (cookie and Redis record).
SESSION_TTL_SECONDS = 12 * 3600
SID = "sid"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass
class OperatorSession:
    user_id: str
    access_token: str
    refresh_token: str


def _key(sid: str) -> str:
    return f"admin:session:{sid}"


def _redis():
    return get_redis(get_settings().redis_url)


def session_id(conn: HTTPConnection) -> str:
    """This browser's session id, created on first sight (anonymous visitors get one too)."""
    sid = conn.session.get(SID)
    if not sid:
        sid = secrets.token_urlsafe(32)
        conn.session[SID] = sid
    return sid


def csrf_token(conn: HTTPConnection) -> str:
    """The CSRF token of this browser's session (the same for every form of the session)."""
    secret = get_settings().session_secret.encode()
    return hmac.new(secret, f"csrf:{session_id(conn)}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(conn: HTTPConnection, sent: str | None) -> bool:
    """`sent` is this session's token (compared in constant time, as bytes: any text sent)."""
    if not sent or not conn.session.get(SID):
        return False
    return hmac.compare_digest(sent.encode(), csrf_token(conn).encode())


async def start(conn: HTTPConnection, session: OperatorSession) -> None:
    """A new session id for the signed-in operator (the anonymous one is dropped, so a
    session id planted before sign-in is worth nothing), with its tokens in Redis."""
    await end(conn)
    conn.session.clear()
    sid = session_id(conn)
    await _redis().set(_key(sid), json.dumps(asdict(session)), ex=SESSION_TTL_SECONDS)


async def load(conn: HTTPConnection) -> OperatorSession | None:
    sid = conn.session.get(SID)
    if not sid:
        return None
    raw = await _redis().get(_key(sid))
    return OperatorSession(**json.loads(raw)) if raw else None


async def save(conn: HTTPConnection, session: OperatorSession) -> None:
    """New tokens for the same session (after a refresh); keeps the remaining lifetime."""
    sid = conn.session.get(SID)
    if sid:
        await _redis().set(_key(sid), json.dumps(asdict(session)), keepttl=True)


async def end(conn: HTTPConnection) -> None:
    sid = conn.session.get(SID)
    if sid:
        await _redis().delete(_key(sid))
    conn.session.clear()
