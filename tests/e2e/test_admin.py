"""The admin screens over HTTP: operator sign-in through auth, writes through the domain
handlers (rows and outbox events), and revocation honoured on the next request."""

import csv
import io
import uuid

import httpx

from tests.support.admin import (
    AdminClient,
    alerts,
    code_form,
    field_problems,
    new_account,
    operator,
)
from tests.support.db import events_for, sql

__all__ = ["operator"]  # the fixture


async def test_anonymous_visitor_is_sent_to_the_login_page(platform):
    async with httpx.AsyncClient(base_url=platform.urls["admin"]) as client:
        response = await client.get("/admin/promocode/list")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["location"]


async def test_a_buyer_account_cannot_sign_in(platform):
    async with AdminClient(base_url=platform.urls["admin"]) as client:
        response = await client.sign_in(await new_account("user"))
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
    ]:
        response = await operator.get(f"/admin/{identity}/list")
        assert response.status_code == 200, identity
    for page in ["/admin/", "/admin/operations", "/admin/users", "/admin/pipeline"]:
        assert (await operator.get(page)).status_code == 200, page


async def test_creating_a_tariff_goes_through_the_handler_and_emits_its_event(operator):
    name = f"Admin tariff {uuid.uuid4().hex[:8]}"
    response = await operator.send_form(
        "/admin/tariff/create",
        {"name": name, "price": "199.00", "currency": "RUB", "is_active": "y"},
    )
    assert response.status_code == 302, response.text
    [row] = await sql("SELECT id, price FROM tariffs WHERE name = :n", n=name)
    assert row["price"] == 19_900
    # Other tests write synthetic events whose aggregate id may equal this tariff's id.
    created = await events_for(row["id"], "tariff.created")
    assert [e["payload"]["id"] for e in created if e["payload"].get("name") == name] == [row["id"]]


async def test_a_code_breaking_the_domain_rules_is_refused_with_the_reason(operator):
    code = f"ADM{uuid.uuid4().hex[:8].upper()}"
    response = await operator.send_form("/admin/promocode/create", code_form(code, value="150"))
    assert response.status_code == 400
    assert "between 1 and 100" in field_problems(response.text)["value"]
    assert await sql("SELECT id FROM promocodes WHERE code = :c", c=code) == []


async def test_disabling_a_code_from_the_list(operator):
    code = f"ADM{uuid.uuid4().hex[:8].upper()}"
    created = await operator.send_form(
        "/admin/promocode/create",
        code_form(code.lower(), discount_type="amount", value="50.00"),
    )
    assert created.status_code == 302, alerts(created.text)
    [row] = await sql("SELECT id, is_active FROM promocodes WHERE code = :c", c=code)
    assert row["is_active"] is True
    response = await operator.send_form("/admin/promocode/action/disable", {"pks": str(row["id"])})
    assert response.status_code == 303
    [row] = await sql("SELECT id, is_active FROM promocodes WHERE code = :c", c=code)
    assert row["is_active"] is False
    updates = await events_for(row["id"], "promocode.updated")
    assert updates[-1]["payload"]["is_active"] is False


async def test_generator_page_creates_a_batch_downloadable_as_csv(operator):
    response = await operator.send_form(
        "/admin/operations",
        {
            "op": "generate",
            "count": "25",
            "prefix": "ADM",
            "discount_type": "percent",
            "value": "15",
            "max_uses": "1",
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
    assert (await operator.send_form("/admin/logout")).status_code == 302
    assert (await operator.get("/admin/promocode/list")).status_code == 302


async def test_an_operator_blocked_in_auth_is_locked_out_of_the_admin_at_once(platform):
    operator_email = await new_account("operator")
    admin_email = await new_account("admin")
    async with httpx.AsyncClient(base_url=platform.urls["auth"]) as auth:
        admin_login = await auth.post(
            "/api/v1/auth/login", json={"email": admin_email, "password": "operator-pass-1"}
        )
        admin_headers = {"Authorization": f"Bearer {admin_login.json()['access_token']}"}
        async with AdminClient(base_url=platform.urls["admin"]) as screens:
            login = await screens.sign_in(operator_email)
            assert login.status_code == 302
            assert (await screens.get("/admin/promocode/list")).status_code == 200
            me = await auth.post(
                "/api/v1/auth/login", json={"email": operator_email, "password": "operator-pass-1"}
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
