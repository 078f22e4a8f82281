"""Redis clients that come back by themselves: retries with exponential backoff and jitter."""

from functools import lru_cache

from redis.asyncio import Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry

# Stream reads BLOCK for at most this long, well below the socket timeout, so a blocking
# read is never mistaken for a dead connection.
SOCKET_TIMEOUT_SECONDS = 10


def make_redis(url: str) -> Redis:
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=3,
        health_check_interval=30,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=5),
        retry_on_error=[ConnectionError, TimeoutError],
    )


@lru_cache
def get_redis(url: str) -> Redis:
    return make_redis(url)
