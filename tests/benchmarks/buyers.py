"""Many buyers at once over keep-alive HTTP/1.1, cheap enough to leave the CPU to the server.

httpx spends about as much CPU per request as command_api itself, and this machine has two
cores, so a benchmark driven by it measured the load generator as much as the service. Here
each buyer is one connection that writes a request built once and reads the answer with
`httptools` (uvicorn's C parser): a few microseconds of CPU per request.
"""

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds


class _Answer:
    """httptools callbacks: the status and whether the whole message has arrived."""

    def __init__(self) -> None:
        self.done = False

    def on_message_complete(self) -> None:
        self.done = True


def request_bytes(url: str, path: str, body: dict, headers: dict[str, str]) -> bytes:
    payload = json.dumps(body).encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {urlsplit(url).netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + payload


async def _buyer(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    requests: list[bytes],
    results: Results,
    started: float,
    schedule: list[float] | None,
) -> None:
    """Sends each request when the previous answer is in, or at its time in `schedule`
    (seconds after `started`); a latency counts from when the request was due, so a buyer
    held up by a slow answer is not measured as if it had sent later."""
    reader, writer = connection
    try:
        for index, raw in enumerate(requests):
            began = time.perf_counter()
            if schedule is not None:
                due = started + schedule[index]
                if due > began:
                    await asyncio.sleep(due - began)  # an arrival rate, not a wait for a state
                began = due
            writer.write(raw)
            answer = _Answer()
            parser = httptools.HttpResponseParser(answer)
            while not answer.done:
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                parser.feed_data(chunk)
            results.latencies.append(time.perf_counter() - began)
            results.statuses[parser.get_status_code()] += 1
    finally:
        writer.close()


async def all_at_once(url: str, requests_by_buyer: list[list[bytes]]) -> Results:
    """Each buyer (one connection) sends its requests one after the other as fast as the
    answers come (a closed loop: the most the service can do), every buyer starting at the
    same moment once all are connected."""
    return await _run(url, requests_by_buyer, None)


async def at_rate(url: str, requests_by_buyer: list[list[bytes]], per_second: float) -> Results:
    """The same buyers, but their requests arrive at `per_second` in all, spread evenly over
    the buyers (an open loop: the latency a buyer sees at that rate of arrivals)."""
    buyers = len(requests_by_buyer)
    each = per_second / buyers
    schedules = [
        [(offset / per_second) + index / each for index in range(len(requests))]
        for offset, requests in enumerate(requests_by_buyer)
    ]
    return await _run(url, requests_by_buyer, schedules)


async def _run(
    url: str, requests_by_buyer: list[list[bytes]], schedules: list[list[float]] | None
) -> Results:
    """Connects every buyer first, then starts them all at the same moment."""
    parts = urlsplit(url)
    connections = await asyncio.gather(
        *(asyncio.open_connection(parts.hostname, parts.port) for _ in requests_by_buyer)
    )
    results = Results()
    began = time.perf_counter()
    await asyncio.gather(
        *(
            _buyer(connection, requests, results, began, schedules and schedules[index])
            for index, (connection, requests) in enumerate(
                zip(connections, requests_by_buyer, strict=True)
            )
        )
    )
    results.seconds = time.perf_counter() - began
    return results
