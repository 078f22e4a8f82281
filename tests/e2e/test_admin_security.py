"""The admin's defences: a change needs the session's CSRF token and a POST; the cookie holds
an opaque session id only; signing out and a refused sign-in end the tokens at auth."""

import base64
import json
import uuid

import httpx
import pytest
from sqlalchemy import text

from core.config import get_settings
from core.db import get_engine
from core.redis import get_redis
from tests.support.admin import AdminClient, code_form, new_account, operator
from tests.support.db import sql

__all__ = ["operator"]  # the fixture


async def new_code(client: AdminClient) -> dict:
    code = f"SEC{uuid.uuid4().hex[:8].upper()}"
    response = await client.send_form("/admin/promocode/create", code_form(code))
    assert response.status_code == 302, response.text[-1500:]
    [row] = await sql("SELECT id, code, is_active FROM promocodes WHERE code = :c", c=code)
    return row


async def auth_rows(statement: str, **params) -> list[dict]:
    async with get_engine(get_settings().auth_database_url).begin() as conn:
        return [dict(r) for r in (await conn.execute(text(statement), params)).mappings()]


def cookie_payload(client: httpx.AsyncClient) -> dict:
    """What the signed session cookie says (its first part is plain base64 JSON)."""
    raw = client.cookies["admin_session"].split(".")[0]
    return json.loads(base64.b64decode(raw + "=" * (-len(raw) % 4)))


async def test_a_form_post_replayed_without_the_csrf_token_is_refused_and_changes_nothing(
    operator,
):
    name = f"Forged {uuid.uuid4().hex[:8]}"
    forged = await operator.post(
        "/admin/tariff/create",
        data={"name": name, "price": "1.00", "currency": "RUB", "is_active": "y"},
    )
    assert forged.status_code == 403
    wrong = await operator.post(
        "/admin/tariff/create",
        data={"name": name, "price": "1.00", "currency": "RUB", "csrf_token": "0" * 64},
    )
    assert wrong.status_code == 403
    assert await sql("SELECT id FROM tariffs WHERE name = :n", n=name) == []


async def test_another_sessions_token_does_not_pass(platform, operator):
    async with AdminClient(base_url=platform.urls["admin"]) as stranger:
        their_token = await stranger.refresh_csrf()
    name = f"Forged {uuid.uuid4().hex[:8]}"
    response = await operator.post(
        "/admin/tariff/create",
        data={"name": name, "price": "1.00", "currency": "RUB", "csrf_token": their_token},
    )
    assert response.status_code == 403
    assert await sql("SELECT id FROM tariffs WHERE name = :n", n=name) == []


async def test_a_get_of_the_disable_action_only_asks_for_confirmation(operator):
    code = await new_code(operator)
    # What an <img src=".../action/disable?pks=..."> on any page would send.
    page = await operator.get("/admin/promocode/action/disable", params={"pks": code["id"]})
    assert page.status_code == 200
    assert code["code"] in page.text and 'method="post"' in page.text
    [row] = await sql("SELECT is_active FROM promocodes WHERE id = :i", i=code["id"])
    assert row["is_active"] is True
    forged = await operator.post("/admin/promocode/action/disable", data={"pks": code["id"]})
    assert forged.status_code == 403
    [row] = await sql("SELECT is_active FROM promocodes WHERE id = :i", i=code["id"])
    assert row["is_active"] is True


async def test_a_delete_without_the_token_removes_nothing(operator):
    group_name = f"sec-{uuid.uuid4().hex[:8]}"
    created = await operator.send_form(
        "/admin/user-group/create", {"name": group_name, "description": ""}
    )
    assert created.status_code == 302, created.text[-1500:]
    [group] = await sql("SELECT id FROM user_groups WHERE name = :n", n=group_name)
    [user] = await sql(
        "INSERT INTO users (id, status, registered_at, updated_at) "
        "VALUES (gen_random_uuid(), 'active', now(), now()) RETURNING id"
    )
    await sql(
        "INSERT INTO group_members (group_id, user_id, added_at) VALUES (:g, :u, now())",
        g=group["id"],
        u=user["id"],
    )
    pk = f"{group['id']};{user['id']}"
    response = await operator.delete("/admin/group-member/delete", params={"pks": pk})
    assert response.status_code == 403
    assert len(await sql("SELECT 1 FROM group_members WHERE group_id = :g", g=group["id"])) == 1


async def test_the_cookie_carries_an_opaque_session_id_and_no_token(operator):
    payload = cookie_payload(operator)
    assert set(payload) == {"sid"}
    assert len(operator.cookies["admin_session"]) < 200  # an id and a signature, no JWT
    stored = await get_redis(get_settings().redis_url).get(f"admin:session:{payload['sid']}")
    assert "access_token" in json.loads(stored)


async def test_the_cookie_is_http_only_and_same_site(platform):
    async with AdminClient(base_url=platform.urls["admin"]) as client:
        response = await client.get("/admin/login")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert response.headers["x-frame-options"] == "DENY"


async def test_a_get_of_sign_out_only_asks(operator):
    page = await operator.get("/admin/logout")
    assert page.status_code == 200 and 'method="post"' in page.text
    assert (await operator.get("/admin/users")).status_code == 200


async def test_signing_out_ends_the_tokens_at_auth(platform, operator):
    sid = cookie_payload(operator)["sid"]
    redis = get_redis(get_settings().redis_url)
    tokens = json.loads(await redis.get(f"admin:session:{sid}"))
    assert (await operator.send_form("/admin/logout")).status_code == 302
    assert await redis.get(f"admin:session:{sid}") is None
    async with httpx.AsyncClient(base_url=platform.urls["auth"]) as auth:
        refreshed = await auth.post(
            "/api/v1/auth/refresh_token", json={"refresh_token": tokens["refresh_token"]}
        )
        me = await auth.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    assert refreshed.status_code == 401
    assert me.status_code == 401


async def test_a_buyer_refused_at_sign_in_has_the_tokens_auth_issued_ended(platform):
    email = await new_account("user")
    async with AdminClient(base_url=platform.urls["admin"]) as client:
        response = await client.sign_in(email)
    assert response.status_code == 400
    [user] = await auth_rows("SELECT id FROM users WHERE email = :e", e=email)
    families = await auth_rows(
        "SELECT revoked_at FROM refresh_tokens WHERE user_id = :u", u=user["id"]
    )
    assert families and all(f["revoked_at"] is not None for f in families)


@pytest.mark.parametrize("path", ["/admin/logout", "/admin/users", "/admin/pipeline"])
async def test_no_change_without_a_token_on_the_console_pages(operator, path):
    response = await operator.post(path, data={"op": "assign"})
    assert response.status_code == 403
    assert (await operator.get("/admin/users")).status_code == 200  # still signed in


async def test_a_token_of_any_text_is_refused_not_a_server_error(operator):
    response = await operator.post("/admin/users", data={"op": "assign", "csrf_token": "ж" * 64})
    assert response.status_code == 403
