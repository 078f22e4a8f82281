import uuid

from fastapi import APIRouter, Response

from auth import service
from auth.deps import CurrentSession
from auth.schemas import (
    Credentials,
    DeleteRequest,
    LookedUpUser,
    LookupRequest,
    Me,
    RefreshRequest,
    RegisteredUser,
    Registration,
    TokenPairOut,
)
from core.addresses import ClientAddress
from core.security import CurrentOperator, CurrentPrincipal

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


def _pair(pair: service.TokenPair, response: Response) -> TokenPairOut:
    """The tokens, never stored by a cache on the way (RFC 6749, 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenPairOut(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
    )


@router.post("/user_registration", status_code=201, response_model=RegisteredUser)
async def user_registration(body: Registration, address: ClientAddress) -> RegisteredUser:
    """Creates an account; the loyalty side learns of it through `user.registered`.

    Passwords: 8 to 128 characters, not only digits, not the email (422 `weak_password`).
    429 `too_many_attempts` with `Retry-After` after too many registrations from this
    address."""
    user = await service.register(body.email, body.password, address)
    return RegisteredUser(id=user.id, email=user.email)


@router.post("/login", response_model=TokenPairOut)
async def login(body: Credentials, address: ClientAddress, response: Response) -> TokenPairOut:
    """An access token (15 minutes) and a refresh token (30 days).

    401 `invalid_credentials`; 403 `account_blocked`; 429 `too_many_attempts` with
    `Retry-After`: this address failed too often for this email (that address alone is
    locked out of it) or for any email, or this email failed often from anywhere and waits a
    few seconds after each failure (docs/security.md)."""
    return _pair(await service.login(body.email, body.password, address), response)


@router.post("/refresh_token", response_model=TokenPairOut)
async def refresh_token(body: RefreshRequest, response: Response) -> TokenPairOut:
    """A new pair for a refresh token, which is spent by this call.

    Presenting a spent token again is treated as theft: its whole family and the user's
    access tokens are revoked (401 `token_reused`)."""
    return _pair(await service.refresh(body.refresh_token), response)


@router.post("/logout", status_code=204, response_class=Response)
async def logout(session: CurrentSession) -> Response:
    """This access token and its refresh family stop working on every service."""
    await service.logout(session.principal, session.family_id)
    return Response(status_code=204)


@router.post("/delete", status_code=204, response_class=Response)
async def delete(body: DeleteRequest, principal: CurrentPrincipal) -> Response:
    """Soft-deletes the caller's account after checking the password; every token is revoked
    and `user.deleted` is published."""
    await service.delete_account(principal, body.password)
    return Response(status_code=204)


@router.get("/me", response_model=Me)
async def me(principal: CurrentPrincipal) -> Me:
    """The caller's account."""
    user = await service.me(principal)
    return Me(
        id=user.id, email=user.email, role=user.role, status=user.status, created_at=user.created_at
    )


@router.post("/users/{user_id}/block", status_code=204, response_class=Response)
async def block_user(user_id: uuid.UUID, operator: CurrentOperator) -> Response:
    """Operator: the account can no longer log in or refresh, and its tokens stop working
    everywhere at once; `user.blocked` is published."""
    await service.block(operator, user_id)
    return Response(status_code=204)


@router.post("/users/{user_id}/unblock", status_code=204, response_class=Response)
async def unblock_user(user_id: uuid.UUID, operator: CurrentOperator) -> Response:
    """Operator: the account may log in again; `user.unblocked` is published."""
    await service.unblock(operator, user_id)
    return Response(status_code=204)


@router.post("/users/lookup", response_model=list[LookedUpUser])
async def lookup_users(body: LookupRequest, _: CurrentOperator) -> list[LookedUpUser]:
    """Operator: emails and statuses for user ids (how the admin screens show emails)."""
    users = await service.lookup(body.ids)
    return [LookedUpUser(id=u.id, email=u.email, status=u.status) for u in users]
