"""Registrations per client address, in-process on the auth app with real Postgres and Redis;
the client's address is the ASGI peer, and its X-Forwarded-For changes nothing (no proxy is
trusted by default)."""

import uuid

import httpx

import auth.app
from core.config import get_settings

PASSWORD = "s3cret-pass!"


def from_address(address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=auth.app.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://auth/api/v1/auth")


def new_address() -> str:
    n = uuid.uuid4().int
    return f"198.{18 + n % 2}.{(n >> 8) % 256}.{1 + (n >> 16) % 254}"


async def register(client: httpx.AsyncClient, email: str | None = None, **headers: str):
    email = email or f"reg-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD}
    return await client.post("/user_registration", json=body, headers=headers)


async def test_an_address_registers_its_share_then_waits_while_others_go_on():
    limit = get_settings().registrations_per_address
    address = new_address()
    async with from_address(address) as client:
        first = await register(client)
        assert first.status_code == 201, first.text
        # An email found taken counts too (probing which emails exist).
        taken = await register(client, first.json()["email"])
        assert taken.status_code == 409
        for _ in range(limit - 2):
            assert (await register(client)).status_code == 201
        limited = await register(client, **{"X-Forwarded-For": new_address()})
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == "too_many_attempts"
    retry_after = int(limited.headers["Retry-After"])
    assert 0 < retry_after <= get_settings().registration_window_seconds
    async with from_address(new_address()) as elsewhere:
        assert (await register(elsewhere)).status_code == 201


async def test_a_weak_password_does_not_use_the_address_share():
    async with from_address(new_address()) as client:
        for _ in range(get_settings().registrations_per_address + 1):
            weak = await client.post(
                "/user_registration",
                json={"email": f"w-{uuid.uuid4().hex[:8]}@example.com", "password": "1234567890"},
            )
            assert weak.status_code == 422
        assert (await register(client)).status_code == 201
