"""Account use cases. Each writes its rows and its `auth.users` event in one transaction."""

from sqlalchemy.exc import IntegrityError

from auth.models import User, outbox
from auth.passwords import hash_password
from core.config import get_settings
from core.db import get_sessionmaker
from core.errors import Conflict
from core.outbox import UnitOfWork
from core.streams import AUTH_USERS

USER_REGISTERED = "user.registered"


def auth_uow() -> UnitOfWork:
    return UnitOfWork(get_sessionmaker(get_settings().auth_database_url), outbox)


def user_event_payload(user: User) -> dict:
    # Never the email: the loyalty side knows a user by id and status only.
    return {
        "user_id": user.id,
        "status": user.status,
        "role": user.role,
        "occurred_at": user.created_at,
    }


async def register(email: str, password: str) -> User:
    user = User(email=email.strip().lower(), password_hash=hash_password(password))
    async with auth_uow() as uow:
        uow.session.add(user)
        try:
            await uow.session.flush()
        except IntegrityError as exc:
            raise Conflict("email_taken", "An account with this email already exists") from exc
        uow.emit(AUTH_USERS, USER_REGISTERED, user.id, user_event_payload(user))
        await uow.commit()
    return user
