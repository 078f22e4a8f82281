"""Emails and password hashes live in the auth database only.

Runs a user through every auth flow that publishes (register, block, unblock, delete), waits
until the loyalty side has followed, then reads every row of every table of the loyalty
database as text and looks for any email auth has ever stored in this test database.
"""

import re
import uuid

import httpx
from sqlalchemy import text

from core.db import get_engine
from tests.support.db import loyalty_status
from tests.support.factories import bearer
from tests.support.polling import eventually

AUTH = "/api/v1/auth"
PASSWORD = "s3cret-pass!"
EMAIL_PATTERN = re.compile(r"([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)")


def email_candidates(dump: str) -> set[str]:
    """Everything in the dump that could be an email, however it is glued to its neighbours:
    each address-like match with every start of its local part and every end of its domain."""
    candidates = set()
    for local, domain in EMAIL_PATTERN.findall(dump.lower()):
        inner_dots = [i for i, char in enumerate(domain) if char == "."][1:]
        ends = [*inner_dots, len(domain)]
        for start in range(len(local)):
            candidates.update(f"{local[start:]}@{domain[:end]}" for end in ends)
    return candidates


async def loyalty_dump(settings) -> str:
    """Every row of every table of the loyalty database, as Postgres prints it."""
    async with get_engine(settings.loyalty_database_url).connect() as conn:
        tables = (
            await conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                )
            )
        ).scalars()
        parts = []
        for table in list(tables):
            rows = await conn.execute(text(f'SELECT t::text FROM "{table}" t'))
            parts.extend(rows.scalars())
    return "\n".join(parts)


async def auth_emails(settings) -> set[str]:
    async with get_engine(settings.auth_database_url).connect() as conn:
        return set((await conn.execute(text("SELECT email FROM users"))).scalars())


async def wait_for_loyalty_status(user_id: str, status: str) -> None:
    await eventually(lambda: loyalty_status(user_id), until=lambda found: found == status)


async def test_loyalty_database_holds_no_email_or_password_hash(platform, settings):
    operator = bearer(uuid.uuid4(), "operator")
    email = f"privacy-{uuid.uuid4().hex[:12]}@example.com"
    async with httpx.AsyncClient(base_url=platform.urls["auth"] + AUTH) as client:
        registered = await client.post(
            "/user_registration", json={"email": email, "password": PASSWORD}
        )
        user_id = registered.json()["id"]
        # One that stays: the search below must find its email in auth.
        kept_email = f"privacy-kept-{uuid.uuid4().hex[:12]}@example.com"
        kept = await client.post(
            "/user_registration", json={"email": kept_email, "password": PASSWORD}
        )
        await wait_for_loyalty_status(kept.json()["id"], "active")
        await wait_for_loyalty_status(user_id, "active")
        assert (await client.post(f"/users/{user_id}/block", headers=operator)).status_code == 204
        await wait_for_loyalty_status(user_id, "blocked")
        assert (await client.post(f"/users/{user_id}/unblock", headers=operator)).status_code == 204
        await wait_for_loyalty_status(user_id, "active")
        login = await client.post("/login", json={"email": email, "password": PASSWORD})
        me = {"Authorization": f"Bearer {login.json()['access_token']}"}
        deleted = await client.post("/delete", json={"password": PASSWORD}, headers=me)
        assert deleted.status_code == 204
    await wait_for_loyalty_status(user_id, "deleted")

    dump = await loyalty_dump(settings)
    known_emails = await auth_emails(settings)
    assert kept_email in known_emails and user_id in dump  # the search looks at the right data
    assert email not in known_emails, "a deleted account's email is removed from auth too"
    leaked = email_candidates(dump) & known_emails
    assert not leaked, f"emails found in the loyalty database: {sorted(leaked)[:5]}"
    assert "$argon2" not in dump and "$2b$" not in dump
