"""Everything `make run` and `make test` need before processes start, safe to run again.

Checks that Postgres and Redis answer (starting the local ones when they are installed but
stopped), creates development JWT keys when missing, creates the two databases, migrates
both, and loads demo data (dev only).
"""

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from scripts.environments import TEST_ENV

ROOT = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(host: str, port: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(host, port):
            return True
        time.sleep(0.3)
    return False


def start_postgres() -> bool:
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return False
    for version in sorted(os.listdir("/etc/postgresql")):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
        )
    return True


def start_redis() -> bool:
    if not shutil.which("redis-server"):
        return False
    Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
    Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        check=False,
    )
    return True


def ensure_service(name: str, url: str, default_port: int, starter) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    if answers(host, port):
        return
    local = host in ("127.0.0.1", "localhost", "::1")
    if local and starter():
        say(f"{name} was stopped; started the local one")
        if wait_for(host, port):
            return
    sys.exit(
        f"[setup] {name} does not answer at {host}:{port}. Install and start it, "
        f"or run `docker compose up -d {name.lower()}` and point the URL at it."
    )


def ensure_dev_keys(settings) -> None:
    if settings.jwt_public_key or settings.jwt_public_key_file.exists():
        return
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    settings.jwt_private_key_file.parent.mkdir(parents=True, exist_ok=True)
    settings.jwt_private_key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.jwt_private_key_file.chmod(0o600)
    settings.jwt_public_key_file.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    say(f"generated development JWT keys in {settings.jwt_private_key_file.parent}")


async def ensure_database(url: str, *, fresh: bool = False) -> None:
    """Creates the database when missing; `fresh` drops it first (test databases only)."""
    import asyncpg

    from core.db import asyncpg_dsn

    dsn = urlsplit(asyncpg_dsn(url))
    name = dsn.path.lstrip("/")
    admin_dsn = dsn._replace(path="/postgres").geturl()
    conn = await asyncpg.connect(admin_dsn)
    try:
        if fresh:
            assert "_test" in name, f"refusing to drop {name}: not a test database"
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
            say(f"created database {name}")
    finally:
        await conn.close()


async def empty_redis_database(url: str) -> None:
    from core.redis import make_redis

    redis = make_redis(url)
    try:
        await redis.flushdb()  # the test slot's own database, never FLUSHALL
    finally:
        await redis.aclose()
    say(f"emptied Redis database {url.rsplit('/', 1)[-1]}")


def migrate(section: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"), ini_section=section)
    config.set_main_option("script_location", str(ROOT / config.get_main_option("script_location")))
    command.upgrade(config, "head")
    say(f"{section} database migrated")


# The operator login `make run` gives (development only): see docs/auth.md.
DEMO_ADMIN = {"email": "admin@example.com", "password": "admin-password-1", "role": "admin"}


async def ensure_demo_admin() -> None:
    from auth.cli import create_user

    say(f"demo operator: {await create_user(**DEMO_ADMIN)}, password {DEMO_ADMIN['password']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test", action="store_true", help="set up the test databases")
    parser.add_argument(
        "--no-demo", action="store_true", help="skip the demo data (a production deployment)"
    )
    args = parser.parse_args()
    if args.test:
        os.environ.update(TEST_ENV)

    from core.config import get_settings

    settings = get_settings()
    ensure_service("Postgres", settings.loyalty_database_url, 5432, start_postgres)
    ensure_service("Postgres", settings.auth_database_url, 5432, start_postgres)
    ensure_service("Redis", settings.redis_url, 6379, start_redis)
    if settings.is_development:
        ensure_dev_keys(settings)
    # Every test run starts from empty databases, so no run sees what an earlier one left.
    for url in (settings.auth_database_url, settings.loyalty_database_url):
        asyncio.run(ensure_database(url, fresh=args.test))
    if args.test:
        asyncio.run(empty_redis_database(settings.redis_url))
    migrate("auth")
    migrate("loyalty")
    if not (args.test or args.no_demo):
        from scripts.demo import load_demo

        asyncio.run(load_demo())
        if settings.environment == "development":
            asyncio.run(ensure_demo_admin())


if __name__ == "__main__":
    main()
