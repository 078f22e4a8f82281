"""Starts the real processes (uvicorn apps and workers) on test ports, with the test settings."""

import os
import subprocess
import tempfile
from pathlib import Path

import httpx

from scripts.environments import TEST_ENV, TEST_PORT_OFFSET
from scripts.processes import HTTP_SERVICES, http_command, workers_command
from tests.support.polling import eventually_sync

# auth on 18001, command_api 18002, query_api 18003, admin 18004 (slot 0)
PORT_OFFSET = TEST_PORT_OFFSET

# Short timings so retries and reclaims happen within a test.
FAST_TIMINGS = {
    "STREAM_BLOCK_MS": "500",
    "STREAM_CLAIM_IDLE_MS": "300",
    "OUTBOX_POLL_SECONDS": "0.5",
    "REAPER_INTERVAL_SECONDS": "0.5",
}


class Platform:
    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        auth_url = f"http://127.0.0.1:{HTTP_SERVICES['auth'][1] + PORT_OFFSET}"
        self.env = {
            **os.environ,
            **TEST_ENV,
            **FAST_TIMINGS,
            "AUTH_SERVICE_URL": auth_url,  # the admin signs operators in through auth
            **(extra_env or {}),
        }
        self.log_dir = Path(tempfile.mkdtemp(prefix="platform-logs-"))
        self.procs: dict[str, subprocess.Popen] = {}
        self.urls = {
            name: f"http://127.0.0.1:{port + PORT_OFFSET}"
            for name, (_app, port) in HTTP_SERVICES.items()
        }

    def start_http(self, name: str, port: int | None = None) -> str:
        app, default_port = HTTP_SERVICES[name]
        port = port or default_port + PORT_OFFSET
        self._spawn(f"{name}-{port}", http_command(app, port))
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url)
        return url

    def start_workers(self, name: str = "workers") -> None:
        self._spawn(name, workers_command())

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

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115
        self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=log)


def wait_healthy(url: str, seconds: float = 30) -> None:
    eventually_sync(
        lambda: httpx.get(f"{url}/health", timeout=2),
        timeout=seconds,
        interval=0.2,
        until=lambda response: response.status_code == 200,
        retry_on=(httpx.HTTPError,),
        message=f"{url}/health answering 200",
    )
