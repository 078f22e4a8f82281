"""The admin screens over HTTP: operator sign-in through auth, writes through the domain
handlers (rows and outbox events), and revocation honoured on the next request."""

import csv
import io
import re
import uuid

import httpx
import pytest

from auth.cli import create_user
from tests.support.db import events_for, sql

PASSWORD = "operator-pass-1"


def alerts(html: str) -> str:
    """The error messages the admin shows above a form."""
    return " ".join(re.findall(r"(?s)alert-danger[^>]*>(.*?)</div", html))


async def new_account(role: str) -> str:
    email = f"admin-{role}-{uuid.uuid4().hex[:10]}@example.com"
    await create_user(email, PASSWORD, role)
    return email


async def signed_in(platform, role: str = "operator") -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=platform.urls["admin"], timeout=10)
    response = await client.post(
        "/admin/login", data={"username": await new_account(role), "password": PASSWORD}
    )
    assert response.status_code == 302, response.text
    return client


@pytest.fixture
async def operator(platform):
    client = await signed_in(platform)
    yield client
    await client.aclose()


async def test_anonymous_visitor_is_sent_to_the_login_page(platform):
    async with httpx.AsyncClient(base_url=platform.urls["admin"]) as client:
        response = await client.get("/admin/promocode/list")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["location"]


async def test_a_buyer_account_cannot_sign_in(platform):
    async with httpx.AsyncClient(base_url=platform.urls["admin"]) as client:
        response = await client.post(
            "/admin/login", data={"username": await new_account("user"), "password": PASSWORD}
        )
        assert response.status_code == 400
        assert (await client.get("/admin/promocode/list")).status_code == 302


async def test_every_screen_opens_for_an_operator(operator):
    for identity in [
        "tariff",
        "promocode",
        "user-group",
        "group-member",
        "promocode-assignment",
        "purchase",
        "promocode-attempt",
        "promocode-batch",
        "user",
    ]:
        response = await operator.get(f"/admin/{identity}/list")
        assert response.status_code == 200, identity
    assert (await operator.get("/admin/operations")).status_code == 200


async def test_creating_a_tariff_goes_through_the_handler_and_emits_its_event(operator):
    name = f"Admin tariff {uuid.uuid4().hex[:8]}"
    response = await operator.post(
        "/admin/tariff/create",
        data={"name": name, "price": "19900", "currency": "RUB", "is_active": "y"},
    )
    assert response.status_code == 302, response.text
    [row] = await sql("SELECT id, price FROM tariffs WHERE name = :n", n=name)
    assert row["price"] == 19_900
    assert len(await events_for(row["id"], "tariff.created")) == 1


async def test_a_code_breaking_the_domain_rules_is_refused_with_the_reason(operator):
    code = f"ADM{uuid.uuid4().hex[:8].upper()}"
    response = await operator.post(
        "/admin/promocode/create",
        data={
            "code": code,
            "discount_type": "percent",
            "value": "150",
            "audience": "everyone",
            "per_user_limit": "1",
            "is_active": "y",
        },
    )
    assert response.status_code == 400
    assert "between 1 and 100" in alerts(response.text)
    assert await sql("SELECT id FROM promocodes WHERE code = :c", c=code) == []


async def test_disabling_a_code_from_the_list(operator):
    code = f"ADM{uuid.uuid4().hex[:8].upper()}"
    created = await operator.post(
        "/admin/promocode/create",
        data={
            "code": code.lower(),
            "discount_type": "amount",
            "value": "5000",
            "audience": "everyone",
            "per_user_limit": "1",
            "is_active": "y",
        },
    )
    assert created.status_code == 302, alerts(created.text)
    [row] = await sql("SELECT id, is_active FROM promocodes WHERE code = :c", c=code)
    assert row["is_active"] is True
    response = await operator.get("/admin/promocode/action/disable", params={"pks": str(row["id"])})
    assert response.status_code == 302
    [row] = await sql("SELECT id, is_active FROM promocodes WHERE code = :c", c=code)
    assert row["is_active"] is False
    updates = await events_for(row["id"], "promocode.updated")
    assert updates[-1]["payload"]["is_active"] is False


async def test_generator_page_creates_a_batch_downloadable_as_csv(operator):
    response = await operator.post(
        "/admin/operations",
        data={
            "op": "generate",
            "count": "25",
            "prefix": "ADM",
            "discount_type": "percent",
            "value": "15",
            "max_uses": "1",
            "tariff_ids": "",
        },
    )
    assert response.status_code == 200
    assert "Download CSV" in response.text, response.text[-2000:]
    [batch] = await sql("SELECT id FROM promocode_batches ORDER BY created_at DESC LIMIT 1")
    download = await operator.get("/admin/operations", params={"batch_csv": str(batch["id"])})
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 25
    assert all(r["code"].startswith("ADM") for r in rows)


async def test_signing_out_ends_the_admin_session(operator):
    assert (await operator.get("/admin/promocode/list")).status_code == 200
    assert (await operator.get("/admin/logout")).status_code == 302
    assert (await operator.get("/admin/promocode/list")).status_code == 302


async def test_an_operator_blocked_in_auth_is_locked_out_of_the_admin_at_once(platform):
    operator_email = await new_account("operator")
    admin_email = await new_account("admin")
    async with httpx.AsyncClient(base_url=platform.urls["auth"]) as auth:
        admin_login = await auth.post(
            "/api/v1/auth/login", json={"email": admin_email, "password": PASSWORD}
        )
        admin_headers = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}
        async with httpx.AsyncClient(base_url=platform.urls["admin"]) as screens:
            login = await screens.post(
                "/admin/login", data={"username": operator_email, "password": PASSWORD}
            )
            assert login.status_code == 302
            assert (await screens.get("/admin/promocode/list")).status_code == 200
            me = await auth.post(
                "/api/v1/auth/login", json={"email": operator_email, "password": PASSWORD}
            )
            operator_id = (
                await auth.get(
                    "/api/v1/auth/me",
                    headers={"Authorization": f"Bearer {me.json()['access_token']}"},
                )
            ).json()["id"]
            blocked = await auth.post(
                f"/api/v1/auth/users/{operator_id}/block", headers=admin_headers
            )
            assert blocked.status_code == 204
            assert (await screens.get("/admin/promocode/list")).status_code == 302
