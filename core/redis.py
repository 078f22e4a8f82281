"""Redis clients that come back by themselves: retries with exponential backoff and jitter.

Two kinds, since a request and a worker can afford different waits:
- `get_redis` (the HTTP processes, one shared client per URL) fails fast: a refused or lost
  connection is retried twice within a few tenths of a second (enough to replace a pooled
  connection a restarted Redis dropped), then raises, and the app answers 503 naming Redis
  (`core.dependencies`) well within 2 s, even for a request that calls Redis several times.
- `make_redis` (the workers) waits longer per command (stream reads block for
  `STREAM_BLOCK_MS`) and retries more; the workers' own loops back off beyond that.
"""

from functools import lru_cache

from redis.asyncio import Redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry

# Stream reads BLOCK for at most this long, well below the socket timeout, so a blocking
# read is never mistaken for a dead connection.
SOCKET_TIMEOUT_SECONDS = 10
# A request's Redis command (no blocking reads) that takes longer means Redis is in trouble.
REQUEST_SOCKET_TIMEOUT_SECONDS = 2
REQUEST_CONNECT_TIMEOUT_SECONDS = 0.5


def make_redis(url: str) -> Redis:
    """A client for the workers: patient, for blocking stream reads."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=3,
        health_check_interval=30,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=2.0), retries=5),
        retry_on_error=[ConnectionError, TimeoutError],
    )


def make_request_redis(url: str) -> Redis:
    """A client for requests: each command gives up within about a second when Redis is
    down (at most 3 connection attempts of 0.5 s, 0.1 and 0.2 s of jittered backoff)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=REQUEST_SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=REQUEST_CONNECT_TIMEOUT_SECONDS,
        health_check_interval=30,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.2), retries=2),
        retry_on_error=[ConnectionError, TimeoutError],
    )


@lru_cache
def get_redis(url: str) -> Redis:
    return make_request_redis(url)
