"""Following one request through the platform: its request id, and OpenTelemetry traces when
an OTLP endpoint is configured.

- `request_id`: the id of the request (or of the stream entry) being handled, a context
  variable every log line carries (`core.logging`).
- `carried()`: what an event keeps of its cause, taken when the event is made
  (`core.outbox.Event.context`): the request id and, when tracing, the W3C `traceparent`. The
  relay copies it into the stream entry's fields (`core.streams.entry_fields`).
- `continued(fields)`: the consumer runner handles an entry inside it, so the handler's log
  lines carry the entry's request id, its span joins the request's trace, and the events the
  handler causes carry both on (user sync → projector).
- The span of each HTTP request is FastAPI's own (it traces every request once a tracer
  provider is set, the caller's `traceparent` its parent); `tag_request` names the request
  id on it.

Tracing is off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set (`setup_tracing`): then `tracer` is
None, no provider is set (FastAPI's tracing stays off), and no span or propagation is done.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

log = logging.getLogger(__name__)

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# The stream entry fields that carry an event's cause (API.md, Events).
CARRIED_FIELDS = ("request_id", "traceparent", "tracestate")

tracer: trace.Tracer | None = None


def setup_tracing(service: str, endpoint: str) -> bool:
    """Spans exported over OTLP/HTTP to `endpoint` (its `/v1/traces`) in batches, named after
    `service`; nothing when `endpoint` is empty (False). Batching follows the `OTEL_BSP_*`
    variables; the spans left are sent when the process exits."""
    global tracer
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("promo-platform")
    log.info("tracing to %s", endpoint)
    return True


def carried() -> dict[str, str] | None:
    """What an event made now keeps of its cause (None: no request, no trace)."""
    fields: dict[str, str] = {}
    rid = request_id.get()
    if rid is not None:
        fields["request_id"] = rid
    if tracer is not None:
        propagate.inject(fields)
    return fields or None


def tag_request(rid: str) -> None:
    """Names the request id on the request's span (FastAPI's own, the current one)."""
    trace.get_current_span().set_attribute("request_id", rid)


@contextmanager
def continued(fields: dict[str, str], name: str) -> Iterator[None]:
    """Handles a stream entry as part of the request that caused it (see the module)."""
    token = request_id.set(fields.get("request_id"))
    try:
        if tracer is None:
            yield
            return
        parent = propagate.extract({k: fields[k] for k in CARRIED_FIELDS if k in fields})
        with tracer.start_as_current_span(name, context=parent, kind=SpanKind.CONSUMER):
            yield
    finally:
        request_id.reset(token)
