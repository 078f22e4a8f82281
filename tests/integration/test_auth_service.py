"""Auth use cases against the real auth database and Redis; revocation seen by the shared
verifier (`core.security.verify_access_token`) that every service runs."""

import asyncio
import uuid

import pytest
from passlib.hash import bcrypt
from sqlalchemy import select, text

from auth import service
from auth.errors import UserNotFound, WeakPassword
from auth.models import RefreshToken, User, outbox
from core.db import get_sessionmaker
from core.errors import AppError, Forbidden, NotAuthenticated
from core.security import Principal, decode_access_token, verify_access_token

PASSWORD = "s3cret-pass!"


def new_email() -> str:
    return f"svc-{uuid.uuid4().hex[:12]}@example.com"


def new_address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def registered(role: str = "user") -> tuple[User, str]:
    email = new_email()
    user, _ = await service.create_or_update_user(email, PASSWORD, role)
    return user, email


async def login(email: str, password: str = PASSWORD) -> service.TokenPair:
    return await service.login(email, password, new_address())


async def principal_of(pair: service.TokenPair, settings, redis) -> Principal:
    return await verify_access_token(pair.access_token, settings, redis)


def family_of(pair: service.TokenPair, settings) -> uuid.UUID:
    return uuid.UUID(decode_access_token(pair.access_token, settings)["sid"])


async def stored_user(settings, user_id: uuid.UUID) -> User:
    async with get_sessionmaker(settings.auth_database_url)() as session:
        return (await session.execute(select(User).where(User.id == user_id))).scalar_one()


async def events_of(settings, user_id: uuid.UUID) -> list[tuple[str, dict]]:
    async with get_sessionmaker(settings.auth_database_url)() as session:
        rows = await session.execute(
            select(outbox.c.type, outbox.c.payload)
            .where(outbox.c.aggregate_id == str(user_id))
            .order_by(outbox.c.id)
        )
        return [(row.type, row.payload) for row in rows]


async def test_logged_out_access_token_is_refused_by_the_shared_verifier(settings, redis):
    _, email = await registered()
    pair = await login(email)
    principal = await principal_of(pair, settings, redis)
    other_session = await login(email)

    await service.logout(principal, family_of(pair, settings))

    with pytest.raises(NotAuthenticated) as caught:
        await verify_access_token(pair.access_token, settings, redis)
    assert caught.value.code == "token_revoked"
    with pytest.raises(NotAuthenticated) as caught:
        await service.refresh(pair.refresh_token)
    assert caught.value.code == "token_revoked"
    # Another login of the same user is a session of its own and keeps working.
    assert (await principal_of(other_session, settings, redis)).user_id == principal.user_id
    assert (await service.refresh(other_session.refresh_token)).access_token


async def test_refresh_rotates_and_a_reused_token_ends_the_family(settings, redis):
    _, email = await registered()
    first = await login(email)
    second = await service.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert family_of(second, settings) == family_of(first, settings)
    third = await service.refresh(second.refresh_token)

    with pytest.raises(NotAuthenticated) as caught:
        await service.refresh(first.refresh_token)
    assert caught.value.code == "token_reused"
    with pytest.raises(NotAuthenticated) as caught:
        await service.refresh(third.refresh_token)
    assert caught.value.code == "token_revoked"
    with pytest.raises(NotAuthenticated) as caught:
        await verify_access_token(third.access_token, settings, redis)
    assert caught.value.code == "token_revoked"


async def test_two_concurrent_refreshes_with_one_token_cannot_both_win(settings):
    _, email = await registered()
    pair = await login(email)
    results = await asyncio.gather(
        service.refresh(pair.refresh_token),
        service.refresh(pair.refresh_token),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, service.TokenPair)]
    losers = [r for r in results if isinstance(r, AppError)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].code == "token_reused"


async def test_unknown_refresh_token_is_refused(settings):
    with pytest.raises(NotAuthenticated) as caught:
        await service.refresh("not-a-token-we-issued")
    assert caught.value.code == "invalid_refresh_token"


async def test_unknown_email_and_wrong_password_give_the_same_answer(settings):
    _, email = await registered()
    with pytest.raises(NotAuthenticated) as wrong_password:
        await login(email, "not-the-password")
    with pytest.raises(NotAuthenticated) as unknown_email:
        await login(new_email(), PASSWORD)
    assert wrong_password.value.code == unknown_email.value.code == "invalid_credentials"
    assert wrong_password.value.message == unknown_email.value.message


async def test_block_revokes_every_token_and_refuses_login_until_unblocked(settings, redis):
    user, email = await registered()
    operator = Principal(uuid.uuid4(), "operator", "jti", 0.0, 0.0)
    pair = await login(email)

    await service.block(operator, user.id)

    with pytest.raises(NotAuthenticated) as caught:
        await verify_access_token(pair.access_token, settings, redis)
    assert caught.value.code == "token_revoked"
    with pytest.raises(NotAuthenticated):
        await service.refresh(pair.refresh_token)
    with pytest.raises(Forbidden) as caught:
        await login(email)
    assert caught.value.code == "account_blocked"

    await service.unblock(operator, user.id)
    fresh = await login(email)
    assert (await principal_of(fresh, settings, redis)).user_id == user.id
    assert [t for t, _ in await events_of(settings, user.id)] == [
        "user.registered",
        "user.blocked",
        "user.unblocked",
    ]


async def test_an_operator_cannot_block_an_admin(settings):
    admin, _ = await registered("admin")
    operator = Principal(uuid.uuid4(), "operator", "jti", 0.0, 0.0)
    with pytest.raises(Forbidden):
        await service.block(operator, admin.id)
    with pytest.raises(UserNotFound):
        await service.block(operator, uuid.uuid4())


async def test_delete_needs_the_password_then_revokes_and_publishes(settings, redis):
    user, email = await registered()
    pair = await login(email)
    principal = await principal_of(pair, settings, redis)

    with pytest.raises(NotAuthenticated):
        await service.delete_account(principal, "not-the-password")
    await service.delete_account(principal, PASSWORD)

    stored = await stored_user(settings, user.id)
    assert stored.status == "deleted" and stored.deleted_at is not None
    with pytest.raises(NotAuthenticated):
        await verify_access_token(pair.access_token, settings, redis)
    with pytest.raises(NotAuthenticated):
        await service.refresh(pair.refresh_token)
    with pytest.raises(NotAuthenticated) as caught:
        await login(email)
    assert caught.value.code == "invalid_credentials"
    events = await events_of(settings, user.id)
    assert events[-1][0] == "user.deleted"
    assert events[-1][1]["status"] == "deleted"


async def test_a_deleted_account_keeps_neither_email_nor_password_hash(settings, redis):
    user, email = await registered()
    principal = await principal_of(await login(email), settings, redis)

    await service.delete_account(principal, PASSWORD)

    stored = await stored_user(settings, user.id)
    assert stored.email == f"{user.id}@deleted.invalid"
    assert stored.password_hash == "!"
    async with get_sessionmaker(settings.auth_database_url)() as session:
        rows = await session.execute(
            text("SELECT count(*) FROM users WHERE email = :email"), {"email": email}
        )
        assert rows.scalar_one() == 0, "the email is still stored"
    # The tombstone cannot be signed into, even by its own address.
    with pytest.raises(NotAuthenticated):
        await login(stored.email, PASSWORD)


async def test_the_email_of_a_deleted_account_can_be_registered_again(settings, redis):
    user, email = await registered()
    principal = await principal_of(await login(email), settings, redis)
    await service.delete_account(principal, PASSWORD)

    again = await service.register(email, "another-pass-1", new_address())

    assert again.id != user.id
    assert (await stored_user(settings, again.id)).email == email
    fresh = await principal_of(await login(email, "another-pass-1"), settings, redis)
    assert fresh.user_id == again.id
    assert (await stored_user(settings, user.id)).status == "deleted"


async def test_user_events_never_carry_the_email(settings):
    user, email = await registered()
    operator = Principal(uuid.uuid4(), "admin", "jti", 0.0, 0.0)
    await service.block(operator, user.id)
    await service.unblock(operator, user.id)
    events = await events_of(settings, user.id)
    assert len(events) == 3
    for _, payload in events:
        assert payload["user_id"] == str(user.id)
        assert email not in str(payload)
        assert "password" not in str(payload)


async def test_bcrypt_hash_is_upgraded_to_argon2id_on_login(settings):
    user = User(email=new_email(), password_hash=bcrypt.using(rounds=4).hash(PASSWORD))
    async with get_sessionmaker(settings.auth_database_url)() as session:
        session.add(user)
        await session.commit()

    await login(user.email)

    stored = await stored_user(settings, user.id)
    assert stored.password_hash.startswith("$argon2id$")
    await login(user.email)  # the new hash verifies the same password


async def test_create_user_is_idempotent_and_a_role_change_revokes_old_tokens(settings, redis):
    email = new_email()
    user, created = await service.create_or_update_user(email, PASSWORD, "operator")
    assert created
    pair = await login(email)
    assert (await principal_of(pair, settings, redis)).role == "operator"

    again, created = await service.create_or_update_user(email.upper(), "new-pass-word", "user")
    assert not created and again.id == user.id

    with pytest.raises(NotAuthenticated):
        await verify_access_token(pair.access_token, settings, redis)
    assert (await principal_of(await login(email, "new-pass-word"), settings, redis)).role == "user"
    assert [t for t, _ in await events_of(settings, user.id)] == ["user.registered"]


async def test_weak_passwords_are_refused_at_registration(settings):
    email = new_email()
    for password in ("short1", "123456789", email):
        with pytest.raises(WeakPassword) as caught:
            await service.register(email, password, new_address())
        assert caught.value.code == "weak_password"


async def test_lookup_returns_known_ids_in_the_order_asked(settings):
    first, first_email = await registered()
    second, second_email = await registered()
    found = await service.lookup([second.id, uuid.uuid4(), first.id])
    assert [(u.id, u.email, u.status) for u in found] == [
        (second.id, second_email, "active"),
        (first.id, first_email, "active"),
    ]


async def live_refresh_tokens(settings, user_id: uuid.UUID) -> int:
    async with get_sessionmaker(settings.auth_database_url)() as session:
        rows = await session.execute(
            select(RefreshToken).where(
                RefreshToken.user_id == user_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
        )
        return len(rows.scalars().all())


@pytest.mark.parametrize("attempt", range(5))
async def test_a_refresh_racing_a_block_leaves_no_working_token(settings, redis, attempt):
    user, email = await registered()
    pair = await login(email)
    operator = Principal(uuid.uuid4(), "operator", "jti", 0.0, 0.0)

    refreshed, _ = await asyncio.gather(
        service.refresh(pair.refresh_token),
        service.block(operator, user.id),
        return_exceptions=True,
    )

    assert await live_refresh_tokens(settings, user.id) == 0
    for access_token in (pair.access_token, getattr(refreshed, "access_token", None)):
        if access_token is not None:
            with pytest.raises(NotAuthenticated):
                await verify_access_token(access_token, settings, redis)
