"""The auth service over HTTP, with the real processes: tokens, revocation on every service,
blocking, rate limits, two auth replicas, and `python -m auth create-user`.

Every login sends its own X-Forwarded-For (the platform trusts 127.0.0.1 as its gateway,
TRUSTED_PROXIES), so the per-address failure counters of one test never reach another.
"""

import subprocess
import sys
import uuid

import httpx
import pytest
from sqlalchemy import text

from core.config import get_settings
from core.db import get_engine
from core.security import decode_access_token
from tests.support.db import loyalty_status
from tests.support.factories import bearer
from tests.support.http import without_request_id
from tests.support.platform import PORT_OFFSET
from tests.support.polling import eventually

AUTH = "/api/v1/auth"
PASSWORD = "s3cret-pass!"
OPERATOR = bearer(uuid.uuid4(), "operator")
SECOND_AUTH_PORT = 8001 + PORT_OFFSET + 50

# One call each on the loyalty services that needs a bearer token (routes still being built).
LOYALTY_CALLS = {
    "query_api": ("GET", "/api/v1/loyalty/get_active_promocodes", None),
    "command_api": (
        "POST",
        "/api/v1/loyalty/apply_promocode",
        {"promocode": "NO-SUCH-CODE", "tariff_id": 1},
    ),
}


def new_email() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}@example.com"


def new_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 251}.{(n >> 8) % 251}.{(n >> 16) % 251}"


def auth_client(platform, url: str | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=(url or platform.urls["auth"]) + AUTH)


async def register(client: httpx.AsyncClient, email: str | None = None) -> tuple[str, str]:
    email = email or new_email()
    response = await client.post("/user_registration", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return response.json()["id"], email


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, address: str | None = None
) -> httpx.Response:
    return await client.post(
        "/login",
        json={"email": email, "password": password},
        headers={"X-Forwarded-For": address or new_address()},
    )


async def fail_logins(
    client: httpx.AsyncClient, count: int, address: str, email: str | None = None
) -> None:
    """`count` failed logins from `address`: a wrong password for `email`, or without one a
    new unknown email each time (password spraying)."""
    for _ in range(count):
        response = await login(client, email or new_email(), "not-the-password", address)
        assert response.status_code == 401, response.text


async def tokens(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict:
    response = await login(client, email, password)
    assert response.status_code == 200, response.text
    return response.json()


def auth_header(pair: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def signed_in(client: httpx.AsyncClient) -> tuple[str, str, dict]:
    """A new account and the token pair of its first login: (user id, email, pair)."""
    user_id, email = await register(client)
    return user_id, email, await tokens(client, email)


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def call_loyalty(platform, service: str, headers: dict[str, str]) -> httpx.Response:
    method, path, body = LOYALTY_CALLS[service]
    async with httpx.AsyncClient(base_url=platform.urls[service]) as client:
        return await client.request(method, path, json=body, headers=headers)


async def skip_unless_route_exists(platform, service: str, valid: dict[str, str]) -> None:
    probe = await call_loyalty(platform, service, valid)
    if probe.status_code == 404 and error_code(probe) == "not_found":
        pytest.skip(f"{service} has no {LOYALTY_CALLS[service][1]} yet")
    assert probe.status_code != 401, probe.text


async def test_login_gives_a_bearer_pair_and_me_answers(platform):
    async with auth_client(platform) as client:
        user_id, email, pair = await signed_in(client)
        me = await client.get("/me", headers=auth_header(pair))
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 15 * 60
    assert pair["refresh_token"]
    assert me.status_code == 200
    body = me.json()
    assert (body["id"], body["email"], body["role"], body["status"]) == (
        user_id,
        email,
        "user",
        "active",
    )
    assert body["created_at"]


async def test_wrong_password_and_unknown_email_are_the_same_401(platform):
    async with auth_client(platform) as client:
        _, email = await register(client)
        wrong = await login(client, email, "not-the-password")
        unknown = await login(client, new_email())
    assert wrong.status_code == unknown.status_code == 401
    assert without_request_id(wrong.json()) == without_request_id(unknown.json())
    assert error_code(wrong) == "invalid_credentials"


async def test_weak_password_is_refused_at_registration(platform):
    async with auth_client(platform) as client:
        email = new_email()
        response = await client.post(
            "/user_registration", json={"email": email, "password": "1234567890"}
        )
    assert response.status_code == 422
    assert error_code(response) == "weak_password"


async def test_refresh_reuse_attack_ends_the_whole_family(platform):
    async with auth_client(platform) as client:
        *_, stolen = await signed_in(client)
        rotated = await client.post(
            "/refresh_token", json={"refresh_token": stolen["refresh_token"]}
        )
        assert rotated.status_code == 200, rotated.text
        newest = rotated.json()
        assert newest["refresh_token"] != stolen["refresh_token"]
        assert (await client.get("/me", headers=auth_header(newest))).status_code == 200

        replay = await client.post(
            "/refresh_token", json={"refresh_token": stolen["refresh_token"]}
        )
        assert replay.status_code == 401
        assert error_code(replay) == "token_reused"

        after = await client.post("/refresh_token", json={"refresh_token": newest["refresh_token"]})
        assert after.status_code == 401
        assert error_code(after) == "token_revoked"
        me = await client.get("/me", headers=auth_header(newest))
        assert me.status_code == 401
        assert error_code(me) == "token_revoked"


async def test_logout_ends_the_access_token_and_its_refresh_family(platform):
    async with auth_client(platform) as client:
        _, email, pair = await signed_in(client)
        other_device = await tokens(client, email)

        assert (await client.post("/logout", headers=auth_header(pair))).status_code == 204

        me = await client.get("/me", headers=auth_header(pair))
        assert me.status_code == 401
        assert error_code(me) == "token_revoked"
        refresh = await client.post("/refresh_token", json={"refresh_token": pair["refresh_token"]})
        assert refresh.status_code == 401
        assert error_code(refresh) == "token_revoked"
        assert (await client.get("/me", headers=auth_header(other_device))).status_code == 200


# Two ways a token dies before it expires: its user logs out, or an operator blocks the user.
REVOCATIONS = {
    "logout": lambda client, user_id, pair: client.post("/logout", headers=auth_header(pair)),
    "block": lambda client, user_id, pair: client.post(f"/users/{user_id}/block", headers=OPERATOR),
}


@pytest.mark.parametrize("revocation", list(REVOCATIONS))
@pytest.mark.parametrize("service", list(LOYALTY_CALLS))
async def test_a_revoked_token_is_refused_by_the_loyalty_service(platform, service, revocation):
    async with auth_client(platform) as client:
        user_id, _, pair = await signed_in(client)
        await skip_unless_route_exists(platform, service, auth_header(pair))
        assert (await REVOCATIONS[revocation](client, user_id, pair)).status_code == 204

    response = await call_loyalty(platform, service, auth_header(pair))
    assert response.status_code == 401, response.text
    assert error_code(response) == "token_revoked"


async def test_blocked_user_is_locked_out_until_unblocked(platform):
    async with auth_client(platform) as client:
        user_id, email, pair = await signed_in(client)

        assert (await client.post(f"/users/{user_id}/block", headers=OPERATOR)).status_code == 204

        refused_login = await login(client, email)
        assert refused_login.status_code == 403
        assert error_code(refused_login) == "account_blocked"
        me = await client.get("/me", headers=auth_header(pair))
        assert me.status_code == 401
        assert error_code(me) == "token_revoked"
        refresh = await client.post("/refresh_token", json={"refresh_token": pair["refresh_token"]})
        assert refresh.status_code == 401
        await eventually(lambda: loyalty_status(user_id), until=lambda s: s == "blocked")

        assert (await client.post(f"/users/{user_id}/unblock", headers=OPERATOR)).status_code == 204

        again = await tokens(client, email)
        assert (await client.get("/me", headers=auth_header(again))).json()["status"] == "active"
        await eventually(lambda: loyalty_status(user_id), until=lambda s: s == "active")


async def test_only_operators_block_and_look_up(platform):
    async with auth_client(platform) as client:
        user_id, email, pair = await signed_in(client)
        block = await client.post(f"/users/{user_id}/block", headers=auth_header(pair))
        lookup = await client.post(
            "/users/lookup", json={"ids": [user_id]}, headers=auth_header(pair)
        )
        assert block.status_code == lookup.status_code == 403
        assert error_code(block) == "forbidden"

        missing = await client.post(f"/users/{uuid.uuid4()}/block", headers=OPERATOR)
        assert missing.status_code == 404
        found = await client.post(
            "/users/lookup", json={"ids": [user_id, str(uuid.uuid4())]}, headers=OPERATOR
        )
    assert found.status_code == 200
    assert found.json() == [{"id": user_id, "email": email, "status": "active"}]


async def test_delete_needs_the_password_and_ends_the_account(platform):
    async with auth_client(platform) as client:
        user_id, email, pair = await signed_in(client)

        wrong = await client.post(
            "/delete", json={"password": "not-the-password"}, headers=auth_header(pair)
        )
        assert wrong.status_code == 401
        deleted = await client.post(
            "/delete", json={"password": PASSWORD}, headers=auth_header(pair)
        )
        assert deleted.status_code == 204

        assert (await client.get("/me", headers=auth_header(pair))).status_code == 401
        refused = await login(client, email)
        assert refused.status_code == 401
        assert error_code(refused) == "invalid_credentials"
    await eventually(lambda: loyalty_status(user_id), until=lambda s: s == "deleted")


async def test_two_auth_processes_are_interchangeable(platform):
    port = SECOND_AUTH_PORT
    second_url = platform.start_http("auth", port=port)
    try:
        async with auth_client(platform) as first, auth_client(platform, second_url) as second:
            user_id, email = await register(second)
            pair = await tokens(first, email)
            rotated = await second.post(
                "/refresh_token", json={"refresh_token": pair["refresh_token"]}
            )
            assert rotated.status_code == 200, rotated.text
            newest = rotated.json()
            assert (await first.get("/me", headers=auth_header(newest))).json()["id"] == user_id

            replay = await first.post(
                "/refresh_token", json={"refresh_token": pair["refresh_token"]}
            )
            assert error_code(replay) == "token_reused"

            fresh = await tokens(second, email)
            assert (await first.post("/logout", headers=auth_header(fresh))).status_code == 204
            assert (await second.get("/me", headers=auth_header(fresh))).status_code == 401
    finally:
        platform.stop_process(f"auth-{port}")


async def test_failed_logins_lock_that_address_out_of_that_account_only(platform):
    attacker = new_address()
    async with auth_client(platform) as client:
        _, email = await register(client)
        await fail_logins(
            client, get_settings().login_failures_per_email_and_address, attacker, email
        )
        # Even the right password, from that address, waits for the window to end...
        limited = await login(client, email, address=attacker)
        # ...while the owner, from anywhere else, logs in.
        owner = await login(client, email)
    assert limited.status_code == 429
    assert error_code(limited) == "too_many_attempts"
    retry_after = int(limited.headers["Retry-After"])
    assert 0 < retry_after <= get_settings().login_window_seconds
    assert owner.status_code == 200, owner.text


async def test_failed_logins_per_address_are_limited(platform):
    address = new_address()
    async with auth_client(platform) as client:
        _, email = await register(client)
        await fail_logins(client, get_settings().login_failures_per_address, address)
        limited = await login(client, email, address=address)
        elsewhere = await login(client, email, address=new_address())
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert elsewhere.status_code == 200


def create_user(platform, email: str, password: str, role: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "auth", "create-user", "--email", email]
    argv += ["--password", password, "--role", role]
    return subprocess.run(argv, env=platform.env, capture_output=True, text=True, timeout=60)


async def test_create_user_command_is_idempotent(platform, settings):
    email = new_email()
    first = create_user(platform, email, "operator-pass-1", "operator")
    second = create_user(platform, email, "operator-pass-2", "operator")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout.startswith("created") and second.stdout.startswith("updated")

    async with get_engine(settings.auth_database_url).connect() as conn:
        count = (
            await conn.execute(text("SELECT count(*) FROM users WHERE email = :e"), {"e": email})
        ).scalar()
    assert count == 1
    async with auth_client(platform) as client:
        assert (await login(client, email, "operator-pass-1")).status_code == 401
        pair = await tokens(client, email, "operator-pass-2")
        lookup = await client.post("/users/lookup", json={"ids": []}, headers=auth_header(pair))
    assert decode_access_token(pair["access_token"], settings)["role"] == "operator"
    assert lookup.status_code == 200


def test_create_user_refuses_a_weak_password(platform):
    result = create_user(platform, new_email(), "12345678", "user")
    assert result.returncode != 0
    assert "weak_password" in result.stderr
