"""Failure modes: a lost dependency is named by /health; a dead worker loses nothing."""

import subprocess
import uuid

import httpx

from scripts.environments import TEST_PORT_OFFSET
from scripts.processes import http_command
from tests.support.db import sql
from tests.support.polling import eventually, eventually_sync


def test_health_is_503_naming_redis_when_redis_does_not_answer(platform):
    port = 8090 + TEST_PORT_OFFSET
    env = {**platform.env, "REDIS_URL": "redis://127.0.0.1:1/0"}  # nothing listens on port 1
    proc = subprocess.Popen(
        http_command("command_api.app:app", port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Until the process has warmed up, its first connection to Postgres may take longer
        # than the check's 2 s on a busy machine (then both are named): wait for Postgres alone
        # to answer again.
        response = eventually_sync(
            lambda: httpx.get(f"http://127.0.0.1:{port}/health", timeout=5),
            timeout=30,
            interval=0.2,
            until=lambda r: r.status_code != 503 or r.json()["failing"] != ["postgres", "redis"],
            retry_on=(httpx.TransportError,),
            message="command_api answering /health",
        )
        assert response.status_code == 503
        body = response.json()
        assert body["failing"] == ["redis"]
        assert body["error"]["code"] == "dependency_unavailable"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_users_registered_while_workers_are_down_arrive_when_they_return(platform):
    platform.stop_process("workers")
    try:
        user_ids = []
        async with httpx.AsyncClient(base_url=platform.urls["auth"]) as client:
            for _ in range(3):
                response = await client.post(
                    "/api/v1/auth/user_registration",
                    json={
                        "email": f"down-{uuid.uuid4().hex[:10]}@example.com",
                        "password": "s3cret-pass!",
                    },
                )
                assert response.status_code == 201
                user_ids.append(uuid.UUID(response.json()["id"]))
    finally:
        platform.start_workers()

    async def arrived() -> set[uuid.UUID]:
        return {
            r["id"] for r in await sql("SELECT id FROM users WHERE id = ANY(:ids)", ids=user_ids)
        }

    await eventually(arrived, timeout=15, until=lambda found: found == set(user_ids))
