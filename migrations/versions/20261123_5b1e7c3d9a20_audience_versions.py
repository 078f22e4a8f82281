"""audience versions: the latest change of each assignment and membership, for the read side"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "5b1e7c3d9a20"
down_revision = "40a52c2fc9e6"


def upgrade() -> None:
    op.execute("CREATE SEQUENCE audience_version_seq")
    op.create_table(
        "audience_versions",
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "scope_id", "target"),
    )
    # The pairs there already, each with its own version.
    op.execute(
        "INSERT INTO audience_versions (kind, scope_id, target, version, present) "
        "SELECT CASE WHEN user_id IS NULL THEN 'g' ELSE 'u' END, promocode_id, "
        "COALESCE(user_id::text, group_id::text), nextval('audience_version_seq'), true "
        "FROM promocode_assignments"
    )
    op.execute(
        "INSERT INTO audience_versions (kind, scope_id, target, version, present) "
        "SELECT 'm', group_id, user_id::text, nextval('audience_version_seq'), true "
        "FROM group_members"
    )


def downgrade() -> None:
    op.drop_table("audience_versions")
    op.execute("DROP SEQUENCE audience_version_seq")
