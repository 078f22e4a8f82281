"""Token verification against the real Redis denylist."""

import base64
import hmac
import json
import time
import uuid

import jwt
import pytest

from auth.tokens import issue_access_token
from core.errors import NotAuthenticated
from core.security import revoked_jti_key, revoked_user_key, verify_access_token
from tests.support.polling import eventually


async def test_valid_token_gives_the_principal(settings, redis):
    user_id = uuid.uuid4()
    issued = issue_access_token(user_id, "operator", settings)
    principal = await verify_access_token(issued.token, settings, redis)
    assert principal.user_id == user_id
    assert principal.is_operator


async def test_revoked_jti_is_refused(settings, redis):
    issued = issue_access_token(uuid.uuid4(), "user", settings)
    await redis.set(revoked_jti_key(issued.jti), 1, ex=60)
    with pytest.raises(NotAuthenticated) as caught:
        await verify_access_token(issued.token, settings, redis)
    assert caught.value.code == "token_revoked"


async def test_tokens_issued_before_a_user_revocation_are_refused(settings, redis):
    user_id = uuid.uuid4()
    before = issue_access_token(user_id, "user", settings)
    revoked_at = before.issued_at  # the moment of the revocation: `before` is not after it
    await redis.set(revoked_user_key(user_id), revoked_at, ex=60)
    after = await eventually(
        lambda: issue_access_token(user_id, "user", settings),
        until=lambda issued: issued.issued_at > revoked_at,
    )
    with pytest.raises(NotAuthenticated):
        await verify_access_token(before.token, settings, redis)
    assert (await verify_access_token(after.token, settings, redis)).user_id == user_id


def admin_claims(settings) -> dict:
    """What a forger wants: an admin token, valid for a minute, for our issuer and audience."""
    now = time.time()
    return {
        "sub": str(uuid.uuid4()),
        "role": "admin",
        "jti": "x",
        "iat": now,
        "exp": now + 60,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }


async def test_token_signed_with_another_key_is_refused(settings, redis):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged = jwt.encode(admin_claims(settings), Ed25519PrivateKey.generate(), algorithm="EdDSA")
    with pytest.raises(NotAuthenticated):
        await verify_access_token(forged, settings, redis)


async def test_hs256_token_keyed_with_the_public_key_is_refused(settings, redis):
    """The classic algorithm-confusion attack: PyJWT will not even sign it, so forge by hand."""
    claims = admin_claims(settings)

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        + b"."
        + b64(json.dumps(claims).encode())
    )
    signature = hmac.new(settings.public_key_pem().encode(), signing_input, "sha256").digest()
    forged = (signing_input + b"." + b64(signature)).decode()
    with pytest.raises(NotAuthenticated):
        await verify_access_token(forged, settings, redis)
