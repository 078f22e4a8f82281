"""The FastAPI factory every HTTP process uses: logging, Sentry, errors, /health."""

import gc
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, suppress
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import get_settings
from core.dependencies import LOST_DEPENDENCY_ERRORS, lost_dependency
from core.errors import (
    ERROR_CODES,
    HTTP_ERRORS,
    AppError,
    DependencyUnavailable,
    PayloadTooLarge,
    ValidationFailed,
)
from core.health import health_router, service_checks
from core.logging import setup_logging
from core.observability import RequestObserver, error_answer, error_response, metrics_router

log = logging.getLogger(__name__)


def create_app(
    service: str,
    database_url: str,
    *routers: APIRouter,
    title: str,
    description: str = "",
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """The app of one HTTP process: `service` names it in logs and Sentry, `/health` checks
    its database (`database_url`) and Redis, `/metrics` shows its figures
    (`core.observability`), then come the `routers`."""
    settings = get_settings()
    setup_logging(settings, service)
    app = FastAPI(title=title, description=description, lifespan=lifespan)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HeadAsGet)
    # Outermost: the request id is known to everything inside, unexpected errors end here.
    app.add_middleware(RequestObserver)
    install_error_handlers(app)
    document_error_codes(app)
    app.include_router(health_router(service_checks(database_url)))
    app.include_router(metrics_router())
    for router in routers:
        app.include_router(router)
    settle_garbage_collector()
    return app


def settle_garbage_collector() -> None:
    """The cyclic garbage collector took 10-15% of command_api's CPU under the hot-code load
    (py-spy --native; gc.callbacks: 1.16 s of 11 s for 4,000 uses) and a quarter of the
    listing's in query_api (docs/performance.md). What is loaded by now (the code, the app,
    its schemas: about 130,000 objects) lives as long as the process, so it is frozen out of
    every collection; and a young collection waits for 10,000 new objects instead of 700, as
    the requests in flight keep thousands alive that refcounting frees anyway."""
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


class BodyLimit:
    """413 `payload_too_large` for a body over `max_bytes`: at once when Content-Length says
    so, else as soon as what was received passes it (nothing larger is ever read)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await error_response(PayloadTooLarge())(scope, receive, send)
            return
        received, cut_off, started = 0, False, False

        async def limited() -> Message:
            nonlocal received, cut_off
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                cut_off = True
                raise PayloadTooLarge()
            return message

        async def unless_cut_off(message: Message) -> None:
            # Whatever the app answers to a body it could not finish reading is replaced.
            nonlocal started
            if not cut_off:
                started = True
                await send(message)

        with suppress(PayloadTooLarge):
            await self.app(scope, limited, unless_cut_off)
        if cut_off and not started:
            await error_response(PayloadTooLarge())(scope, receive, send)


class HeadAsGet:
    """HEAD is answered as GET without its body (RFC 9110), on every GET route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        # Changed in place, so what routing adds to the scope (the route) is seen outside.
        scope["method"] = "GET"
        await self.app(scope, receive, send_headers_only)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return error_response(ValidationFailed(details={"errors": errors}))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        known = HTTP_ERRORS.get(exc.status_code)
        code = known.code if known else f"http_{exc.status_code}"
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return error_answer(code, message, exc.status_code, headers=exc.headers)

    async def _lost_dependency(_: Request, exc: Exception) -> JSONResponse:
        """Redis or Postgres not answering: 503 naming it, logged as a warning without its
        traceback (an outage, not a defect); the clients reconnect by themselves. Any other
        exception of these types is a defect: re-raised, so RequestObserver answers 500."""
        dependency = lost_dependency(exc)
        if dependency is None:
            raise exc
        log.warning("%s not answering: %r", dependency, exc, extra={"dependency": dependency})
        error = DependencyUnavailable(
            f"{dependency} is not answering; try again shortly",
            details={"dependencies": [dependency]},
            headers={"Retry-After": "1"},
        )
        return error_response(error)

    for exc_type in LOST_DEPENDENCY_ERRORS:
        app.add_exception_handler(exc_type, _lost_dependency)

    # Unexpected exceptions are logged, reported and answered 500 by RequestObserver.


def document_error_codes(app: FastAPI) -> None:
    """Adds the `Error` body and every registered error code to the OpenAPI document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        codes = sorted(ERROR_CODES.values(), key=lambda cls: (cls.status_code, cls.code))
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["ErrorCode"] = {
            "type": "string",
            "enum": [cls.code for cls in codes],
            "description": "\n".join(f"- `{c.code}` ({c.status_code}): {c.message}" for c in codes),
        }
        components["Error"] = {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": {"$ref": "#/components/schemas/ErrorCode"},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                    },
                }
            },
        }
        error = {
            "description": "An error: see `ErrorCode` for every code",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                operation.setdefault("responses", {}).setdefault("4XX", error)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
