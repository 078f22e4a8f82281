"""Structured (JSON) logs, Sentry and traces (`core.tracing`), set up once per process.

Every record is one JSON line on stdout: its time, level, logger, message, the fields passed
in `extra`, the request id of the request it belongs to (`core.tracing.request_id`, set
on the record when it is made),
and, for an exception, its traceback as one string (`exc`), never lines of plain text.
uvicorn's own loggers write through the same handler.
"""

import json
import logging
import sys
from datetime import UTC, datetime

from core.config import Settings
from core.tracing import request_id, setup_tracing

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


_make_record = logging.getLogRecordFactory()


def _record_with_request_id(*args: object, **kwargs: object) -> logging.LogRecord:
    """Every record made during a request carries its id, whichever handler gets it."""
    record = _make_record(*args, **kwargs)
    rid = request_id.get()
    if rid is not None:
        record.request_id = rid
    return record


logging.setLogRecordFactory(_record_with_request_id)

# Fields no line of ours prints, which logging would otherwise work out for every record (the
# access line is one per request): the caller's file and line (a walk up the stack, the
# logging HOWTO's "Optimization"), the thread and the process.
logging._srcfile = None
logging.logThreads = False
logging.logProcesses = False
logging.logMultiprocessing = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc_type"] = getattr(record.exc_info[0], "__name__", None)
            entry["exc"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


def setup_logging(settings: Settings, service: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # uvicorn configured its loggers with plain-text handlers before loading the app.
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    init_sentry(settings, service)
    setup_tracing(service, settings.otel_exporter_otlp_endpoint)


def init_sentry(settings: Settings, service: str, **options: object) -> bool:
    """Sentry on when `SENTRY_DSN` is set (True), without personal data; `options` go to
    `sentry_sdk.init` (a test passes its own `transport`)."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment,
        server_name=service,
        traces_sample_rate=0.05,
        # No personal data: send_default_pii stays at its default, off (sentry-sdk 2.75
        # deprecates passing it at all).
        **options,
    )
    return True
