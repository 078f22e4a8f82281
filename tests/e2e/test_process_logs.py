"""What the real processes write and show: JSON log lines only (uvicorn's own included), an
access line per request carrying its request id, and /metrics on every HTTP process."""

import json
import uuid

import httpx
import pytest

from scripts.processes import HTTP_SERVICES
from tests.support.platform import PORT_OFFSET
from tests.support.polling import eventually


def log_of(platform, service: str) -> str:
    return platform.log(f"{service}-{HTTP_SERVICES[service][1] + PORT_OFFSET}")


async def test_each_request_gets_one_json_access_line_with_its_request_id(platform):
    request_id = f"e2e-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=platform.urls["auth"]) as client:
        response = await client.post(
            "/api/v1/auth/login",
            json={"email": "nobody@example.com", "password": "wrong-password"},
            headers={"X-Request-ID": request_id},
        )
    assert response.headers["X-Request-ID"] == request_id
    assert response.json()["error"]["details"]["request_id"] == request_id

    def access_lines() -> list[dict]:
        lines = [json.loads(line) for line in log_of(platform, "auth").splitlines() if line]
        return [r for r in lines if r.get("request_id") == request_id and r["logger"] == "access"]

    (line,) = await eventually(access_lines, message="the access line of the request")
    assert line["route"] == "/api/v1/auth/login"
    assert line["status"] == 401 and line["method"] == "POST"
    assert "nobody@example.com" not in log_of(platform, "auth")


@pytest.mark.parametrize("service", ["auth", "command_api", "query_api", "admin"])
async def test_every_process_logs_json_only_and_serves_metrics(platform, service):
    async with httpx.AsyncClient(base_url=platform.urls[service]) as client:
        await client.get("/health")
        metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'http_requests_total{method="GET",route="/health",status="200"}' in metrics.text
    for line in log_of(platform, service).splitlines():
        if line:
            assert isinstance(json.loads(line), dict), line
