"""`get_active_promocodes` next to the minimal JWT + Redis endpoint of `minimal_app`, under
the same `wrk` load in the same run (`make benchmark`): the ratio is the figure, as absolute
numbers move with whatever else this machine is doing."""

import re
import shutil
import statistics
import subprocess

import httpx
import pytest

from core.config import get_settings
from core.redis import make_redis
from scripts.processes import http_command
from tests.benchmarks.minimal_app import KEY
from tests.support.factories import bearer, create_loyalty_user, create_promocode
from tests.support.platform import Platform
from tests.support.polling import eventually, eventually_sync

pytestmark = pytest.mark.benchmark

CONNECTIONS, SECONDS, ROUNDS = 50, 5, 3
MINIMAL_APP, MINIMAL_PORT = "tests.benchmarks.minimal_app:app", 18099


def wrk(url: str, token_header: dict[str, str]) -> dict[str, float]:
    """Requests per second and latency percentiles of `wrk` against one URL."""
    [(name, value)] = token_header.items()
    argv = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    out = subprocess.run(
        [*argv, "-H", f"{name}: {value}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
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
        f"p99 {baseline['p99']:.1f} ms; ratio {ratio:.2f} (target: >= 0.60, p99 <= 50 ms)"
    )
