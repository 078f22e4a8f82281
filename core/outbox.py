"""Transactional outbox: events are rows written in the same transaction as the change.

Each database that produces events has its own `outbox` table (built by `outbox_table`) and
the relay (`core.relay`) copies unpublished rows to Redis Streams. A row's `context` is what
the event keeps of its cause (`core.tracing.carried`: the request id, the trace), NULL for an
event no request caused.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Uuid,
    func,
    insert,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.tracing import carried

NOTIFY_CHANNEL = "outbox"


def first_outbox_table(metadata: MetaData) -> Table:
    """The outbox as the initial revisions created it: frozen, so an old revision builds the
    same table whatever changes later (a change is a column added in `outbox_table` and in a
    new revision of each database)."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("stream", String(100), nullable=False),
        Column("type", String(100), nullable=False),
        Column("aggregate_id", String(100), nullable=False),
        Column("payload", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=text("published_at IS NULL"),
        ),
    )


def outbox_context_column() -> Column:
    """What an event keeps of the request that caused it (`core.tracing`), added in 2026-12."""
    return Column("context", JSON().with_variant(JSONB(), "postgresql"), nullable=True)


def outbox_table(metadata: MetaData) -> Table:
    """The outbox now: the first definition and the columns added since."""
    table = first_outbox_table(metadata)
    table.append_column(outbox_context_column())
    return table


@dataclass(frozen=True)
class Event:
    """The envelope every stream entry carries (API.md, Events)."""

    stream: str
    type: str
    aggregate_id: str
    payload: dict[str, Any]
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Taken where the event is made: the request (or stream entry) being handled then.
    context: dict[str, str] | None = field(default_factory=carried)


def make_event(stream: str, type: str, aggregate_id: object, payload: dict[str, Any]) -> Event:
    """An event ready for the outbox (its payload JSON-ready)."""
    return Event(stream, type, str(aggregate_id), to_jsonable_python(payload))


class UnitOfWork:
    """`async with uow:` gives a session; `uow.emit(...)` queues events; `commit()` writes both.

    The events become outbox rows in the same transaction as the change and a NOTIFY wakes
    the relay once the transaction commits. Leaving the block without commit rolls back.
    """

    def __init__(self, sessionmaker: async_sessionmaker, outbox: Table) -> None:
        self._sessionmaker = sessionmaker
        self._outbox = outbox
        self._events: list[Event] = []
        self.session: AsyncSession

    async def __aenter__(self) -> "UnitOfWork":
        self.session = self._sessionmaker()
        self._events = []
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.session.rollback()
        await self.session.close()

    def emit(self, stream: str, type: str, aggregate_id: object, payload: dict[str, Any]) -> Event:
        event = make_event(stream, type, aggregate_id, payload)
        self._events.append(event)
        return event

    async def flush_events(self) -> None:
        if not self._events:
            return
        await self.session.execute(
            insert(self._outbox),
            [
                {
                    "event_id": e.event_id,
                    "stream": e.stream,
                    "type": e.type,
                    "aggregate_id": e.aggregate_id,
                    "payload": e.payload,
                    "occurred_at": e.occurred_at,
                    "context": e.context,
                }
                for e in self._events
            ],
        )
        await self.session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
        self._events = []

    async def commit(self) -> None:
        await self.flush_events()
        await self.session.commit()
