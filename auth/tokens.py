"""Signing access tokens and minting refresh tokens. Only auth holds the private key.

Access tokens are EdDSA JWTs verified everywhere by `core.security`. Each carries `sid`, the
refresh-token family it was issued with, so logout can end that session. Refresh tokens are
opaque random strings; only their SHA-256 is stored.
"""

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import jwt

from core.config import Settings
from core.security import ALGORITHM


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    issued_at: float
    expires_at: float


@lru_cache
def _private_key(pem: str):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem.encode(), password=None)


def issue_access_token(
    user_id: uuid.UUID, role: str, settings: Settings, family_id: uuid.UUID | None = None
) -> IssuedToken:
    now = time.time()
    claims = {
        "sub": str(user_id),
        "role": role,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + settings.access_token_ttl_seconds,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "typ": "access",
    }
    if family_id is not None:
        claims["sid"] = str(family_id)
    token = jwt.encode(claims, _private_key(settings.private_key_pem()), algorithm=ALGORITHM)
    return IssuedToken(token, claims["jti"], now, claims["exp"])


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
