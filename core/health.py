"""GET /health: 200 {"status": "ok"} when every dependency answers, 503 naming the failing ones."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import DependencyUnavailable

Check = Callable[[], Awaitable[object]]


def postgres_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def redis_check(redis: Redis) -> Check:
    return redis.ping


def health_router(checks: dict[str, Check], timeout: float = 2.0) -> APIRouter:
    router = APIRouter()

    @router.get("/health", tags=["health"], summary="Liveness and dependencies")
    async def health() -> JSONResponse:
        async def run(check: Check) -> bool:
            try:
                await asyncio.wait_for(check(), timeout)
            except Exception:
                return False
            return True

        results = await asyncio.gather(*(run(c) for c in checks.values()))
        failing = [name for name, ok in zip(checks, results, strict=True) if not ok]
        if failing:
            error = DependencyUnavailable(
                f"Not answering: {', '.join(failing)}", details={"failing": failing}
            )
            body = {"status": "unavailable", "failing": failing, **error.body()}
            return JSONResponse(body, status_code=error.status_code)
        return JSONResponse({"status": "ok"})

    return router


def service_checks(database_url: str) -> dict[str, Check]:
    """What every HTTP process depends on: its Postgres database and Redis."""
    from core.config import get_settings
    from core.db import get_engine
    from core.redis import get_redis

    return {
        "postgres": postgres_check(get_engine(database_url)),
        "redis": redis_check(get_redis(get_settings().redis_url)),
    }
