"""Operator login for the admin screens, through the auth service (no password ever here).

The tokens auth issues stay server side (`admin.sessions`, Redis); the cookie carries an
opaque session id. Every request re-verifies the access token with the shared verifier, so
logout, block and delete lock an operator out of the admin at once as everywhere else; an
expired access token is renewed with the refresh token. Signing out, and a refused sign-in
(an account that is not an operator), log the tokens out at auth, so none stays alive.
"""

import logging

import httpx
from sqladmin.authentication import AuthenticationBackend
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from admin import sessions
from admin.security import admin_security
from core.config import get_settings
from core.errors import NotAuthenticated
from core.security import Principal, verify_with_process_settings

log = logging.getLogger(__name__)
AUTH_PREFIX = "/api/v1/auth"


async def _auth_post(path: str, **kwargs) -> httpx.Response:
    settings = get_settings()
    async with httpx.AsyncClient(base_url=settings.auth_service_url, timeout=5) as client:
        return await client.post(f"{AUTH_PREFIX}{path}", **kwargs)


async def auth_logout(access_token: str, refresh_token: str | None = None) -> bool:
    """Ends the tokens at auth (the access token and its refresh family). An expired access
    token is first exchanged with the refresh token, so the family is ended either way."""
    try:
        response = await _auth_post("/logout", headers={"Authorization": f"Bearer {access_token}"})
        if response.status_code == 401 and refresh_token:
            renewed = await _auth_post("/refresh_token", json={"refresh_token": refresh_token})
            if renewed.status_code != 200:
                return False
            response = await _auth_post(
                "/logout",
                headers={"Authorization": f"Bearer {renewed.json()['access_token']}"},
            )
    except httpx.HTTPError:
        log.warning("admin: auth service unreachable; tokens not logged out at auth")
        return False
    return response.status_code == 204


class OperatorAuth(AuthenticationBackend):
    def __init__(self, secret_key: str, *, https_only: bool) -> None:
        # Outermost first: the session (cookie → sid), then CSRF and security headers, which
        # need the session id.
        self.middlewares = [
            Middleware(
                SessionMiddleware,
                secret_key=secret_key,
                session_cookie="admin_session",
                max_age=sessions.SESSION_TTL_SECONDS,
                https_only=https_only,
                same_site="strict",
            ),
            Middleware(admin_security),
        ]

    async def login(self, request: Request) -> bool:
        form = await request.form()
        try:
            response = await _auth_post(
                "/login", json={"email": form.get("username"), "password": form.get("password")}
            )
        except httpx.HTTPError:
            log.warning("admin login: auth service unreachable")
            return False
        if response.status_code != 200:
            return False
        tokens = response.json()
        principal = await verify_with_process_settings(tokens["access_token"])
        if not principal.is_operator:
            # Auth issued tokens to an account that may not use the admin: end them now.
            await auth_logout(tokens["access_token"], tokens["refresh_token"])
            return False
        await sessions.start(
            request,
            sessions.OperatorSession(
                user_id=str(principal.user_id),
                access_token=tokens["access_token"],
                refresh_token=tokens["refresh_token"],
            ),
        )
        return True

    async def logout(self, request: Request) -> bool:
        session = await sessions.load(request)
        if session is not None:
            await auth_logout(session.access_token, session.refresh_token)
        await sessions.end(request)
        return False  # SQLAdmin then sends the browser to the login page

    async def authenticate(self, request: Request) -> bool:
        session = await sessions.load(request)
        if session is None:
            return False
        try:
            principal = await verify_with_process_settings(session.access_token)
        except NotAuthenticated as exc:
            if exc.code != "token_expired" or not await self._refresh(request, session):
                await sessions.end(request)
                return False
            principal = await verify_with_process_settings(session.access_token)
        request.state.principal = principal
        return principal.is_operator

    async def get_user_id(self, request: Request) -> str | None:
        principal = getattr(request.state, "principal", None)
        return str(principal.user_id) if principal else None

    async def _refresh(self, request: Request, session: sessions.OperatorSession) -> bool:
        try:
            response = await _auth_post(
                "/refresh_token", json={"refresh_token": session.refresh_token}
            )
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        tokens = response.json()
        session.access_token = tokens["access_token"]
        session.refresh_token = tokens["refresh_token"]
        await sessions.save(request, session)
        return True


def current_operator(request: Request) -> Principal:
    """The operator behind an admin request (set by `OperatorAuth.authenticate`)."""
    return request.state.principal
