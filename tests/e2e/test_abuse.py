"""Abuse of auth over HTTP, against the real processes: who the client is (X-Forwarded-For
believed from the configured proxy only) and the login lock policy (docs/security.md).

The platform trusts 127.0.0.1 as its gateway (tests/support/platform.py). A client calling a
service port directly is played from another loopback address (127.x.y.z, all of 127/8 is
this machine), a new one per test so the counters of one test never reach another.
"""

import uuid

import httpx

from core.config import get_settings
from tests.support.polling import eventually

AUTH = "/api/v1/auth"
PASSWORD = "s3cret-pass!"


def new_email() -> str:
    return f"abuse-{uuid.uuid4().hex[:12]}@example.com"


def new_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 251}.{(n >> 8) % 251}.{(n >> 16) % 251}"


def new_loopback() -> str:
    """A loopback address other than the trusted 127.0.0.1."""
    n = uuid.uuid4().int
    return f"127.{1 + n % 250}.{(n >> 8) % 251}.{2 + (n >> 16) % 250}"


def auth_client(platform, source: str = "127.0.0.1") -> httpx.AsyncClient:
    """A client whose connections come from `source` (127.0.0.1: the trusted proxy)."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=platform.urls["auth"] + AUTH, transport=transport)


async def registered(platform) -> str:
    email = new_email()
    async with auth_client(platform) as client:
        response = await client.post(
            "/user_registration",
            json={"email": email, "password": PASSWORD},
            headers={"X-Forwarded-For": new_address()},
        )
    assert response.status_code == 201, response.text
    return email


async def login(client, email: str, password: str = PASSWORD, forwarded_for: str | None = None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.post("/login", json={"email": email, "password": password}, headers=headers)


async def test_a_spoofed_forwarded_for_on_the_service_port_does_not_escape_the_address_limit(
    platform,
):
    limit = get_settings().login_failures_per_address
    email = await registered(platform)
    async with auth_client(platform, new_loopback()) as direct:
        for _ in range(limit):
            # A new unknown email and a new "client address" every time: neither helps.
            response = await login(direct, new_email(), forwarded_for=new_address())
            assert response.status_code == 401, response.text
        limited = await login(direct, email, forwarded_for=new_address())
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == "too_many_attempts"
    async with auth_client(platform, new_loopback()) as elsewhere:
        assert (await login(elsewhere, email)).status_code == 200


async def test_the_forwarded_for_of_the_configured_proxy_names_the_client(platform):
    limit = get_settings().login_failures_per_address
    email = await registered(platform)
    attacker, owner = new_address(), new_address()
    async with auth_client(platform) as gateway:
        for _ in range(limit):
            response = await login(gateway, new_email(), forwarded_for=attacker)
            assert response.status_code == 401, response.text
        locked = await login(gateway, email, forwarded_for=attacker)
        # The gateway's other clients, and the client a spoofing attacker claims to be behind
        # the gateway (its own header, then the address the gateway appended), are not locked.
        allowed = await login(gateway, email, forwarded_for=owner)
        spoofed = await login(gateway, email, forwarded_for=f"{attacker}, {new_address()}")
    assert locked.status_code == 429
    assert allowed.status_code == 200, allowed.text
    assert spoofed.status_code == 200, spoofed.text


async def test_an_attacker_cannot_lock_the_owner_out_from_one_address(platform):
    limit = get_settings().login_failures_per_email_and_address
    email = await registered(platform)
    attacker = new_address()
    async with auth_client(platform) as gateway:
        answers = [
            (await login(gateway, email, "wrong-password", attacker)).status_code
            for _ in range(limit + 3)
        ]
        owner = await login(gateway, email, forwarded_for=new_address())
    assert answers == [401] * limit + [429] * 3
    assert owner.status_code == 200, owner.text


async def test_guessing_one_account_from_many_addresses_only_delays_the_owner_for_seconds(
    platform,
):
    settings = get_settings()
    after = settings.login_backoff_after_failures_per_email
    per_pair = settings.login_failures_per_email_and_address
    email = await registered(platform)
    async with auth_client(platform) as gateway:
        failures = 0
        while failures < after:  # a few guesses from each of many addresses
            attacker = new_address()
            for _ in range(min(per_pair - 1, after - failures)):
                answer = await login(gateway, email, "wrong-password", attacker)
                assert answer.status_code == 401, answer.text
                failures += 1
        # One more guess once the first backoff (1 s) is over: the next wait is 2 s.
        late_guess = await eventually(
            lambda: login(gateway, email, "wrong-password", new_address()),
            timeout=10,
            interval=0.25,
            until=lambda response: response.status_code != 429,
            message="a guess after the first backoff",
        )
        assert late_guess.status_code == 401, late_guess.text
        slowed = await login(gateway, email, forwarded_for=new_address())
        assert slowed.status_code == 429, slowed.text
        assert 1 <= int(slowed.headers["Retry-After"]) <= 2

        owner = await eventually(
            lambda: login(gateway, email, forwarded_for=new_address()),
            timeout=settings.login_backoff_max_seconds + 5,
            interval=0.25,
            until=lambda response: response.status_code != 429,
            message="the owner's login after the backoff",
        )
    assert owner.status_code == 200, owner.text
