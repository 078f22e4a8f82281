"""What a handler needs to run: a loyalty unit of work with its repositories, Redis, settings.

    async with unit_of_work(ctx) as uow:
        code = await uow.codes.change(promocode_id, changes)
        await uow.commit_event(events.PROMOCODE_UPDATED, code.id, events.promocode_payload(code))

Leaving the block without a commit rolls the change and its events back.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.config import Settings, get_settings
from core.db import direct, get_sessionmaker
from core.inbox import InboxRepository
from core.outbox import Event, UnitOfWork, make_event
from core.redis import get_redis
from core.streams import LOYALTY_EVENTS
from loyalty.audience.repository import (
    AssignmentRepository,
    AudienceVersionRepository,
    GroupRepository,
    UserRepository,
)
from loyalty.catalog.repository import BatchRepository, PromocodeRepository, TariffRepository
from loyalty.models import outbox, processed_events
from loyalty.purchasing.idempotency import Claim, IdempotencyRepository
from loyalty.purchasing.repository import (
    AttemptRepository,
    PurchaseRepository,
    UseStatements,
)


class LoyaltyUnitOfWork(UnitOfWork):
    """One transaction on the loyalty database; the repositories share its session."""

    tariffs: TariffRepository
    codes: PromocodeRepository
    batches: BatchRepository
    users: UserRepository
    groups: GroupRepository
    assignments: AssignmentRepository
    audience_versions: AudienceVersionRepository
    purchases: PurchaseRepository
    attempts: AttemptRepository
    idempotency: IdempotencyRepository
    inbox: InboxRepository

    def __init__(self, sessionmaker: async_sessionmaker) -> None:
        super().__init__(sessionmaker, outbox)

    async def __aenter__(self) -> "LoyaltyUnitOfWork":
        await super().__aenter__()
        session = self.session
        self.tariffs = TariffRepository(session)
        self.codes = PromocodeRepository(session)
        self.batches = BatchRepository(session)
        self.users = UserRepository(session)
        self.groups = GroupRepository(session)
        self.assignments = AssignmentRepository(session)
        self.audience_versions = AudienceVersionRepository(session)
        self.purchases = PurchaseRepository(session)
        self.attempts = AttemptRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.inbox = InboxRepository(session, processed_events)
        return self

    def add_event(self, type: str, aggregate_id: object, payload: dict[str, Any]) -> None:
        """Queues a `loyalty.events` event; it is written with the change by `commit()`."""
        self.emit(LOYALTY_EVENTS, type, aggregate_id, payload)

    async def commit_event(self, type: str, aggregate_id: object, payload: dict[str, Any]) -> None:
        self.add_event(type, aggregate_id, payload)
        await self.commit()


@dataclass(frozen=True)
class Context:
    sessionmaker: async_sessionmaker
    redis: Redis
    settings: Settings
    # The buyer's address (`core.addresses`) for the per-address limit; None: no client's call.
    client_address: str | None = None
    # The call's Idempotency-Key, claimed: the handler stores its answer for it. None: no key.
    claim: Claim | None = None

    def for_client(self, address: str) -> "Context":
        return replace(self, client_address=address)

    def claiming(self, claim: Claim | None) -> "Context":
        return replace(self, claim=claim)

    def uow(self) -> LoyaltyUnitOfWork:
        return LoyaltyUnitOfWork(self.sessionmaker)

    @asynccontextmanager
    async def uses(self) -> AsyncIterator[UseStatements]:
        """The hot path's statements on a bare connection, each its own transaction."""
        async with direct(self.settings.loyalty_database_url) as connection:
            yield UseStatements(connection)


def loyalty_event(type: str, aggregate_id: object, payload: dict[str, Any]) -> Event:
    """A `loyalty.events` event for a statement that writes its outbox row itself."""
    return make_event(LOYALTY_EVENTS, type, aggregate_id, payload)


@lru_cache
def default_context() -> Context:
    """The process-wide context built from the settings (command_api, admin, workers)."""
    settings = get_settings()
    return Context(
        sessionmaker=get_sessionmaker(settings.loyalty_database_url),
        redis=get_redis(settings.redis_url),
        settings=settings,
    )


def unit_of_work(ctx: Context | None = None) -> LoyaltyUnitOfWork:
    """A unit of work of `ctx`, or of the process-wide context when a handler was given none."""
    return (ctx or default_context()).uow()


async def create_row(
    ctx: Context | None, rows: str, values: dict[str, Any], created: str, payload: Callable
) -> Any:
    """Adds a row through the repository `uow.<rows>` (which refuses a taken name) and
    commits it with its `created` event; the row as it was stored."""
    async with unit_of_work(ctx) as uow:
        row = await getattr(uow, rows).add(values)
        await uow.commit_event(created, row.id, payload(row))
    return row
