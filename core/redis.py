"""Redis clients that come back by themselves: retries with exponential backoff and jitter.

Two kinds, since a request and a worker can afford different waits:
- `get_redis` (the HTTP processes, one shared client per URL) fails fast, so that every answer
  comes within the issue's 2 s even when Redis hangs (accepts connections, answers nothing):
  - a refused or dropped connection is retried twice within a few tenths of a second (enough
    to replace a pooled connection a restarted Redis dropped);
  - a command unanswered for `REQUEST_SOCKET_TIMEOUT_SECONDS` is not retried (a hang would
    only be waited out again);
  - either failure opens the client's circuit (`core.circuit`) for a second: the commands
    after it, of this request and of the others, fail at once instead of each waiting.
  The app answers 503 naming Redis (`core.dependencies`).
- `make_redis` (the workers) waits longer per command (stream reads block for
  `STREAM_BLOCK_MS`); the workers' own loops back off beyond the client's brief retries.

Both take the asyncio `Retry` (`redis.asyncio.retry`): the synchronous one they had before
returned the coroutine without awaiting it, so it never retried anything.
"""

from functools import lru_cache
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError, TimeoutError

from core.circuit import Circuit
from core.dependencies import REDIS

# Stream reads BLOCK for at most this long, well below the socket timeout, so a blocking
# read is never mistaken for a dead connection.
SOCKET_TIMEOUT_SECONDS = 10
# A request's Redis command (no blocking reads) takes a millisecond or so; one unanswered for
# this long means Redis is in trouble. Measured on a loaded machine: docs/faults.md.
REQUEST_SOCKET_TIMEOUT_SECONDS = 1.0
REQUEST_CONNECT_TIMEOUT_SECONDS = 0.5
CIRCUIT_OPEN_SECONDS = 1.0


def make_redis(url: str) -> Redis:
    """A client for the workers: patient, for blocking stream reads."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=3,
        health_check_interval=30,
        # A refused or dropped connection, briefly (a pooled connection a restarted Redis
        # dropped): longer outages are the loops' to wait out, with one log line each
        # (`core.outage`). A command that timed out is not sent again.
        retry=Retry(
            ExponentialWithJitterBackoff(base=0.05, cap=0.2),
            retries=2,
            supported_errors=(ConnectionError,),
        ),
    )


def make_request_redis(url: str) -> "RequestRedis":
    """A client for requests (see the module): gives up within about a second."""
    client = RequestRedis.from_url(
        url,
        decode_responses=True,
        socket_timeout=REQUEST_SOCKET_TIMEOUT_SECONDS,
        socket_connect_timeout=REQUEST_CONNECT_TIMEOUT_SECONDS,
        health_check_interval=30,
        retry=Retry(
            ExponentialWithJitterBackoff(base=0.05, cap=0.2),
            retries=2,
            supported_errors=(ConnectionError,),
        ),
    )
    client.circuit = Circuit(REDIS, CIRCUIT_OPEN_SECONDS)
    return client


class RequestRedis(Redis):
    """A client whose commands and pipelines fail at once while its circuit is open, and
    open it when Redis fails them."""

    circuit: Circuit

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        with self.circuit.guarding(ConnectionError, TimeoutError):
            return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Pipeline:
        pipe = RequestPipeline(
            self.connection_pool, self.response_callbacks, transaction, shard_hint
        )
        pipe.circuit = self.circuit
        return pipe


class RequestPipeline(Pipeline):
    circuit: Circuit

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        with self.circuit.guarding(ConnectionError, TimeoutError):
            return await super().execute(raise_on_error)


@lru_cache
def get_redis(url: str) -> RequestRedis:
    return make_request_redis(url)
