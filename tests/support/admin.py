"""Driving the admin screens over HTTP as a browser would: sign in through the login form,
read the page's CSRF token, post forms with it."""

import re
import uuid
from html import unescape
from urllib.parse import urlencode

import httpx
import pytest

from auth.cli import create_user
from tests.support.db import loyalty_status
from tests.support.polling import eventually

PASSWORD = "operator-pass-1"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def alerts(html: str) -> str:
    """The error messages the admin shows above a form."""
    return " ".join(re.findall(r"(?s)alert-danger[^>]*>(.*?)</div", html))


FIELD_BLOCK = re.compile(r'(?s)<label[^>]*for="(\w+)".*?(?=<label[^>]*for=|</fieldset>)')
FEEDBACK = re.compile(r'(?s)<div class="invalid-feedback">(.*?)</div>')
MARKED = re.compile(r'(?s)data-problem="(\w+)">(.*?)</div>')


def html_text(fragment: str) -> str:
    return unescape(fragment).strip()


def field_problems(html: str) -> dict[str, str]:
    """field name -> the message shown under that field (SQLAdmin's forms and the console's
    own, which mark a message with data-problem)."""
    found = {}
    for block in FIELD_BLOCK.finditer(html):
        if messages := FEEDBACK.findall(block.group(0)):
            found[block.group(1)] = " ".join(html_text(m) for m in messages)
    for name, message in MARKED.findall(html):
        found[name] = f"{found.get(name, '')} {html_text(message)}".strip()
    return found


def code_form(code: str, **fields: str) -> dict[str, str]:
    """The promo code create form as an operator fills it: 10% off for everyone, once per
    user, active; `fields` change or add to that."""
    return {
        "code": code,
        "discount_type": "percent",
        "value": "10",
        "audience": "everyone",
        "per_user_limit": "1",
        "is_active": "y",
        **fields,
    }


async def new_account(role: str) -> str:
    email = f"admin-{role}-{uuid.uuid4().hex[:10]}@example.com"
    await create_user(email, PASSWORD, role)
    return email


class AdminClient(httpx.AsyncClient):
    """A browser on the admin: `send_form` adds the session's CSRF token, as the pages do."""

    csrf: str = ""

    async def refresh_csrf(self, path: str = "/admin/login") -> str:
        response = await self.get(path)
        self.csrf = csrf_of(response.text)
        return self.csrf

    async def send_form(self, path: str, data: dict | list | None = None) -> httpx.Response:
        """`data` as a dict or, for repeated fields (ticked boxes), a list of pairs."""
        fields = list(data.items()) if isinstance(data, dict) else list(data or [])
        return await self.post(
            path,
            content=urlencode([*fields, ("csrf_token", self.csrf)]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        await self.refresh_csrf()
        response = await self.send_form("/admin/login", {"username": email, "password": password})
        if response.status_code == 302:
            await self.refresh_csrf("/admin/")  # a new session: a new token
        return response


async def signed_in(platform, role: str = "operator") -> AdminClient:
    client = AdminClient(base_url=platform.urls["admin"], timeout=10)
    response = await client.sign_in(await new_account(role))
    assert response.status_code == 302, response.text
    return client


async def registered_buyer(platform, email: str | None = None) -> tuple[uuid.UUID, str]:
    """A buyer registered at auth and known to the loyalty side (synced by the workers)."""
    email = email or f"buyer-{uuid.uuid4().hex[:10]}@example.com"
    async with httpx.AsyncClient(base_url=platform.urls["auth"]) as auth:
        response = await auth.post(
            "/api/v1/auth/user_registration", json={"email": email, "password": PASSWORD}
        )
    assert response.status_code == 201, response.text
    user_id = uuid.UUID(response.json()["id"])
    await eventually(lambda: loyalty_status(user_id))
    return user_id, email


@pytest.fixture
async def operator(platform):
    """A signed-in operator's browser (import this fixture into the test module)."""
    client = await signed_in(platform)
    yield client
    await client.aclose()
