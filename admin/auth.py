"""Operator login for the admin screens, through the auth service (no password ever here).

The session holds the operator's tokens; every request re-verifies the access token with the
shared verifier, so logout, block and delete lock an operator out of the admin within a
second as everywhere else. An expired access token is renewed with the refresh token.
"""

import logging

import httpx
from sqladmin.authentication import AuthenticationBackend
from starlette.requests import Request

from core.config import get_settings
from core.errors import NotAuthenticated
from core.security import Principal, verify_with_process_settings

log = logging.getLogger(__name__)
AUTH_PREFIX = "/api/v1/auth"


async def _auth_post(path: str, **kwargs) -> httpx.Response:
    settings = get_settings()
    async with httpx.AsyncClient(base_url=settings.auth_service_url, timeout=5) as client:
        return await client.post(f"{AUTH_PREFIX}{path}", **kwargs)


class OperatorAuth(AuthenticationBackend):
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
            return False
        request.session.update(
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            user_id=str(principal.user_id),
        )
        return True

    async def logout(self, request: Request) -> bool:
        token = request.session.get("access_token")
        if token:
            try:
                await _auth_post("/logout", headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError:
                log.warning("admin logout: auth service unreachable; session cleared anyway")
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        token = request.session.get("access_token")
        if not token:
            return False
        try:
            principal = await verify_with_process_settings(token)
        except NotAuthenticated as exc:
            if exc.code != "token_expired" or not await self._refresh(request):
                request.session.clear()
                return False
            principal = await verify_with_process_settings(request.session["access_token"])
        request.state.principal = principal
        return principal.is_operator

    async def _refresh(self, request: Request) -> bool:
        refresh_token = request.session.get("refresh_token")
        if not refresh_token:
            return False
        try:
            response = await _auth_post("/refresh_token", json={"refresh_token": refresh_token})
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        tokens = response.json()
        request.session.update(
            access_token=tokens["access_token"], refresh_token=tokens["refresh_token"]
        )
        return True


def current_operator(request: Request) -> Principal:
    """The operator behind an admin request (set by `OperatorAuth.authenticate`)."""
    return request.state.principal
