"""initial loyalty schema"""

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

from core.inbox import processed_events_table
from core.migrations import create_core_table, drop_core_table
from core.outbox import first_outbox_table

revision = "40a52c2fc9e6"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("request_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "endpoint", "key"),
    )
    op.create_index("ix_idempotency_expires", "idempotency_keys", ["expires_at"], unique=False)
    create_core_table(first_outbox_table)
    create_core_table(processed_events_table)
    op.create_table(
        "promocode_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("promocode_id", sa.Integer(), nullable=True),
        sa.Column("tariff_id", sa.Integer(), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("endpoint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_attempts_code_created", "promocode_attempts", ["code", "created_at"], unique=False
    )
    op.create_index("ix_attempts_created", "promocode_attempts", ["created_at"], unique=False)
    op.create_index(
        "ix_attempts_promocode_created",
        "promocode_attempts",
        ["promocode_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_attempts_user_created", "promocode_attempts", ["user_id", "created_at"], unique=False
    )
    op.create_table(
        "promocode_batches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("pattern", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("prefix", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "tariffs",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price >= 0", name="tariff_price_not_negative"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "user_groups",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["user_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id"),
    )
    op.create_index(op.f("ix_group_members_user_id"), "group_members", ["user_id"], unique=False)
    op.create_table(
        "promocodes",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("discount_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="1", nullable=False),
        sa.Column("per_user_limit", sa.Integer(), nullable=True),
        sa.Column(
            "tariff_ids",
            postgresql.ARRAY(sa.Integer()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("audience", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("audience IN ('everyone', 'assigned')", name="promocode_audience"),
        sa.CheckConstraint(
            "discount_type IN ('percent', 'amount', 'fixed_price', 'trial')",
            name="promocode_discount_type",
        ),
        sa.CheckConstraint("max_uses IS NULL OR max_uses >= 1", name="promocode_max_uses_positive"),
        sa.CheckConstraint(
            "max_uses IS NULL OR uses <= max_uses", name="promocode_uses_within_max"
        ),
        sa.CheckConstraint(
            "per_user_limit IS NULL OR per_user_limit >= 1", name="promocode_per_user_positive"
        ),
        sa.CheckConstraint("uses >= 0", name="promocode_uses_not_negative"),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until > valid_from", name="promocode_window_order"
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["promocode_batches.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    op.create_index(op.f("ix_promocodes_batch_id"), "promocodes", ["batch_id"], unique=False)
    op.create_table(
        "promocode_assignments",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("promocode_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (group_id IS NULL)", name="assignment_user_xor_group"
        ),
        sa.ForeignKeyConstraint(["group_id"], ["user_groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["promocode_id"], ["promocodes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("promocode_id", "group_id", name="uq_assignment_group"),
        sa.UniqueConstraint("promocode_id", "user_id", name="uq_assignment_user"),
    )
    op.create_index("ix_assignment_group", "promocode_assignments", ["group_id"], unique=False)
    op.create_index("ix_assignment_user", "promocode_assignments", ["user_id"], unique=False)
    op.create_table(
        "promocode_user_uses",
        sa.Column("promocode_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.CheckConstraint("uses >= 0", name="user_uses_not_negative"),
        sa.ForeignKeyConstraint(
            ["promocode_id"],
            ["promocodes.id"],
        ),
        sa.PrimaryKeyConstraint("promocode_id", "user_id"),
    )
    op.create_index(
        op.f("ix_promocode_user_uses_user_id"), "promocode_user_uses", ["user_id"], unique=False
    )
    op.create_table(
        "purchases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("tariff_id", sa.Integer(), nullable=False),
        sa.Column("promocode_id", sa.Integer(), nullable=True),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("base_price", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("final_price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("discount_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("trial_days", sa.Integer(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'paid', 'cancelled')", name="purchase_status"),
        sa.CheckConstraint("final_price >= 0 AND discount >= 0", name="purchase_amounts"),
        sa.ForeignKeyConstraint(
            ["promocode_id"],
            ["promocodes.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tariff_id"],
            ["tariffs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_purchases_pending_expiry",
        "purchases",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(op.f("ix_purchases_promocode_id"), "purchases", ["promocode_id"], unique=False)
    op.create_index(
        "ix_purchases_user_created", "purchases", ["user_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_purchases_user_created", table_name="purchases")
    op.drop_index(op.f("ix_purchases_promocode_id"), table_name="purchases")
    op.drop_index(
        "ix_purchases_pending_expiry",
        table_name="purchases",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("purchases")
    op.drop_index(op.f("ix_promocode_user_uses_user_id"), table_name="promocode_user_uses")
    op.drop_table("promocode_user_uses")
    op.drop_index("ix_assignment_user", table_name="promocode_assignments")
    op.drop_index("ix_assignment_group", table_name="promocode_assignments")
    op.drop_table("promocode_assignments")
    op.drop_index(op.f("ix_promocodes_batch_id"), table_name="promocodes")
    op.drop_table("promocodes")
    op.drop_index(op.f("ix_group_members_user_id"), table_name="group_members")
    op.drop_table("group_members")
    op.drop_table("users")
    op.drop_table("user_groups")
    op.drop_table("tariffs")
    op.drop_table("promocode_batches")
    op.drop_index("ix_attempts_user_created", table_name="promocode_attempts")
    op.drop_index("ix_attempts_promocode_created", table_name="promocode_attempts")
    op.drop_index("ix_attempts_created", table_name="promocode_attempts")
    op.drop_index("ix_attempts_code_created", table_name="promocode_attempts")
    op.drop_table("promocode_attempts")
    drop_core_table(processed_events_table)
    drop_core_table(first_outbox_table)
    op.drop_index("ix_idempotency_expires", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
