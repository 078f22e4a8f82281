"""The settings `make test` uses: its own databases and Redis database, never the dev ones."""

TEST_ENV = {
    "ENVIRONMENT": "test",
    "AUTH_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/auth_test",
    "LOYALTY_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/loyalty_test",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "SENTRY_DSN": "",
}
