"""Test settings come first: their own databases and Redis database (`make test` sets them up)."""

import os

from scripts.environments import TEST_ENV

os.environ.update(TEST_ENV)

import pytest

from core.config import get_settings
from core.redis import make_redis


@pytest.fixture(scope="session")
def settings():
    return get_settings()


@pytest.fixture
async def redis(settings):
    client = make_redis(settings.redis_url)
    yield client
    await client.aclose()
