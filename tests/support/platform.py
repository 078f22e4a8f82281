"""Starts the real processes (uvicorn apps and workers) on test ports, with the test settings.

The e2e tests share one platform for the session (`RUNNING` in the session's stash). Its HTTP
processes only answer requests, but its workers process acts on its own (relays, consumers, the
reaper), on the same databases as the integration tests: so it runs only while e2e tests run.
Integration tests pause it (tests/integration/conftest.py), the e2e `platform` fixture brings it
back and waits until it has caught up (`ready`).
"""

import os
import socket
import subprocess
import tempfile
from pathlib import Path

import httpx
import pytest
from redis.exceptions import ResponseError
from sqlalchemy import text

from auth.models import outbox as auth_outbox
from core.config import get_settings
from core.db import get_engine
from core.redis import make_redis
from core.streams import AUTH_USERS, LOYALTY_EVENTS
from loyalty.models import outbox as loyalty_outbox
from scripts.environments import TEST_ENV, TEST_PORT_OFFSET
from scripts.processes import HTTP_SERVICES, http_command, workers_command
from tests.support.polling import eventually, eventually_sync
from tests.support.read_side import GROUPS as DRIVER_GROUPS

# auth on 18001, command_api 18002, query_api 18003, admin 18004 (slot 0)
PORT_OFFSET = TEST_PORT_OFFSET

# Short timings so retries and reclaims happen within a test.
FAST_TIMINGS = {
    "STREAM_BLOCK_MS": "500",
    "STREAM_CLAIM_IDLE_MS": "300",
    "OUTBOX_POLL_SECONDS": "0.5",
    "REAPER_INTERVAL_SECONDS": "0.5",
}

# The tests stand in for the gateway: a request from 127.0.0.1 is a proxied one, its
# X-Forwarded-For (when sent) names the client; any other loopback address (127.0.0.2, ...)
# is a client calling a service port directly. Registrations without X-Forwarded-For all come
# from 127.0.0.1, so its registration limit is out of the way (tests/e2e/test_abuse.py and
# tests/integration/test_registration_limit.py check that limit).
AS_BEHIND_THE_GATEWAY = {
    "TRUSTED_PROXIES": "127.0.0.1",
    "REGISTRATIONS_PER_ADDRESS": "1000000",
}


WORKERS = "workers"


class Platform:
    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        auth_url = f"http://127.0.0.1:{HTTP_SERVICES['auth'][1] + PORT_OFFSET}"
        self.env = {
            **os.environ,
            **TEST_ENV,
            **FAST_TIMINGS,
            **AS_BEHIND_THE_GATEWAY,
            "AUTH_SERVICE_URL": auth_url,  # the admin signs operators in through auth
            **(extra_env or {}),
        }
        self.log_dir = Path(tempfile.mkdtemp(prefix="platform-logs-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls = {
            name: f"http://127.0.0.1:{port + PORT_OFFSET}"
            for name, (_app, port) in HTTP_SERVICES.items()
        }

    def start_http(self, name: str, port: int | None = None, workers: int = 1) -> str:
        app, default_port = HTTP_SERVICES[name]
        port = port or default_port + PORT_OFFSET
        # Something left on the port (a crashed run's process) would answer in our place.
        assert not port_in_use(port), f"port {port} is taken: stop what a previous run left"
        self._spawn(f"{name}-{port}", http_command(app, port, workers=workers))
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        return url

    def start_workers(self, name: str = WORKERS) -> None:
        self._spawn(name, workers_command())

    def pause_workers(self) -> None:
        if WORKERS in self.procs:
            self.stop_process(WORKERS)

    async def ready(self, timeout: float = 60) -> "Platform":
        """The workers run and have caught up with what happened while they were paused."""
        if WORKERS not in self.procs or self.procs[WORKERS].poll() is not None:
            self.procs.pop(WORKERS, None)
            self.start_workers()
        await eventually(
            caught_up, timeout=timeout, interval=0.1, message="the workers catching up"
        )
        return self

    def start(self) -> "Platform":
        for name in HTTP_SERVICES:
            self.start_http(name)
        self.start_workers()
        return self

    def stop_process(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

    def stop(self) -> None:
        for name in list(self.procs):
            self.stop_process(name)

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text()

    def start_process(self, name: str, argv: list[str]) -> None:
        """Any other process with the platform's environment (a benchmark's own app)."""
        self._spawn(name, argv)

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (a restart appends)
        self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=log)


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_healthy(url: str, seconds: float = 30) -> None:
    eventually_sync(
        lambda: httpx.get(f"{url}/health", timeout=2),
        timeout=seconds,
        interval=0.2,
        until=lambda response: response.status_code == 200,
        retry_on=(httpx.HTTPError,),
        message=f"{url}/health answering 200",
    )


RUNNING = pytest.StashKey[Platform]()


async def caught_up() -> bool:
    """Every outbox row is published, and every consumer group on the streams other than the
    in-process driver's has been given the whole stream and acknowledged it all."""
    settings = get_settings()
    for url, outbox in (
        (settings.loyalty_database_url, loyalty_outbox),
        (settings.auth_database_url, auth_outbox),
    ):
        async with get_engine(url).connect() as conn:
            unpublished = await conn.execute(
                text(f"SELECT 1 FROM {outbox.name} WHERE published_at IS NULL LIMIT 1")
            )
            if unpublished.first() is not None:
                return False
    redis = make_redis(settings.redis_url)
    try:
        for stream in (LOYALTY_EVENTS, AUTH_USERS):
            try:
                last = (await redis.xinfo_stream(stream))["last-generated-id"]
            except ResponseError:  # no such stream: nothing to catch up with
                continue
            groups = await redis.xinfo_groups(stream)
            workers = [g for g in groups if g["name"] != DRIVER_GROUPS[stream]]
            if not workers or any(g["pending"] or g["last-delivered-id"] != last for g in workers):
                return False
    finally:
        await redis.aclose()
    return True
