"""The foundation end to end: real processes, real Postgres, real Redis Streams."""

import uuid

import httpx
import pytest

from scripts.processes import HTTP_SERVICES
from tests.support.db import sql
from tests.support.polling import eventually


@pytest.mark.parametrize("service", list(HTTP_SERVICES))
def test_every_http_process_reports_healthy(platform, service):
    response = httpx.get(f"{platform.urls[service]}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_registered_user_reaches_loyalty_side_by_itself(platform):
    """Pushed through auth's outbox, the stream and the user sync, with no one asking. It takes
    well under a second on a quiet machine; the bound here is for a busy one (a lag is a
    benchmark's figure, not an assertion)."""
    email = f"skeleton-{uuid.uuid4().hex[:10]}@example.com"
    async with httpx.AsyncClient(base_url=platform.urls["auth"]) as client:
        response = await client.post(
            "/api/v1/auth/user_registration", json={"email": email, "password": "s3cret-pass!"}
        )
    assert response.status_code == 201, response.text
    user_id = uuid.UUID(response.json()["id"])

    async def replica() -> list[dict]:
        return await sql("SELECT * FROM users WHERE id = :id", id=user_id)

    [row] = await eventually(
        replica, timeout=5.0, interval=0.02, message="user.registered reaching loyalty's users"
    )
    assert row["status"] == "active"
    assert email not in str(row), "the loyalty side must not learn the email"


def test_registering_the_same_email_twice_is_a_409(platform):
    email = f"twice-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": "s3cret-pass!"}
    first = httpx.post(f"{platform.urls['auth']}/api/v1/auth/user_registration", json=body)
    second = httpx.post(
        f"{platform.urls['auth']}/api/v1/auth/user_registration",
        json={**body, "email": email.upper()},
    )
    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "email_taken"


def test_invalid_body_gets_the_error_shape(platform):
    response = httpx.post(
        f"{platform.urls['auth']}/api/v1/auth/user_registration", json={"email": "nope"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"]
    assert error["details"]["errors"]
