"""Following one request from the API through the stream to the workers: its request id in the
event's outbox row, in the stream entry and on the consumers' log lines; and, when an OTLP
endpoint is configured, one trace holding the request's span and the consumers' spans."""

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from core.config import get_settings
from core.redis import make_redis
from core.streams import LOYALTY_EVENTS
from tests.support.db import sql
from tests.support.factories import (
    bearer,
    create_loyalty_user,
    create_promocode,
    create_tariff,
    unlimited_code_json,
)
from tests.support.platform import PORT_OFFSET, WORKERS, Platform
from tests.support.polling import eventually

API = "/api/v1/loyalty"
OPERATOR = bearer(uuid.uuid4(), "admin")
# Next to the session's platform, clear of test_faults.py's (+50) and test_failures.py's (+89).
TRACED_PORT_OFFSET = PORT_OFFSET + 70


def log_lines(platform: Platform, name: str) -> list[dict]:
    return [json.loads(line) for line in platform.log(name).splitlines() if line.startswith("{")]


async def entry_fields(stream: str, event_id: str) -> dict | None:
    redis = make_redis(get_settings().redis_url)
    try:
        entries = await redis.xrevrange(stream, count=2000)
    finally:
        await redis.aclose()
    return next((f for _id, f in entries if f["event_id"] == event_id), None)


async def outbox_rows(aggregate_id: object, type: str) -> list[dict]:
    """The outbox rows of one aggregate of one kind (a tariff and a code may share an id)."""
    return await sql(
        "SELECT event_id, type, context FROM outbox WHERE aggregate_id = :a AND type = :t",
        a=str(aggregate_id),
        t=type,
    )


async def create_code(base_url: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.post(
            f"{API}/promocodes",
            json=unlimited_code_json("FOLLOW"),
            headers={**OPERATOR, **headers},
        )
    assert response.status_code == 201, response.text
    return response


async def test_a_request_id_follows_the_event_from_command_api_to_the_projectors_log(platform):
    rid = f"follow-{uuid.uuid4().hex}"
    code = (await create_code(platform.urls["command_api"], {"X-Request-ID": rid})).json()

    [row] = await outbox_rows(code["id"], "promocode.created")
    assert row["context"] == {"request_id": rid}
    entry = await eventually(lambda: entry_fields(LOYALTY_EVENTS, str(row["event_id"])))
    assert entry["request_id"] == rid

    def projector_lines() -> list[dict]:
        return [
            r
            for r in log_lines(platform, WORKERS)
            if r.get("request_id") == rid and r.get("group") == "projector"
        ]

    (handled,) = await eventually(projector_lines, message="the projector's line for the event")
    assert handled["msg"] == "handled promocode.created"
    assert handled["event_id"] == str(row["event_id"])


async def test_a_registrations_request_id_reaches_user_sync_and_the_events_it_causes(platform):
    """auth's event carries the registration's id; the user sync handles it under that id, and
    what it writes to the loyalty outbox carries it on."""
    rid = f"register-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=platform.urls["auth"], timeout=10) as client:
        response = await client.post(
            "/api/v1/auth/user_registration",
            json={"email": f"follow-{uuid.uuid4().hex[:10]}@example.com", "password": "pass-1234"},
            headers={"X-Request-ID": rid},
        )
    assert response.status_code == 201, response.text

    def handled_by(group: str):
        return lambda: [
            r
            for r in log_lines(platform, WORKERS)
            if r.get("request_id") == rid and r.get("group") == group
        ]

    await eventually(handled_by("user_sync"), message="user sync's line for the registration")
    await eventually(handled_by("projector_users"), message="the user projector's line")


class OtlpReceiver:
    """A collector that keeps every span sent to its OTLP/HTTP `/v1/traces` (protobuf)."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    service = next(
                        a.value.string_value
                        for a in resource_spans.resource.attributes
                        if a.key == "service.name"
                    )
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append(
                                {
                                    "service": service,
                                    "name": span.name,
                                    "trace_id": span.trace_id.hex(),
                                    "span_id": span.span_id.hex(),
                                    "parent_span_id": span.parent_span_id.hex(),
                                    "attributes": {
                                        a.key: a.value.string_value for a in span.attributes
                                    },
                                }
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def traced(running_platform) -> Iterator[tuple[Platform, OtlpReceiver]]:
    """command_api and the workers exporting their spans to a receiver of the test's; the
    session's workers pause meanwhile (so the traced ones handle every entry), and come back
    with the next test's `platform`."""
    receiver = OtlpReceiver()
    running_platform.pause_workers()
    traced = Platform(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100"},
        port_offset=TRACED_PORT_OFFSET,
    )
    try:
        traced.start_all_http(["command_api"])
        traced.start_workers()
        yield traced, receiver
    finally:
        traced.stop()
        receiver.close()


async def test_one_trace_holds_the_request_and_the_projectors_handling_of_its_event(
    platform, traced
):
    traced_platform, receiver = traced
    caller_trace = uuid.uuid4().hex
    traceparent = f"00-{caller_trace}-{uuid.uuid4().hex[:16]}-01"
    rid = f"traced-{uuid.uuid4().hex}"
    await create_code(
        traced_platform.urls["command_api"], {"traceparent": traceparent, "X-Request-ID": rid}
    )
    route = f"POST {API}/promocodes"

    def spans_of_the_trace() -> list[dict]:
        return [s for s in receiver.spans if s["trace_id"] == caller_trace]

    def has_both(spans: list[dict]) -> bool:
        names = {(s["service"], s["name"]) for s in spans}
        return {("command_api", route), ("workers", "projector promocode.created")} <= names

    spans = await eventually(spans_of_the_trace, timeout=20, until=has_both)
    [request] = [s for s in spans if s["name"] == route]
    assert request["attributes"]["request_id"] == rid
    # The projector's span hangs under the request's, through the spans inside command_api.
    by_id = {s["span_id"]: s for s in spans}
    [handled] = [s for s in spans if s["name"] == "projector promocode.created"]
    ancestors = []
    parent = by_id.get(handled["parent_span_id"])
    while parent is not None:
        ancestors.append(parent)
        parent = by_id.get(parent["parent_span_id"])
    assert request in ancestors
    assert {a["service"] for a in ancestors} == {"command_api"}


async def test_without_an_endpoint_nothing_is_traced_or_carried_but_the_request_id(platform):
    rid = f"untraced-{uuid.uuid4().hex}"
    code = (await create_code(platform.urls["command_api"], {"X-Request-ID": rid})).json()
    [row] = await outbox_rows(code["id"], "promocode.created")
    assert row["context"] == {"request_id": rid}  # no traceparent when tracing is off
    entry = await eventually(lambda: entry_fields(LOYALTY_EVENTS, str(row["event_id"])))
    assert "traceparent" not in entry


async def test_a_purchases_request_id_reaches_the_projectors_line_for_it(platform):
    """The hot path (TAKE_USE writes its own outbox row) carries the request id too."""
    user = await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode()
    rid = f"purchase-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=platform.urls["command_api"], timeout=10) as client:
        used = await client.post(
            f"{API}/use_promocode",
            json={"promocode": promo.code, "tariff_id": tariff.id},
            headers={**bearer(user), "X-Request-ID": rid},
        )
    assert used.status_code == 201, used.text
    [row] = await outbox_rows(used.json()["purchase_id"], "purchase.reserved")
    assert row["context"] == {"request_id": rid}

    def projector_lines() -> list[dict]:
        return [
            r
            for r in log_lines(platform, WORKERS)
            if r.get("request_id") == rid and r.get("group") == "projector"
        ]

    (handled,) = await eventually(projector_lines, message="the projector's line for the use")
    assert handled["event_id"] == str(row["event_id"])
