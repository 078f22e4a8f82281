"""What every HTTP process shows of itself: a request id, an access log line, metrics, and
unexpected errors logged and reported once.

`RequestObserver` (the outermost middleware of `core.app.create_app`), per request:
- the request id: the caller's `X-Request-ID` when it is sane (1 to 64 of `A-Z a-z 0-9 . _ : -`),
  else a new one; it is echoed in the `X-Request-ID` response header, set in `request_id` (a
  context variable every log line of the request carries, `core.logging`) and put in every
  error body's `details.request_id` (`core.app`);
- an unexpected exception: logged once as one JSON record with its traceback, sent to Sentry
  (when `SENTRY_DSN` is set) tagged with the request id, and answered 500 `internal_error`;
- one JSON access line (logger `access`, written straight to stdout: `write_access_line`):
  method, route template, status, duration in ms, request id; never the query string, a
  header, a token or an address;
- the Prometheus metrics `http_requests_total{method, route, status}` and
  `http_request_duration_seconds{method, route}`, served at `/metrics` (`metrics_router`);
- when tracing is on (`core.tracing`), the request id on the request's span.

Routes are labelled by their template (`/api/v1/loyalty/promocodes/{promocode_id}`), a request
no route matched by `<unmatched>`, a method HTTP does not define by `OTHER`, so labels never
carry ids or codes and stay few.
"""

import json
import logging
import os
import re
import secrets
import sys
import time
from datetime import UTC, datetime

import sentry_sdk
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import tracing
from core.errors import AppError, InternalError, error_body
from core.tracing import request_id

log = logging.getLogger(__name__)
access_log = logging.getLogger("access")

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode("latin-1")
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
UNMATCHED = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's request id when it is sane, else a new one."""
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return secrets.token_hex(16)  # as random as uuid4().hex, without building a UUID


def route_template(scope: Scope) -> str:
    """The template of the route that served the request: under a mount (the admin) the
    mount's path is in `root_path`; a mount without an inner route (static files) is its
    path alone."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return UNMATCHED
    root_path = scope.get("root_path", "")
    return root_path if isinstance(route, Mount) else root_path + path


class RequestObserver:
    """Kept cheap, as it runs on every request (docs/performance.md, read path): the access
    line is one `json.dumps` written straight to stdout, not a `LogRecord` through the logging
    machinery, and the metrics' children are looked up once per (method, route, status)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.counted: dict[tuple[str, str, int], Counter] = {}
        self.timed: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        if method not in KNOWN_METHODS:
            method = "OTHER"
        rid = request_id_from(scope["headers"])
        id_header = (REQUEST_ID_NAME, rid.encode("latin-1"))
        token = request_id.set(rid)
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                headers = [h for h in message.get("headers", ()) if h[0] != REQUEST_ID_NAME]
                headers.append(id_header)
                message["headers"] = headers
            await send(message)

        if tracing.tracer is not None:
            tracing.tag_request(rid)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Reported first: Sentry's logging integration then skips the same exception.
            sentry_sdk.capture_exception(exc, tags={"request_id": rid})
            log.exception("unhandled error on %s %s", method, route_template(scope))
            if not response_started:
                await error_response(InternalError())(scope, receive, send_with_id)
            status = 500
        finally:
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            self.count(method, route, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                write_access_line(method, route, status, elapsed, rid)
            request_id.reset(token)

    def count(self, method: str, route: str, status: int, elapsed: float) -> None:
        counted = self.counted.get((method, route, status))
        if counted is None:
            counted = self.counted[method, route, status] = REQUESTS.labels(
                method, route, str(status)
            )
        counted.inc()
        timed = self.timed.get((method, route))
        if timed is None:
            timed = self.timed[method, route] = LATENCY.labels(method, route)
        timed.observe(elapsed)


def write_access_line(method: str, route: str, status: int, elapsed: float, rid: str) -> None:
    """The access line, exactly as `core.logging.JsonFormatter` would write its record (logger
    `access`, level INFO), built at once: the logging machinery's per-record work (the record,
    its factory, the handlers' lookup and lock, the formatter's generic fields) was over 5% of
    the listing's CPU. The `access` logger's level still decides whether it is written."""
    line = json.dumps(
        {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "access",
            "msg": "request",
            "request_id": rid,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 1),
        }
    )
    stream = sys.stdout
    stream.write(line + "\n")
    stream.flush()


def error_response(error: AppError) -> JSONResponse:
    """The answer for an error, the request id in its `details.request_id`."""
    return error_answer(error.code, error.message, error.status_code, error.details, error.headers)


def error_answer(
    code: str,
    message: str,
    status_code: int,
    details: dict | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    details = dict(details or {})
    rid = request_id.get()
    if rid is not None:
        details["request_id"] = rid
    return JSONResponse(error_body(code, message, details), status_code, headers=headers)


def _registry() -> CollectorRegistry:
    """This process's metrics, or every worker's when uvicorn runs several
    (`PROMETHEUS_MULTIPROC_DIR` set: prometheus-client's multiprocess mode)."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def metrics_router() -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", tags=["health"], summary="Metrics in Prometheus text format")
    async def metrics() -> Response:
        """Requests by route template and status, latency histograms by route, and the
        process's own figures. Not routed by the gateway (docs/observability.md)."""
        return Response(generate_latest(_registry()), media_type=CONTENT_TYPE_LATEST)

    return router
