"""outbox context: what an event keeps of the request that caused it (request id, trace)"""

from alembic import op

revision = "4e9d2c6a1f08"
down_revision = "05ab3c284faf"

# IF NOT EXISTS: the initial revision builds the outbox from core's current definition
# (create_core_table), which already has the column on a fresh database.


def upgrade() -> None:
    op.execute("ALTER TABLE outbox ADD COLUMN IF NOT EXISTS context JSONB")


def downgrade() -> None:
    op.execute("ALTER TABLE outbox DROP COLUMN IF EXISTS context")
