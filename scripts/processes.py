"""The processes of the platform and how to start each one (used by `make run` and e2e tests)."""

import os
import sys

HTTP_SERVICES = {
    "auth": ("auth.app:app", 8001),
    "command_api": ("command_api.app:app", 8002),
    "query_api": ("query_api.app:app", 8003),
    "admin": ("admin.app:app", 8004),
}

# uvicorn processes per service, from the measurements in docs/performance.md ("Sizing");
# `<SERVICE>_WORKERS` (AUTH_WORKERS, COMMAND_API_WORKERS, ...) overrides one.
DEFAULT_WORKERS = {"auth": 1, "command_api": 1, "query_api": 1, "admin": 1}


def workers_of(service: str, env: dict[str, str] | None = None) -> int:
    value = (os.environ if env is None else env).get(f"{service.upper()}_WORKERS")
    return int(value) if value else DEFAULT_WORKERS[service]


def http_command(app: str, port: int, host: str = "127.0.0.1", workers: int = 1) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        host,
        "--port",
        str(port),
        # The client address comes from core.addresses (TRUSTED_PROXIES), never from uvicorn
        # reading X-Forwarded-For: by default it believes any such header from 127.0.0.1.
        "--no-proxy-headers",
        # core.observability writes one JSON access line per request instead.
        "--no-access-log",
        "--log-level",
        "warning",
        *(["--workers", str(workers)] if workers > 1 else []),
    ]


def workers_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "workers", *args]


def platform_commands(host: str = "127.0.0.1", port_offset: int = 0) -> dict[str, list[str]]:
    commands = {
        name: http_command(app, port + port_offset, host, workers_of(name))
        for name, (app, port) in HTTP_SERVICES.items()
    }
    commands["workers"] = workers_command()
    return commands
