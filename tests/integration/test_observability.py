"""What an operator sees of a request, in-process on the real apps: its request id (header,
error bodies, log lines), one JSON access line, a 500 logged once as one JSON record and sent
to Sentry, and the Prometheus metrics at /metrics."""

import json
import logging
import uuid

import pytest
import sentry_sdk
from fastapi import APIRouter
from sentry_sdk.transport import Transport

import admin.app
import auth.app
import command_api.app
import query_api.app
from core.app import create_app
from core.config import Settings
from core.logging import JsonFormatter, init_sentry
from tests.support.factories import bearer
from tests.support.http import asgi_client

OPERATOR = bearer(uuid.uuid4(), "operator")


def crashing_app():
    """An app of the platform's factory with one route that fails unexpectedly."""
    router = APIRouter()

    @router.get("/boom/{item_id}")
    async def boom(item_id: int) -> dict:
        raise RuntimeError(f"boom {item_id}")

    return create_app("crashing", Settings().loyalty_database_url, router, title="crashing")


# Built once, at import: the factory sets up the process's logging, which a test's log
# capture must come after.
CRASHING = crashing_app()


def json_lines(caplog, logger: str | None = None) -> list[dict]:
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records if logger in (None, r.name)]
    assert all("\n" not in line for line in lines), "a record spans several lines"
    return [json.loads(line) for line in lines]


def access_lines(capsys) -> list[dict]:
    """The access lines written so far: straight to stdout, not through logging's handlers."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line[:1] == "{"]
    return [line for line in lines if line.get("logger") == "access"]


async def test_a_request_id_is_made_and_echoed_when_the_caller_sends_none():
    async with asgi_client(query_api.app.app) as client:
        first = await client.get("/health")
        second = await client.get("/health")
    assert len(first.headers["X-Request-ID"]) == 32
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


async def test_a_sane_caller_request_id_is_kept_and_a_hostile_one_replaced():
    async with asgi_client(auth.app.app) as client:
        kept = await client.get("/health", headers={"X-Request-ID": "edge-42.a:b_c"})
        too_long = await client.get("/health", headers={"X-Request-ID": "x" * 65})
        with_spaces = await client.get("/health", headers={"X-Request-ID": "a b\tc"})
    assert kept.headers["X-Request-ID"] == "edge-42.a:b_c"
    assert len(too_long.headers["X-Request-ID"]) == 32
    assert with_spaces.headers["X-Request-ID"] not in ("a b\tc", "a b")


async def test_every_error_body_names_the_request_id_of_its_answer():
    async with asgi_client(command_api.app.app) as client:
        unauthenticated = await client.post("/api/v1/loyalty/apply_promocode", json={})
        invalid = await client.post(
            "/api/v1/loyalty/tariffs", json={"price": "x"}, headers=OPERATOR
        )
        no_route = await client.get("/no/such/route", headers={"X-Request-ID": "mine-1"})
    for response in (unauthenticated, invalid, no_route):
        assert response.status_code in (401, 404, 422), response.text
        rid = response.json()["error"]["details"]["request_id"]
        assert rid == response.headers["X-Request-ID"]
    assert no_route.json()["error"]["details"]["request_id"] == "mine-1"


async def test_an_unexpected_error_is_a_500_with_its_request_id_and_one_json_log_record(
    caplog, capsys
):
    caplog.set_level(logging.INFO)
    async with asgi_client(CRASHING) as client:
        response = await client.get("/boom/7", headers={"X-Request-ID": "trace-me-500"})

    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "trace-me-500"
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert error["details"] == {"request_id": "trace-me-500"}
    assert "boom" not in response.text, "the answer shows nothing of the failure"
    records = [r for r in json_lines(caplog) if r.get("request_id") == "trace-me-500"]
    failures = [r for r in records if "exc" in r]
    assert len(failures) == 1, records
    assert failures[0]["level"] == "ERROR"
    assert failures[0]["exc_type"] == "RuntimeError"
    assert "Traceback" in failures[0]["exc"] and "boom 7" in failures[0]["exc"]
    (access,) = [r for r in access_lines(capsys) if r["request_id"] == "trace-me-500"]
    assert access["status"] == 500


async def test_one_json_access_line_per_request_with_the_route_template_and_no_secrets(capsys):
    promocode_id = 987654
    async with asgi_client(query_api.app.app) as client:
        await client.get(
            f"/api/v1/loyalty/promocodes/{promocode_id}?secret=qwerty",
            headers={**OPERATOR, "X-Request-ID": "access-1"},
        )
    (line,) = [r for r in access_lines(capsys) if r["request_id"] == "access-1"]
    assert (line["level"], line["msg"]) == ("INFO", "request")
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/loyalty/promocodes/{promocode_id}"
    assert isinstance(line["status"], int) and isinstance(line["duration_ms"], float)
    text = json.dumps(line)
    token = OPERATOR["Authorization"].split()[1]
    for secret in (str(promocode_id), "qwerty", token, "127.0.0.1"):
        assert secret not in text


async def test_the_access_loggers_level_still_silences_the_access_line(capsys):
    access = logging.getLogger("access")
    access.setLevel(logging.WARNING)
    try:
        async with asgi_client(query_api.app.app) as client:
            await client.get("/health", headers={"X-Request-ID": "quiet-1"})
    finally:
        access.setLevel(logging.NOTSET)
    async with asgi_client(query_api.app.app) as client:
        await client.get("/health", headers={"X-Request-ID": "heard-1"})
    ids = [line["request_id"] for line in access_lines(capsys)]
    assert "heard-1" in ids and "quiet-1" not in ids


@pytest.mark.parametrize("app", [auth.app.app, command_api.app.app, query_api.app.app])
async def test_metrics_count_requests_by_route_template_and_status(app):
    async with asgi_client(app) as client:
        await client.get("/health")
        await client.head("/health")
        await client.get("/no/such/route/42")
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'http_requests_total{method="HEAD",route="/health",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="GET",route="/health"}' in text
    assert "/no/such/route/42" not in text


class CapturingTransport(Transport):
    """Sentry's transport that keeps the events in memory (no network)."""

    def __init__(self, options=None) -> None:
        super().__init__(options)
        self.events: list[dict] = []

    def capture_envelope(self, envelope) -> None:
        for item in envelope.items:
            if item.type == "event":
                self.events.append(item.payload.json)


@pytest.fixture
def sentry_events():
    transport = CapturingTransport()
    settings = Settings(sentry_dsn="https://public@sentry.invalid/1")
    assert init_sentry(settings, "crashing", transport=transport)
    yield transport.events
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_sentry_is_off_without_a_dsn():
    assert init_sentry(Settings(sentry_dsn=""), "any") is False


async def test_an_unexpected_error_reaches_sentry_with_its_request_id(sentry_events):
    async with asgi_client(CRASHING) as client:
        response = await client.get("/boom/3", headers={"X-Request-ID": "sentry-3"})
    assert response.status_code == 500
    sentry_sdk.flush()
    (event,) = sentry_events
    assert event["tags"]["request_id"] == "sentry-3"
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError" and exception["value"] == "boom 3"
    assert event["server_name"] == "crashing"
    assert not sentry_sdk.get_client().options["send_default_pii"]
    assert "user" not in event, "no personal data"


async def test_admin_routes_are_labelled_with_their_mount_and_odd_methods_as_other():
    async with asgi_client(admin.app.app) as client:
        await client.get("/admin/login")
        await client.get("/admin/statics/css/no-such.css")
        await client.request("BREW", "/health")
        text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/admin/login",status="200"}' in text
    assert 'route="/admin/statics"' in text
    assert 'http_requests_total{method="OTHER",route="/health"' in text
    assert "BREW" not in text
