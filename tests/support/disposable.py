"""Disposable Redis and Postgres servers for fault tests, which stop and restart them, and for
benchmarks that hold two read models side by side (`with DisposableRedis() as redis:`).

The machine's own Postgres (5432) and Redis (6379) are shared with other runs: a fault test
never touches them. It starts its own servers on free ports, in temporary directories, with
nothing saved to disk (Redis) or synced (Postgres), and stops them when it is done.
`available()` says whether the binaries are installed, so the tests can skip cleanly.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from tests.support.polling import eventually_sync

POSTGRES_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), "")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class DisposableRedis:
    """`redis-server` on a free port that saves nothing: a restart comes back empty."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return self.url_of(0)

    def url_of(self, database: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    def start(self) -> "DisposableRedis":
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir()]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eventually_sync(lambda: answers(self.port), timeout=10, message="redis-server listening")
        return self

    def stop(self) -> None:
        """Gone at once, without saving (SIGKILL): what it held is lost."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None

    def __enter__(self) -> "DisposableRedis":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class DisposablePostgres:
    """A throwaway Postgres cluster (initdb) on a free port, run as the `postgres` user when
    the tests run as root (Postgres refuses to run as root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="pg-fault-"))
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"

    @staticmethod
    def available() -> bool:
        if not POSTGRES_BIN or not Path(POSTGRES_BIN, "initdb").exists():
            return False
        return os.geteuid() != 0 or shutil.which("runuser") is not None

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(Path(POSTGRES_BIN, tool)), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> "DisposablePostgres":
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        return self

    def start(self) -> "DisposablePostgres":
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast`: every client is disconnected, then a clean shutdown."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
