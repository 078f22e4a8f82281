"""The projector: keeps the Redis read models current from `loyalty.events` and `auth.users`.

Runs as two consumer groups (`projector`, `projector_users`) under the common runner, which
acknowledges an entry only after the handler returned, reclaims entries of dead consumers and
dead-letters poison events. When the read model is missing (Redis came back empty) the
handler rebuilds it from Postgres first, then applies the event.

A generated batch is one event the projector ignores: its codes are never listed, so none is
projected (operators read them from Postgres), and a batch of a million codes holds up
nobody's purchase behind it. A batch code is read from Postgres when it is assigned.
"""

import logging

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from core.outage import Outage
from core.redis import make_redis
from core.streams import Envelope
from loyalty.read import postgres as repo
from loyalty.read.projection import NotBuilt, Projection
from loyalty.read.rebuild import ensure_built

log = logging.getLogger(__name__)

LOYALTY_GROUP = "projector"
USERS_GROUP = "projector_users"


class Projector:
    def __init__(self, redis: Redis, engine: AsyncEngine) -> None:
        self.redis = redis
        self.engine = engine
        self.projection = Projection(redis, load_code=self._load_code)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Projector":
        return cls(
            make_redis(settings.redis_url), repo.read_only_engine(settings.loyalty_database_url)
        )

    async def handle(self, envelope: Envelope) -> None:
        """Applies one event, rebuilding the whole read model first when Redis lost it."""
        while True:
            try:
                await self._apply(envelope)
                return
            except NotBuilt:
                await self._wait_for_model()

    async def _apply(self, envelope: Envelope) -> None:
        await self.projection.apply(envelope)

    async def _load_code(self, code_id: int) -> dict | None:
        async with repo.read_only(self.engine) as conn:
            return await repo.code_by_id(conn, code_id)

    async def _wait_for_model(self) -> None:
        outage = Outage("projector rebuild", log, base=0.5, cap=10.0)
        while True:
            try:
                if await ensure_built(self.redis, self.engine):
                    log.warning("read model was missing; rebuilt it from Postgres")
                outage.recovered()
                return
            except Exception as exc:
                await outage.failed(exc)
