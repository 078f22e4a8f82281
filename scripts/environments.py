"""The settings `make test` uses: its own databases and Redis database, never the dev ones.

`TEST_SLOT=N` (0..9) gives parallel runs on one machine their own databases, Redis database
and ports, so two developers' suites never share state.
"""

import os

TEST_SLOT = int(os.environ.get("TEST_SLOT", "0"))
_suffix = f"_{TEST_SLOT}" if TEST_SLOT else ""

TEST_ENV = {
    "ENVIRONMENT": "test",
    "AUTH_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/auth_test{_suffix}",
    "LOYALTY_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/loyalty_test{_suffix}",
    "REDIS_URL": f"redis://127.0.0.1:6379/{15 - TEST_SLOT}",
    "SENTRY_DSN": "",
}
TEST_PORT_OFFSET = 10_000 + 100 * TEST_SLOT
