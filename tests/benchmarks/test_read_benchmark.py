"""`get_active_promocodes` next to the minimal JWT + Redis endpoint of `minimal_app`, under
the same `wrk` load in the same run (`make benchmark`): the ratio is the figure, as absolute
numbers move with whatever else this machine is doing. Then the same listing with 10,000
more codes open to everyone: its cost must not follow the number of codes."""

import os
import re
import shutil
import statistics
import subprocess
import uuid

import httpx
import pytest

from core.config import get_settings
from core.redis import make_redis
from loyalty.read import keys
from loyalty.read.postgres import read_only_engine
from loyalty.read.rebuild import ensure_built
from scripts.environments import TEST_PORT_OFFSET
from scripts.processes import http_command
from tests.benchmarks.minimal_app import KEY
from tests.support.db import sql
from tests.support.factories import bearer, create_loyalty_user, create_promocode
from tests.support.platform import Platform
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
    [(name, value)] = token_header.items()
    argv = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{SECONDS}s", "--latency"]
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
        f"p99 {baseline['p99']:.1f} ms; ratio {ratio:.2f} (target: >= 0.60, p99 <= 50 ms); "
        f"load average {load()}"
    )


async def test_the_listing_costs_the_same_with_10000_more_codes_open_to_everyone(servers):
    """The same buyer's listing with the public codes the slot holds, and with `MORE_CODES`
    more (ending before, among and after them): the codes are loaded once, then put in and
    taken out of `rm:public` round after round (what the machine's drift does weighs on both
    alike). Each state: `wrk` with one connection (each request's own latency) on a page of
    10 and of 50, and with 50 connections on a page of 50 (req/s)."""
    query, _ = servers
    settings = get_settings()
    redis = make_redis(settings.redis_url)
    engine = read_only_engine(settings.loyalty_database_url)
    user = await create_loyalty_user()
    headers = bearer(user)
    url = f"{query}/api/v1/loyalty/get_active_promocodes"
    tag = uuid.uuid4().hex[:8].upper()

    async def listed() -> int:
        # Patient: right after a rebuild the requests wrk left in flight may still be answered
        # from Postgres (every candidate read), ahead of this one.
        async with httpx.AsyncClient(timeout=120) as client:
            response = await eventually(
                lambda: client.get(f"{url}?limit=200", headers=headers),
                until=lambda r: r.status_code == 200,
                message="the listing answering",
            )
        return len(response.json())

    figures: dict[str, list[dict[str, float]]] = {}
    lines = []
    try:
        await ensure_built(redis, engine)
        await sql(
            "INSERT INTO promocodes (code, discount_type, value, valid_from, valid_until, "
            "max_uses, per_user_limit, audience, is_active, description, created_at, "
            "updated_at) SELECT 'LB' || :t || '-' || i, 'percent', 5, now() - interval '1 day', "
            "now() + ((i % 60) + 1) * interval '1 day' + i * interval '1 second', NULL, NULL, "
            "'everyone', true, '', now(), now() FROM generate_series(1, :n) AS i",
            t=tag,
            n=MORE_CODES,
        )
        await ensure_built(redis, engine, force=True)  # the new codes into the read model
        ours = {
            member: score
            for member, score in await redis.zrange(keys.PUBLIC_CODES, 0, -1, withscores=True)
            if member.startswith(f"LB{tag}-")
        }
        assert len(ours) == MORE_CODES
        for round_ in range(ROUNDS):
            for state in ("without", "with"):
                if state == "with":
                    await redis.zadd(keys.PUBLIC_CODES, ours)
                else:
                    await redis.zrem(keys.PUBLIC_CODES, *ours)
                codes, shown = await redis.zcard(keys.PUBLIC_CODES), await listed()
                run = {
                    "p50_10": (small := wrk(f"{url}?limit=10", headers, connections=1))["p50"],
                    "p99_10": small["p99"],
                    "p50_50": (page := wrk(f"{url}?limit=50", headers, connections=1))["p50"],
                    "p99_50": page["p99"],
                    "rps_50": wrk(f"{url}?limit=50", headers)["rps"],
                }
                figures.setdefault(state, []).append(run)
                lines.append(
                    f"  round {round_ + 1}, {codes:,} public codes ({shown} listed to the buyer):"
                    f" one connection, page of 10 p50 {run['p50_10']:.2f} ms p99 "
                    f"{run['p99_10']:.2f} ms, page of 50 p50 {run['p50_50']:.2f} ms p99 "
                    f"{run['p99_50']:.2f} ms; {CONNECTIONS} connections, page of 50 "
                    f"{run['rps_50']:.0f} req/s"
                )
    finally:
        await sql("DELETE FROM promocodes WHERE code LIKE :p", p=f"LB{tag}-%")
        await ensure_built(redis, engine, force=True)
        await redis.aclose()
        await engine.dispose()

    def median(state: str, figure: str) -> float:
        return statistics.median(run[figure] for run in figures[state])

    summary = ", ".join(
        f"{figure} {median('without', figure):.2f} -> {median('with', figure):.2f} "
        f"({median('with', figure) / median('without', figure):.2f}x)"
        for figure in ("p50_10", "p99_10", "p50_50", "p99_50", "rps_50")
    )
    print(
        f"\n[benchmark] get_active_promocodes without and with {MORE_CODES:,} more public codes "
        f"(target: p99 within 20% of itself), load average {load()}:\n"
        + "\n".join(lines)
        + f"\n  medians of {ROUNDS} rounds, without -> with: {summary}"
    )
