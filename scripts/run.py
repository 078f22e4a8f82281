"""Runs every process of the platform in the foreground with prefixed logs; Ctrl-C stops all.

The processes listen on 127.0.0.1 with no proxy in front: TRUSTED_PROXIES stays empty (the
default), so each caller is its own socket's address and an X-Forwarded-For is ignored.
`make loadtest` registers all its buyers from this one address, so this local stack allows
more registrations per address than auth's default (LOCAL_REGISTRATIONS_PER_ADDRESS, unless
REGISTRATIONS_PER_ADDRESS is set).
"""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from scripts.processes import HTTP_SERVICES, platform_commands, workers_of

LOCAL_REGISTRATIONS_PER_ADDRESS = "1000000"
COLORS = ["\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m"]
RESET = "\033[0m"


def pump(name: str, color: str, stream, width: int) -> None:
    prefix = f"{color}{name:<{width}}{RESET} | " if sys.stdout.isatty() else f"{name:<{width}} | "
    for line in iter(stream.readline, b""):
        sys.stdout.write(prefix + line.decode(errors="replace"))
        sys.stdout.flush()


def environment(name: str) -> dict[str, str]:
    """A service with several uvicorn workers shares its metrics through a directory of its
    own (prometheus-client's multiprocess mode), so /metrics counts every worker's requests."""
    if name in HTTP_SERVICES and workers_of(name) > 1:
        return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix=f"{name}-")}
    return dict(os.environ)


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    os.environ.setdefault("REGISTRATIONS_PER_ADDRESS", LOCAL_REGISTRATIONS_PER_ADDRESS)
    commands = platform_commands(host)
    width = max(map(len, commands))
    procs: dict[str, subprocess.Popen] = {}
    for i, (name, argv) in enumerate(commands.items()):
        procs[name] = subprocess.Popen(
            argv,
            env=environment(name),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(
            target=pump,
            args=(name, COLORS[i % len(COLORS)], procs[name].stdout, width),
            daemon=True,
        ).start()
    print(
        "[run] auth :8001  command_api :8002  query_api :8003  admin :8004/admin  workers; "
        "Ctrl-C stops everything",
        flush=True,
    )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"[run] {name} exited with {proc.returncode}; stopping the rest", flush=True)
                exit_code, stopping = 1, True
        time.sleep(0.3)
    for proc in procs.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    print("[run] stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
