"""Signing access tokens. Only auth holds the private key."""

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


def issue_access_token(user_id: uuid.UUID, role: str, settings: Settings) -> IssuedToken:
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
    token = jwt.encode(claims, _private_key(settings.private_key_pem()), algorithm=ALGORITHM)
    return IssuedToken(token, claims["jti"], now, claims["exp"])
