"""Dedupe for consumers that write to Postgres: one row per (consumer, event_id)."""

from sqlalchemy import Column, DateTime, MetaData, String, Table, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.repository import Repository


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class InboxRepository(Repository):
    def __init__(self, session: AsyncSession, table: Table) -> None:
        super().__init__(session)
        self.table = table

    async def first_delivery(self, consumer: str, event_id: object) -> bool:
        """Records the event as processed in the caller's transaction; False when it was."""
        result = await self.session.execute(
            insert(self.table)
            .values(consumer=consumer, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(self.table.c.event_id)
        )
        return result.first() is not None
