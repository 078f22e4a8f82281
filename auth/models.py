"""Tables of the `auth` database: the only place with emails and password hashes."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData
from sqlmodel import Field, SQLModel

from core.outbox import outbox_table


class AuthModel(SQLModel):
    metadata = MetaData()


def utcnow() -> datetime:
    return datetime.now(UTC)


outbox = outbox_table(AuthModel.metadata)


class User(AuthModel, table=True):
    __tablename__ = "users"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=320, unique=True)  # stored lower-case
    password_hash: str = Field(max_length=255)
    role: str = Field(default="user", max_length=16)
    status: str = Field(default="active", max_length=16)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    deleted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class RefreshToken(AuthModel, table=True):
    """One refresh token, stored as its SHA-256; a login starts a family, each refresh extends it.

    A token is spent (`used_at`) when exchanged; presenting a spent one revokes the family.
    """

    __tablename__ = "refresh_tokens"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    family_id: uuid.UUID = Field(index=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
