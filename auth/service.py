"""Account use cases. Each writes its rows and its `auth.users` event in one transaction.

Revocations reach Redis before the transaction commits: should the commit fail, the tokens
are gone anyway, which is the safe side.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auth import rules
from auth.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
    RefreshTokenExpired,
    RefreshTokenReused,
    RefreshTokenRevoked,
    UserNotFound,
    WeakPassword,
)
from auth.models import RefreshToken, User
from auth.passwords import (
    NO_PASSWORD,
    hash_password_async,
    password_problems,
    verify_password_async,
)
from auth.ratelimit import LoginLimiter, RegistrationLimiter
from auth.revocation import revoke_access_token, revoke_all_access_tokens
from auth.tokens import issue_access_token, new_refresh_token, refresh_token_hash
from auth.uow import AuthUnitOfWork, auth_uow
from core.config import get_settings
from core.redis import get_redis
from core.security import Principal
from core.streams import AUTH_USERS

USER_REGISTERED = "user.registered"
USER_BLOCKED = "user.blocked"
USER_UNBLOCKED = "user.unblocked"
USER_DELETED = "user.deleted"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def _redis():
    return get_redis(get_settings().redis_url)


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_event_payload(user: User, occurred_at: datetime | None = None) -> dict:
    # Never the email: the loyalty side knows a user by id and status only.
    return {
        "user_id": user.id,
        "status": user.status,
        "role": user.role,
        "occurred_at": occurred_at or user.created_at,
    }


def ensure_password_policy(password: str, email: str) -> None:
    problems = password_problems(password, email)
    if problems:
        raise WeakPassword(problems)


async def register(email: str, password: str, client_address: str) -> User:
    email = normalize_email(email)
    ensure_password_policy(password, email)
    # Counted before the insert: a taken email counts too (probing which emails exist).
    await RegistrationLimiter(_redis(), get_settings()).count(client_address)
    user = User(email=email, password_hash=await hash_password_async(password))
    async with auth_uow() as uow:
        await uow.users.add(user)
        uow.emit(AUTH_USERS, USER_REGISTERED, user.id, user_event_payload(user))
        await uow.commit()
    return user


def _start_or_extend_family(uow: AuthUnitOfWork, user: User, family_id: uuid.UUID) -> TokenPair:
    settings = get_settings()
    refresh_token = new_refresh_token()
    uow.refresh_tokens.add(
        RefreshToken(
            token_hash=refresh_token_hash(refresh_token),
            family_id=family_id,
            user_id=user.id,
            expires_at=utcnow() + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    access = issue_access_token(user.id, user.role, settings, family_id=family_id)
    return TokenPair(access.token, refresh_token, settings.access_token_ttl_seconds)


async def login(email: str, password: str, client_address: str) -> TokenPair:
    email = normalize_email(email)
    limiter = LoginLimiter(_redis(), get_settings())
    await limiter.ensure_allowed(email, client_address)
    async with auth_uow() as uow:
        user = await uow.users.by_email(email)
        uow.detach_all()
    # argon2 runs with no database connection held.
    matches, upgraded_hash = await verify_password_async(
        password, user.password_hash if user else None
    )
    if not matches or user is None:
        await limiter.record_failure(email, client_address)
        raise InvalidCredentials()
    async with auth_uow() as uow:
        # Locked and read again, so a block that commits meanwhile is seen (or sees our token).
        user = await _existing_user(uow, user.id)
        refusal = rules.login_refusal(user.status)
        if refusal is not None:
            raise refusal
        if upgraded_hash:
            user.password_hash = upgraded_hash
        pair = _start_or_extend_family(uow, user, uuid.uuid4())
        await uow.commit()
    await limiter.forget_failures(email, client_address)
    return pair


async def _end_family_of_reused_token(uow: AuthUnitOfWork, token: RefreshToken) -> None:
    """A spent token came back: someone holds a copy. End the family and every access token."""
    await uow.refresh_tokens.revoke_family(token.family_id, utcnow())
    await revoke_all_access_tokens(_redis(), token.user_id, get_settings())
    await uow.commit()


async def refresh(refresh_token: str) -> TokenPair:
    token_hash = refresh_token_hash(refresh_token)
    async with auth_uow() as uow:
        known = await uow.refresh_tokens.by_hash(token_hash)
        if known is None:
            raise InvalidRefreshToken()
        # Every change to a user's tokens locks the user row first: no deadlocks, and a
        # block or logout cannot miss the token this refresh adds.
        user = await _existing_user(uow, known.user_id)
        spent = await uow.refresh_tokens.spend(token_hash, utcnow())
        if spent is None:
            await uow.refresh_tokens.reload(known)
            if known.used_at is not None:
                await _end_family_of_reused_token(uow, known)
                raise RefreshTokenReused()
            if known.revoked_at is not None:
                raise RefreshTokenRevoked()
            raise RefreshTokenExpired()
        if user.status != rules.ACTIVE:
            raise RefreshTokenRevoked()
        pair = _start_or_extend_family(uow, user, spent.family_id)
        await uow.commit()
    return pair


async def logout(principal: Principal, family_id: uuid.UUID | None) -> None:
    """Ends this access token and, when it came from a login, its refresh family."""
    await revoke_access_token(_redis(), principal.jti, principal.expires_at)
    if family_id is None:
        return
    async with auth_uow() as uow:
        await uow.users.by_id(principal.user_id, for_update=True)
        await uow.refresh_tokens.revoke_family(family_id, utcnow())
        await uow.commit()


async def _existing_user(uow: AuthUnitOfWork, user_id: uuid.UUID) -> User:
    user = await uow.users.by_id(user_id, for_update=True)
    if user is None:
        raise UserNotFound()
    return user


async def delete_account(principal: Principal, password: str) -> None:
    """Soft-deletes the account and anonymises it: the row stays as a tombstone (its id is
    what the loyalty side and the refresh tokens know) without the email or the password
    hash, so the email may be registered again as a new account."""
    async with auth_uow() as uow:
        user = await _existing_user(uow, principal.user_id)
        matches, _ = await verify_password_async(password, user.password_hash)
        if not matches:
            raise InvalidCredentials()
        if user.status == rules.DELETED:
            return
        now = utcnow()
        user.status, user.deleted_at = rules.DELETED, now
        user.email, user.password_hash = rules.tombstone_email(user.id), NO_PASSWORD
        await uow.refresh_tokens.revoke_all_of_user(user.id, now)
        uow.emit(AUTH_USERS, USER_DELETED, user.id, user_event_payload(user, now))
        await revoke_all_access_tokens(_redis(), user.id, get_settings())
        await uow.commit()


async def me(principal: Principal) -> User:
    async with auth_uow() as uow:
        user = await uow.users.by_id(principal.user_id)
        uow.detach_all()
    if user is None:
        raise UserNotFound()
    return user


async def block(actor: Principal, user_id: uuid.UUID) -> None:
    """Blocks the account: no login, no refresh, and every token it holds stops working."""
    async with auth_uow() as uow:
        user = await _existing_user(uow, user_id)
        rules.ensure_may_change_status(actor.user_id, actor.role, user.id, user.role, user.status)
        now = utcnow()
        await uow.refresh_tokens.revoke_all_of_user(user.id, now)
        await revoke_all_access_tokens(_redis(), user.id, get_settings())
        if user.status != rules.BLOCKED:
            user.status = rules.BLOCKED
            uow.emit(AUTH_USERS, USER_BLOCKED, user.id, user_event_payload(user, now))
        await uow.commit()


async def unblock(actor: Principal, user_id: uuid.UUID) -> None:
    async with auth_uow() as uow:
        user = await _existing_user(uow, user_id)
        rules.ensure_may_change_status(actor.user_id, actor.role, user.id, user.role, user.status)
        if user.status == rules.BLOCKED:
            user.status = rules.ACTIVE
            uow.emit(AUTH_USERS, USER_UNBLOCKED, user.id, user_event_payload(user, utcnow()))
            await uow.commit()


async def lookup(ids: list[uuid.UUID]) -> list[User]:
    """The accounts among `ids`, in the order asked; unknown ids are left out."""
    async with auth_uow() as uow:
        found = {user.id: user for user in await uow.users.by_ids(ids)}
        uow.detach_all()
    return [found[user_id] for user_id in dict.fromkeys(ids) if user_id in found]


async def create_or_update_user(email: str, password: str, role: str) -> tuple[User, bool]:
    """`python -m auth create-user`: (user, created). Running it again only updates the
    password and role; a changed role ends the tokens that carry the old one."""
    email = normalize_email(email)
    rules.ensure_role(role)
    ensure_password_policy(password, email)
    password_hash = await hash_password_async(password)
    async with auth_uow() as uow:
        user = await uow.users.by_email(email)
        created = user is None
        if user is None:
            user = await uow.users.add(User(email=email, password_hash=password_hash, role=role))
            uow.emit(AUTH_USERS, USER_REGISTERED, user.id, user_event_payload(user))
        else:
            if user.role != role:
                await revoke_all_access_tokens(_redis(), user.id, get_settings())
            user.password_hash, user.role = password_hash, role
        await uow.commit()
    return user, created
