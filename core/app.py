"""The FastAPI factory every HTTP process uses: logging, Sentry, errors, /health."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from core.config import get_settings
from core.errors import install_error_handlers
from core.health import Check, health_router
from core.logging import setup_logging


def create_app(
    service: str,
    *,
    title: str,
    checks: dict[str, Check],
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    description: str = "",
) -> FastAPI:
    settings = get_settings()
    setup_logging(settings, service)
    app = FastAPI(title=title, description=description, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(health_router(checks))
    return app
