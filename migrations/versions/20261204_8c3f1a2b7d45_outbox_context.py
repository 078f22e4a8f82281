"""outbox context: what an event keeps of the request that caused it (request id, trace);
the same change in both databases, written once in core."""

from core.migrations import add_outbox_context as upgrade
from core.migrations import drop_outbox_context as downgrade

revision = "8c3f1a2b7d45"
down_revision = "5b1e7c3d9a20"
__all__ = ["downgrade", "upgrade"]
