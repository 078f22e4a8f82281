"""Tables of the `loyalty` database. Money is integer kopecks; users are known by id only."""

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import configure_mappers
from sqlmodel import Field, SQLModel

from core.inbox import processed_events_table
from core.outbox import outbox_table
from loyalty.domain.enums import Audience, DiscountType, PurchaseSource, PurchaseStatus, UserStatus


class LoyaltyModel(SQLModel):
    metadata = MetaData()


def utcnow() -> datetime:
    return datetime.now(UTC)


def _one_of(column: str, values: type[StrEnum], name: str) -> CheckConstraint:
    """The column holds one of the enum's values."""
    allowed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


def _ts(nullable: bool = False, **kw) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable, **kw)


outbox = outbox_table(LoyaltyModel.metadata)
processed_events = processed_events_table(LoyaltyModel.metadata)


class User(LoyaltyModel, table=True):
    """Replica of auth's users: id and status only, kept by the user-sync worker."""

    __tablename__ = "users"
    id: uuid.UUID = Field(primary_key=True)
    status: str = Field(default=UserStatus.active, max_length=16)
    registered_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class UserGroup(LoyaltyModel, table=True):
    __tablename__ = "user_groups"
    id: int | None = Field(default=None, sa_column=Column(Integer, Identity(), primary_key=True))
    name: str = Field(max_length=200, unique=True)
    description: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class GroupMember(LoyaltyModel, table=True):
    __tablename__ = "group_members"
    group_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
        )
    )
    user_id: uuid.UUID = Field(foreign_key="users.id", primary_key=True, index=True)
    added_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Tariff(LoyaltyModel, table=True):
    __tablename__ = "tariffs"
    __table_args__ = (CheckConstraint("price >= 0", name="tariff_price_not_negative"),)
    id: int | None = Field(default=None, sa_column=Column(Integer, Identity(), primary_key=True))
    name: str = Field(max_length=200, unique=True)
    price: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(default="RUB", max_length=3)
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class PromocodeBatch(LoyaltyModel, table=True):
    __tablename__ = "promocode_batches"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    count: int
    pattern: str | None = Field(default=None, max_length=100)
    prefix: str = Field(default="", max_length=32)
    length: int
    created_by: uuid.UUID | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Promocode(LoyaltyModel, table=True):
    __tablename__ = "promocodes"
    __table_args__ = (
        CheckConstraint("uses >= 0", name="promocode_uses_not_negative"),
        CheckConstraint("max_uses IS NULL OR uses <= max_uses", name="promocode_uses_within_max"),
        CheckConstraint("max_uses IS NULL OR max_uses >= 1", name="promocode_max_uses_positive"),
        CheckConstraint(
            "per_user_limit IS NULL OR per_user_limit >= 1", name="promocode_per_user_positive"
        ),
        _one_of("discount_type", DiscountType, "promocode_discount_type"),
        _one_of("audience", Audience, "promocode_audience"),
        CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from", name="promocode_window_order"
        ),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer, Identity(), primary_key=True))
    code: str = Field(max_length=64, unique=True)
    discount_type: str = Field(max_length=16)
    value: int = Field(sa_column=Column(BigInteger, nullable=False))
    valid_from: datetime = Field(default_factory=utcnow, sa_column=_ts())
    valid_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    max_uses: int | None = None
    uses: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    # Bumped by every UPDATE of the row (fields or counters); read models keep the newest.
    version: int = Field(
        default=1, sa_column=Column(BigInteger, nullable=False, server_default="1")
    )
    per_user_limit: int | None = 1
    tariff_ids: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Integer), nullable=False, server_default=text("'{}'")),
    )
    audience: str = Field(default=Audience.everyone, max_length=16)
    is_active: bool = True
    batch_id: uuid.UUID | None = Field(default=None, foreign_key="promocode_batches.id", index=True)
    description: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class PromocodeAssignment(LoyaltyModel, table=True):
    """A code of audience `assigned` reaches a user directly or through one of their groups."""

    __tablename__ = "promocode_assignments"
    __table_args__ = (
        CheckConstraint(
            "(user_id IS NULL) <> (group_id IS NULL)", name="assignment_user_xor_group"
        ),
        UniqueConstraint("promocode_id", "user_id", name="uq_assignment_user"),
        UniqueConstraint("promocode_id", "group_id", name="uq_assignment_group"),
        Index("ix_assignment_user", "user_id"),
        Index("ix_assignment_group", "group_id"),
    )
    id: int | None = Field(default=None, sa_column=Column(Integer, Identity(), primary_key=True))
    promocode_id: int = Field(
        sa_column=Column(Integer, ForeignKey("promocodes.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    group_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("user_groups.id", ondelete="CASCADE"), nullable=True),
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class AudienceVersion(LoyaltyModel, table=True):
    """The version of the latest change of one audience pair, kept after the pair is taken
    back: a code given to a user (`kind` u) or a group (g), a user in a group (m). Versions
    come from one sequence, taken in the transaction of the change after its row lock, so for
    one pair they grow in commit order; the read models apply a change only when newer."""

    __tablename__ = "audience_versions"
    kind: str = Field(primary_key=True, max_length=1)
    scope_id: int = Field(primary_key=True, description="the code's id (u, g) or group's (m)")
    target: str = Field(primary_key=True, max_length=36, description="the user or group id")
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    present: bool


class PromocodeUserUses(LoyaltyModel, table=True):
    """Per-user counter, taken with a conditional UPDATE like the global one."""

    __tablename__ = "promocode_user_uses"
    __table_args__ = (CheckConstraint("uses >= 0", name="user_uses_not_negative"),)
    promocode_id: int = Field(
        sa_column=Column(Integer, ForeignKey("promocodes.id"), primary_key=True)
    )
    user_id: uuid.UUID = Field(primary_key=True, index=True)
    uses: int = 0


class Purchase(LoyaltyModel, table=True):
    __tablename__ = "purchases"
    __table_args__ = (
        _one_of("status", PurchaseStatus, "purchase_status"),
        CheckConstraint("final_price >= 0 AND discount >= 0", name="purchase_amounts"),
        Index("ix_purchases_user_created", "user_id", "created_at"),
        Index(
            "ix_purchases_pending_expiry",
            "expires_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID
    tariff_id: int = Field(sa_column=Column(Integer, ForeignKey("tariffs.id"), nullable=False))
    promocode_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("promocodes.id"), nullable=True, index=True),
    )
    code: str | None = Field(default=None, max_length=64)
    status: str = Field(default=PurchaseStatus.pending, max_length=16)
    base_price: int = Field(sa_column=Column(BigInteger, nullable=False))
    discount: int = Field(sa_column=Column(BigInteger, nullable=False))
    final_price: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(default="RUB", max_length=3)
    discount_type: str | None = Field(default=None, max_length=16)
    trial_days: int | None = None
    source: str = Field(default=PurchaseSource.user, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    paid_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    cancel_reason: str | None = Field(default=None, max_length=200)


class PromocodeAttempt(LoyaltyModel, table=True):
    """Every rejected quote or use, with its exact reason."""

    __tablename__ = "promocode_attempts"
    __table_args__ = (
        Index("ix_attempts_created", "created_at"),
        Index("ix_attempts_user_created", "user_id", "created_at"),
        Index("ix_attempts_promocode_created", "promocode_id", "created_at"),
        Index("ix_attempts_code_created", "code", "created_at"),
    )
    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    user_id: uuid.UUID
    code: str = Field(max_length=200)
    promocode_id: int | None = None
    tariff_id: int | None = None
    reason: str = Field(max_length=64)
    endpoint: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class IdempotencyKey(LoyaltyModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_expires", "expires_at"),)
    user_id: uuid.UUID = Field(primary_key=True)
    endpoint: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    request_hash: str = Field(max_length=64)
    status: str = Field(default="running", max_length=16)
    response_status: int | None = None
    response_body: dict | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())


# Mapped now rather than on the first validated instance: the hot path builds rows with
# `model_construct`, which does not configure the mappers that its attributes need.
configure_mappers()
