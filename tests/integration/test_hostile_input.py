"""Hostile input is refused at the edge with a 4xx and a reason, never a 500: NUL and other
control characters in any text, and times outside what every layer can hold."""

import uuid

import httpx
import pytest

import auth.app
import command_api.app
import query_api.app
from tests.support.factories import bearer, create_loyalty_user, create_promocode, create_tariff
from tests.support.http import asgi_client

API = "/api/v1/loyalty"
OPERATOR = bearer(uuid.uuid4(), "operator")
NUL = "bad\x00text"

CODE_TERMS = {"discount_type": "percent", "value": 10}


def refused(response) -> str:
    assert response.status_code == 422, response.text
    return response.json()["error"]["code"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/tariffs", {"name": NUL, "price": 100}),
        ("/groups", {"name": "g", "description": NUL}),
        ("/promocodes", {"code": "NULCODE1", "description": NUL, **CODE_TERMS}),
        ("/promocodes/generate", {"count": 1, "prefix": "A\x00", **CODE_TERMS}),
    ],
)
async def test_control_characters_in_operator_text_are_refused(path, body):
    async with asgi_client(command_api.app.app) as client:
        response = await client.post(f"{API}{path}", json=body, headers=OPERATOR)
    assert refused(response) == "validation_error"


async def test_control_characters_in_buyer_text_are_refused():
    user = await create_loyalty_user()
    tariff = await create_tariff()
    async with asgi_client(command_api.app.app) as client:
        for path, body in (
            ("/apply_promocode", {"promocode": NUL, "tariff_id": tariff.id}),
            ("/use_promocode", {"promocode": NUL, "tariff_id": tariff.id}),
            ("/cancel_use_promocode", {"purchase_id": str(uuid.uuid4()), "reason": NUL}),
        ):
            response = await client.post(f"{API}{path}", json=body, headers=bearer(user))
            assert refused(response) == "validation_error", path


@pytest.mark.parametrize("field", ["email", "password"])
async def test_a_nul_in_a_login_is_refused_without_a_token(field):
    body = {"email": "someone@example.com", "password": "a-long-password", field: NUL}
    async with asgi_client(auth.app.app) as client:
        response = await client.post("/api/v1/auth/login", json=body)
    assert refused(response) == "validation_error"


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # moved to UTC it would overflow
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31T23:59:59-01:00",
        "1999-12-31T23:59:59Z",
    ],
)
async def test_times_out_of_range_are_refused_everywhere(moment):
    async with asgi_client(command_api.app.app) as client:
        for field in ("valid_from", "valid_until"):
            code = {"code": f"T-{uuid.uuid4().hex[:10].upper()}", field: moment, **CODE_TERMS}
            created = await client.post(f"{API}/promocodes", json=code, headers=OPERATOR)
            assert refused(created) == "validation_error", field
            batch = {"count": 1, field: moment, **CODE_TERMS}
            generated = await client.post(
                f"{API}/promocodes/generate", json=batch, headers=OPERATOR
            )
            assert refused(generated) == "validation_error", field
        promo = await create_promocode()
        changed = await client.patch(
            f"{API}/promocodes/{promo.id}", json={"valid_until": moment}, headers=OPERATOR
        )
        assert refused(changed) == "validation_error"
    async with asgi_client(query_api.app.app) as client:
        for params in ({"since": moment}, {"promocode": NUL}, {"reason": NUL}):
            listed = await client.get(f"{API}/attempts", params=params, headers=OPERATOR)
            assert refused(listed) == "validation_error", params


async def test_a_naive_time_is_taken_as_utc_and_answered_with_its_zone():
    async with asgi_client(command_api.app.app) as client:
        code = {"code": f"T-{uuid.uuid4().hex[:10].upper()}", **CODE_TERMS}
        body = {**code, "valid_from": "2030-01-01T10:00:00", "valid_until": "2031-01-01T00:00:00"}
        created = await client.post(f"{API}/promocodes", json=body, headers=OPERATOR)
    assert created.status_code == 201, created.text
    assert created.json()["valid_from"].startswith("2030-01-01T10:00:00")
    assert created.json()["valid_from"].endswith("Z")


async def test_a_body_over_the_limit_is_refused_before_it_is_read(settings):
    too_big = "x" * (settings.max_body_bytes + 1)
    async with asgi_client(auth.app.app) as client:
        response = await client.post(
            "/api/v1/auth/login", content=too_big, headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("app", [auth.app.app, command_api.app.app, query_api.app.app])
async def test_head_is_answered_like_get_without_a_body(app):
    async with asgi_client(app) as client:
        got, head = await client.get("/health"), await client.head("/health")
    assert (head.status_code, head.content) == (got.status_code, b"")
    assert head.headers["content-type"] == got.headers["content-type"]


async def test_a_body_without_a_length_is_cut_off_at_the_limit(settings):
    async def chunks():
        for _ in range(settings.max_body_bytes // 65_536 + 2):
            yield b"x" * 65_536

    async with asgi_client(auth.app.app) as client:
        response = await client.post(
            "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_token_answers_are_never_cached():
    email = f"cache-{uuid.uuid4().hex[:10]}@example.com"
    credentials = {"email": email, "password": "s3cret-pass!"}
    # A client address of its own: the e2e platform's registrations from 127.0.0.1 (allowed
    # there by the million) share Redis with this in-process app and its limit of 20.
    transport = httpx.ASGITransport(
        app=auth.app.app, client=(f"127.0.7.{uuid.uuid4().int % 250 + 1}", 123)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        registered = await client.post("/api/v1/auth/user_registration", json=credentials)
        assert registered.status_code == 201, registered.text
        login = await client.post("/api/v1/auth/login", json=credentials)
        refresh = await client.post(
            "/api/v1/auth/refresh_token", json={"refresh_token": login.json()["refresh_token"]}
        )
    for answer in (login, refresh):
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
