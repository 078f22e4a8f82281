"""outbox context: what an event keeps of the request that caused it (request id, trace);
the same change in both databases, written once in core."""

from core.migrations import add_outbox_context as upgrade
from core.migrations import drop_outbox_context as downgrade

revision = "4e9d2c6a1f08"
down_revision = "05ab3c284faf"
__all__ = ["downgrade", "upgrade"]
