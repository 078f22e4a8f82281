"""`get_active_promocodes` next to the minimal JWT + Redis endpoint of `minimal_app`, under
the same `wrk` load in the same run (`make benchmark`): the ratio is the figure, as absolute
numbers move with whatever else this machine is doing. Then the same listing with 10,000
more codes open to everyone, from a second process next to the first: its cost must not
follow the number of codes."""

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
from collections import Counter
from urllib.parse import urlsplit

import httptools
import httpx
import pytest

from core.config import get_settings
from core.redis import make_redis
from scripts.environments import TEST_PORT_OFFSET
from scripts.processes import http_command
from tests.benchmarks.minimal_app import KEY
from tests.benchmarks.test_read_side_scale import (
    LIMITS,
    SEGMENTS,
    SIDES,
    Watched,
    compare,
    sample_pairs,
    two_read_models,
)
from tests.support.factories import bearer, create_loyalty_user, create_promocode
from tests.support.platform import Platform, wait_healthy
from tests.support.polling import eventually, eventually_sync

pytestmark = pytest.mark.benchmark

CONNECTIONS, SECONDS, ROUNDS = 50, 5, 3
# In the test slot's own port range, next to its services (8001-8004 + the offset).
MINIMAL_APP, MINIMAL_PORT = "tests.benchmarks.minimal_app:app", 8099 + TEST_PORT_OFFSET
MORE_CODES = int(os.environ.get("READ_BENCH_MORE_CODES", "10000"))


def load() -> str:
    """The machine's load average (1, 5, 15 min): the figures are read next to it."""
    return " ".join(f"{figure:.2f}" for figure in os.getloadavg())


def wrk(url: str, token_header: dict[str, str], connections: int = CONNECTIONS) -> dict[str, float]:
    """Requests per second and latency percentiles of `wrk` against one URL."""
    argv = wrk_argv(url, token_header, connections, threads=min(2, connections))
    return wrk_figures(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def wrk_argv(url: str, token_header: dict[str, str], connections: int, threads: int) -> list[str]:
    [(name, value)] = token_header.items()
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{SECONDS}s", "--latency"]
    return [*argv, "-H", f"{name}: {value}", url]


def wrk_figures(out: str) -> dict[str, float]:
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert non_2xx is None, out

    def ms(label: str) -> float:
        number, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50%"),
        "p99": ms("99%"),
    }


@pytest.fixture(scope="module")
def servers():
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (make benchmark installs it)")
    platform = Platform()
    query = platform.start_http("query_api")
    platform.start_workers()  # the projector brings the seeded codes to the read model
    # The benchmark's own app, started like the platform's apps.
    platform.start_process("minimal", http_command(MINIMAL_APP, MINIMAL_PORT))
    minimal = f"http://127.0.0.1:{MINIMAL_PORT}"
    eventually_sync(
        lambda: httpx.get(f"{minimal}/minimal", timeout=2),
        retry_on=(httpx.HTTPError,),
        message="the minimal app starting",
    )
    yield query, minimal
    platform.stop()


async def test_get_active_promocodes_next_to_the_minimal_endpoint(servers):
    query, minimal = servers
    user = await create_loyalty_user()
    for _ in range(10):
        await create_promocode()
    headers = bearer(user)
    active = f"{query}/api/v1/loyalty/get_active_promocodes"
    async with httpx.AsyncClient() as client:
        listed = await eventually(
            lambda: client.get(active, headers=headers),
            until=lambda r: r.status_code == 200 and len(r.json()) >= 10,
            message="the codes reaching the read model",
        )
    # The minimal endpoint answers the very same bytes.
    redis = make_redis(get_settings().redis_url)
    await redis.set(KEY, listed.content)
    await redis.aclose()
    # The two in turn, round after round: whatever else the machine does weighs on both
    # alike, and the ratio is the median of the rounds'.
    rounds = [(wrk(f"{minimal}/minimal", headers), wrk(active, headers)) for _ in range(ROUNDS)]
    baseline, measured = rounds[len(rounds) // 2]
    ratio = statistics.median(ours["rps"] / theirs["rps"] for theirs, ours in rounds)
    print(
        f"\n[benchmark] get_active_promocodes ({len(listed.json())} codes listed), {CONNECTIONS} "
        f"connections, {ROUNDS} rounds of {SECONDS} s each in turn (wrk): "
        f"{measured['rps']:.0f} req/s, p50 {measured['p50']:.1f} ms, p99 {measured['p99']:.1f} ms; "
        f"minimal JWT + Redis endpoint: {baseline['rps']:.0f} req/s, p50 {baseline['p50']:.1f} ms, "
        f"p99 {baseline['p99']:.1f} ms; ratio {ratio:.2f} (target: >= 0.60, p99 <= 50 ms); "
        f"load average {load()}"
    )


# -- the same listing with 10,000 more codes, from two processes side by side ------------

# Two more query_api processes in the slot's port range, one per throwaway Redis.
PAIR_PORTS = (8097 + TEST_PORT_OFFSET, 8098 + TEST_PORT_OFFSET)
HTTP_PAIRS = int(os.environ.get("READ_BENCH_HTTP_PAIRS", "10000"))
HTTP_WARM_UP = 300
LISTING = "/api/v1/loyalty/get_active_promocodes"


class _Answer:
    """httptools callbacks: the body and whether the whole message has arrived."""

    def __init__(self) -> None:
        self.body = bytearray()
        self.done = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


class KeepAlive:
    """One keep-alive HTTP/1.1 connection, blocking: a GET written from bytes built once, its
    answer parsed with httptools (uvicorn's C parser), a few microseconds of CPU here."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.headers = parts.netloc, headers
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, path: str) -> bytes:
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        return "\r\n".join(lines).encode() + b"\r\n\r\n"

    def get(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        answer = _Answer()
        parser = httptools.HttpResponseParser(answer)
        while not answer.done:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            parser.feed_data(chunk)
        return parser.get_status_code(), bytes(answer.body)

    def close(self) -> None:
        self.sock.close()


def wrk_both(urls: dict[str, str], headers: dict[str, str]) -> dict[str, dict[str, float]]:
    """`wrk` on each URL at the same time, one thread and half the connections each."""
    running = {
        side: subprocess.Popen(
            wrk_argv(url, headers, CONNECTIONS // 2, threads=1), stdout=subprocess.PIPE, text=True
        )
        for side, url in urls.items()
    }
    figures = {}
    for side, proc in running.items():
        out, _ = proc.communicate()
        assert proc.returncode == 0, out
        figures[side] = wrk_figures(out)
    return figures


async def test_the_listing_costs_the_same_with_10000_more_codes_open_to_everyone():
    """One buyer's listing from two query_api processes, each on its own throwaway Redis
    (`two_read_models`: 100 public codes, and `MORE_CODES` more; each side from each process
    in turn). One client reads them in pairs (`sample_pairs`), one keep-alive connection
    each, on a page of 10 and of 50 (full at either size). Then both under load at once:
    `wrk` on each, page of 50, half the connections each, `ROUNDS` times, the sides changing
    processes between rounds."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (make benchmark installs it)")
    headers = bearer(await create_loyalty_user())
    async with two_read_models(MORE_CODES) as models:
        labels = await models.sizes()
        platforms = [Platform(extra_env={"REDIS_URL": s.url}) for s in models.servers]
        watched: list[Watched] = []
        try:
            urls = [
                platform.start_http("query_api", port, wait=False)
                for platform, port in zip(platforms, PAIR_PORTS, strict=True)
            ]
            for url in urls:
                wait_healthy(url)
            watched = [
                Watched({"query_api": platform.procs[f"query_api-{port}"].pid, "Redis": s.proc.pid})
                for platform, port, s in zip(platforms, PAIR_PORTS, models.servers, strict=True)
            ]
            clients = [KeepAlive(url, headers) for url in urls]
            requests = {
                (server, limit): clients[server].request(f"{LISTING}?limit={limit}")
                for server in range(len(clients))
                for limit in LIMITS
            }

            async def read(server: int, limit: int) -> int:
                return clients[server].get(requests[server, limit])[0]

            for _ in range(HTTP_WARM_UP):
                for server, limit in requests:
                    assert await read(server, limit) == 200
            entries = {
                (side, limit): len(json.loads(clients[server].get(request)[1]))
                for (server, limit), request in requests.items()
                for side in SIDES
                if models.serving(side) == server
            }
            sampled = await sample_pairs(models, read, watched, HTTP_PAIRS)
            for client in clients:
                client.close()
            under_load = []
            for _ in range(ROUNDS):
                await models.swap()
                pages = {side: f"{urls[models.serving(side)]}{LISTING}?limit=50" for side in SIDES}
                under_load.append(wrk_both(pages, headers))
        finally:
            for each in watched:
                each.close()
            for platform in platforms:
                platform.stop()
    compare(
        f"[benchmark] get_active_promocodes over HTTP, two query_api processes, "
        f"{HTTP_PAIRS:,} pairs per page size, in random order within each pair, the sides "
        f"changing processes {SEGMENTS - 1} times",
        sampled,
        labels,
    )
    for round_, figures in enumerate(under_load, 1):
        print(
            f"  both under wrk at once, {CONNECTIONS // 2} connections each, page of 50, round "
            f"{round_}: "
            + "; ".join(
                f"{side} {f['rps']:.0f} req/s p50 {f['p50']:.2f} ms p99 {f['p99']:.2f} ms"
                for side, f in figures.items()
            )
        )

    def median_ratio(figure: str) -> float:
        return statistics.median(f["more"][figure] / f["fewer"][figure] for f in under_load)

    print(
        f"  under wrk, medians of the rounds' ratios more / fewer: req/s "
        f"{median_ratio('rps'):.2f}, p50 {median_ratio('p50'):.2f}, p99 {median_ratio('p99'):.2f}"
        f"; load average {load()}"
    )
    assert entries == {(side, limit): limit for side in SIDES for limit in LIMITS}, entries
    for key, s in sampled.series.items():
        assert s.answers == Counter({200: HTTP_PAIRS // SEGMENTS * SEGMENTS}), (key, s.answers)
