"""Access-token verification shared by every service: signature, claims and revocation.

Auth signs tokens with its private key; every other process verifies with the public key.
Revocation is checked on every request, in one Redis round trip (MGET, or as part of the
route's own read: `Unconfirmed`) over two kinds of denylist entries, each expiring when the
tokens it covers would have expired anyway:
- `revoked:jti:<jti>`: one access token (logout);
- `revoked:user:<sub>`: a moment; every token of that user issued before it is refused
  (block, delete, refresh-token reuse).
"""

import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

import jwt
from fastapi import Depends, Request
from redis.asyncio import Redis

from core.config import Settings, get_settings
from core.errors import Forbidden, NotAuthenticated, TokenExpired, TokenRevoked
from core.redis import get_redis

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["exp", "iat", "jti", "sub", "iss", "aud"]
ROLES = ("user", "operator", "admin")
OPERATOR_ROLES = frozenset({"operator", "admin"})


def revoked_jti_key(jti: str) -> str:
    return f"revoked:jti:{jti}"


def revoked_user_key(user_id: uuid.UUID | str) -> str:
    return f"revoked:user:{user_id}"


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    jti: str
    issued_at: float
    expires_at: float

    @property
    def is_operator(self) -> bool:
        return self.role in OPERATOR_ROLES


@lru_cache
def _public_key(pem: str):
    """The verification key, parsed once per PEM (read only when a token is not yet known)."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(pem.encode())


class VerifiedTokens:
    """The claims of tokens whose signature and claims were verified, kept until they expire
    (the least recently used go first), so a token is verified once, not on every request.
    Revocation is not kept here: it is checked on every request."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._claims: OrderedDict[str, dict] = OrderedDict()

    def get(self, token: str, now: float) -> dict | None:
        claims = self._claims.get(token)
        if claims is None:
            return None
        if claims["exp"] <= now:
            del self._claims[token]
            return None
        self._claims.move_to_end(token)
        return claims

    def put(self, token: str, claims: dict) -> None:
        self._claims[token] = claims
        if len(self._claims) > self.size:
            self._claims.popitem(last=False)


VERIFIED = VerifiedTokens()


def decode_access_token(token: str, settings: Settings, now: float | None = None) -> dict:
    """The token's claims when its signature and claims hold, else 401."""
    known = VERIFIED.get(token, time.time() if now is None else now)
    if known is not None:
        return known
    claims = _verify(token, settings)
    VERIFIED.put(token, claims)
    return claims


def _verify(token: str, settings: Settings) -> dict:
    try:
        claims = jwt.decode(
            token,
            _public_key(settings.public_key_pem()),
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("The access token has expired") from exc
    except jwt.PyJWTError as exc:
        raise NotAuthenticated() from exc
    if claims.get("typ", "access") != "access" or claims.get("role") not in ROLES:
        raise NotAuthenticated()
    try:
        uuid.UUID(claims["sub"])
    except ValueError as exc:
        raise NotAuthenticated() from exc
    return claims


@dataclass(frozen=True)
class Unconfirmed:
    """A caller whose token's signature and claims hold, its revocation not checked yet.

    For a route that reads Redis anyway: it reads `revocation_keys` in the same round trip as
    its data (one round trip a request instead of two) and calls `confirm` with what they held
    before it uses anything it read. Every other route takes `CurrentPrincipal`."""

    principal: Principal

    @property
    def revocation_keys(self) -> list[str]:
        return [revoked_jti_key(self.principal.jti), revoked_user_key(self.principal.user_id)]

    def confirm(self, jti_revoked: str | None, user_revoked_at: str | None) -> Principal:
        """The principal, unless the denylist entries read at `revocation_keys` revoke it."""
        principal = self.principal
        if jti_revoked or (user_revoked_at and principal.issued_at <= float(user_revoked_at)):
            raise TokenRevoked("The access token has been revoked")
        return principal


def unconfirmed(token: str, settings: Settings) -> Unconfirmed:
    """The token's caller when its signature and claims hold (else 401); see `Unconfirmed`."""
    claims = decode_access_token(token, settings)
    return Unconfirmed(
        Principal(
            user_id=uuid.UUID(claims["sub"]),
            role=claims["role"],
            jti=claims["jti"],
            issued_at=float(claims["iat"]),
            expires_at=float(claims["exp"]),
        )
    )


async def verify_access_token(token: str, settings: Settings, redis: Redis) -> Principal:
    caller = unconfirmed(token, settings)
    return caller.confirm(*await redis.mget(*caller.revocation_keys))


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated("A bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


async def verify_with_process_settings(token: str) -> Principal:
    """`verify_access_token` with this process's settings and Redis client."""
    settings = get_settings()
    return await verify_access_token(token, settings, get_redis(settings.redis_url))


async def current_principal(request: Request) -> Principal:
    return await verify_with_process_settings(bearer_token(request))


def unconfirmed_caller(request: Request) -> Unconfirmed:
    """The request's caller, its revocation left to the route's own Redis read (`Unconfirmed`).
    Called by the route itself, not as a dependency: resolving one showed in the listing's
    profile (docs/performance.md)."""
    return unconfirmed(bearer_token(request), get_settings())


async def current_operator(
    principal: Annotated[Principal, Depends(current_principal)],
) -> Principal:
    if not principal.is_operator:
        raise Forbidden("This call needs the operator or admin role")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
CurrentOperator = Annotated[Principal, Depends(current_operator)]
