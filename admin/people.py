"""Emails, asked of auth at request time with the operator's own token; never stored on the
loyalty side (nor cached here)."""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request

from admin import repository as repo
from admin import sessions
from admin.auth import AUTH_PREFIX
from core.config import get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    email: str
    status: str


async def _post(request: Request, path: str, body: dict) -> list[Account] | None:
    """None when auth cannot answer (the screens then show ids without emails)."""
    session = await sessions.load(request)
    if session is None:
        return None
    try:
        async with httpx.AsyncClient(base_url=get_settings().auth_service_url, timeout=5) as c:
            response = await c.post(
                f"{AUTH_PREFIX}{path}",
                json=body,
                headers={"Authorization": f"Bearer {session.access_token}"},
            )
    except httpx.HTTPError:
        log.warning("admin: auth unreachable for %s", path)
        return None
    if response.status_code != 200:
        log.warning("admin: auth answered %s for %s", response.status_code, path)
        return None
    return [Account(uuid.UUID(a["id"]), a["email"], a["status"]) for a in response.json()]


async def emails(request: Request, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """id → email for the accounts auth knows among `ids`."""
    ids = list(dict.fromkeys(ids))[:1000]
    if not ids:
        return {}
    found = await _post(request, "/users/lookup", {"ids": [str(i) for i in ids]})
    return {a.id: a.email for a in found or []}


async def search_by_email(request: Request, text: str) -> list[Account] | None:
    if len(text.strip()) < 3:
        return []
    return await _post(request, "/users/search", {"email": text.strip(), "limit": 50})


async def user_search(request: Request, query: str, status: str = "") -> list[dict[str, Any]]:
    """Users matching `query`: a part of an email (asked of auth) or of an id. Each row carries
    its email (from auth, at request time)."""
    query = query.strip()
    status_only = status or None
    async with repo.connection() as conn:
        if not query:
            rows = await repo.find_users(conn, status=status_only)
        else:
            rows = []
            if "@" not in query and _looks_like_id(query):
                rows = await repo.find_users(conn, id_part=query, status=status_only)
            accounts = await search_by_email(request, query) or []
            if accounts:
                ids = [a.id for a in accounts]
                rows += await repo.find_users(conn, ids=ids, status=status_only)
    rows = list({r["id"]: r for r in rows}.values())
    found = await emails(request, [r["id"] for r in rows])
    return [{**r, "email": found.get(r["id"], "")} for r in rows]


def _looks_like_id(text: str) -> bool:
    return all(ch in "0123456789abcdefABCDEF-" for ch in text)
