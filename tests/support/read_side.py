"""Drives the read side in-process: the real relays, streams, consumer groups and projector.

Its consumer groups are its own (`GROUPS`), not the workers' `projector` and `projector_users`:
a workers process of the e2e tests reading the same streams never takes its entries.
"""

import uuid
from datetime import datetime

from redis.exceptions import ResponseError

from auth.models import outbox as auth_outbox
from core.config import get_settings
from core.db import get_engine
from core.redis import make_redis
from core.relay import OutboxRelay
from core.streams import AUTH_USERS, LOYALTY_EVENTS, ConsumerGroupRunner, ensure_group
from loyalty.models import outbox as loyalty_outbox
from loyalty.read.postgres import read_only_engine
from loyalty.read.rebuild import ensure_built
from loyalty.schemas import PromocodeOut
from query_api.queries import ReadSide
from tests.support import loyalty_writes as w
from tests.support.factories import create_promocode
from workers.projector import Projector

PAGE = 200
GROUPS = {LOYALTY_EVENTS: "tests-projector", AUTH_USERS: "tests-projector_users"}


class ReadSideDriver:
    """`await settle()` publishes every pending outbox row and projects every stream entry."""

    def __init__(self) -> None:
        settings = get_settings()
        self.redis = make_redis(settings.redis_url)
        self.engine = read_only_engine(settings.loyalty_database_url)
        self.projector = Projector(self.redis, self.engine)
        self.reads = ReadSide(self.redis, self.engine)
        self.relays = [
            OutboxRelay(
                get_engine(settings.loyalty_database_url), loyalty_outbox, self.redis, name="t"
            ),
            OutboxRelay(get_engine(settings.auth_database_url), auth_outbox, self.redis, name="ta"),
        ]
        self.runners = [self.runner(stream, group) for stream, group in GROUPS.items()]

    def runner(self, stream: str, group: str) -> ConsumerGroupRunner:
        return ConsumerGroupRunner(
            self.redis,
            stream,
            group,
            self.projector.handle,
            consumer=f"{group}-test-{uuid.uuid4().hex[:6]}",
            block_ms=20,
            claim_idle_ms=0,
        )

    async def start(self) -> "ReadSideDriver":
        await ensure_built(self.redis, self.engine)
        for runner in self.runners:
            await self._create_group(runner)
        await self.settle()
        return self

    async def _create_group(self, runner: ConsumerGroupRunner) -> None:
        """The first time, at the end of the stream: the entries already there are the slot's
        history (earlier tests and runs, projected when they were new); replaying it all would
        only cost time. From then on the group sees every entry."""
        try:
            await self.redis.xgroup_create(runner.stream, runner.group, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def settle(self) -> None:
        while True:
            published = 0
            for relay in self.relays:
                published += await relay.publish_pending()
            handled = 0
            for runner in self.runners:
                try:
                    handled += await runner.step()
                except ResponseError as exc:  # the stream was flushed away: as `run` does
                    if "NOGROUP" not in str(exc):
                        raise
                    await ensure_group(self.redis, runner.stream, runner.group)
                    handled += 1
            if not published and not handled:
                return

    async def active(self, user_id: uuid.UUID, now: datetime | None = None) -> list[dict]:
        """Every page of the user's listing, as query_api reads it (public codes of earlier
        tests pile up past one page). At `now` when given (the read model only)."""
        items: list[dict] = []
        while True:
            if now is None:
                page = await self.reads.active_promocodes(user_id, PAGE, len(items))
            else:
                page = await self.reads.models.active_page(user_id, now, PAGE, len(items))
            items += page.items
            if not page.has_more:
                return items

    async def entries(self, type: str, aggregate_id: object) -> list[dict[str, str]]:
        """The stream entries of one aggregate and type, oldest first."""
        found = await self.redis.xrevrange(LOYALTY_EVENTS, count=500)
        return [
            fields
            for _id, fields in reversed(found)
            if fields["type"] == type and fields["aggregate_id"] == str(aggregate_id)
        ]

    async def close(self) -> None:
        await self.redis.aclose()


async def disabled_code(side: ReadSideDriver) -> PromocodeOut:
    """A public code the read side has seen created, then disabled."""
    promo = await create_promocode()
    await side.settle()
    await w.update_code(promo.id, is_active=False)
    await side.settle()
    return promo
