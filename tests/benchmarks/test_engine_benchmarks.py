"""Numbers for the promo-code engine (`make benchmark`; excluded from `make test`).

- the generator: 100,000 codes generated and stored (one transaction, one batch event);
- `use_promocode` latency over HTTP against a real command_api process with 200 buyers
  firing at once on the same hot codes.
"""

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from loyalty import handlers
from loyalty.catalog import generator
from loyalty.schemas import GenerateRequest
from scripts.processes import workers_of
from tests.benchmarks import buyers
from tests.support.db import sql
from tests.support.factories import (
    OPERATOR_ID,
    bearer,
    create_loyalty_users,
    create_promocode,
    create_tariff,
)
from tests.support.platform import Platform

pytestmark = pytest.mark.benchmark

API = "/api/v1/loyalty"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def test_generator_100k_codes():
    started = time.perf_counter()
    codes = generator.generate_codes(generator.make_shape(), 100_000)
    generated = time.perf_counter() - started
    assert len(set(codes)) == 100_000

    started = time.perf_counter()
    batch = await handlers.generate_promocodes(
        GenerateRequest(count=100_000, discount_type="percent", value=20, length=10),
        actor_id=OPERATOR_ID,
    )
    stored = time.perf_counter() - started
    [row] = await sql("SELECT count(*) AS n FROM promocodes WHERE batch_id = :b", b=batch.batch_id)
    assert row["n"] == 100_000
    # Benchmark data only: 100,000 codes would slow every read-model rebuild in this slot.
    await sql("DELETE FROM promocodes WHERE batch_id = :b", b=batch.batch_id)
    await sql("DELETE FROM promocode_batches WHERE id = :b", b=batch.batch_id)
    print(
        f"\n[benchmark] generator: 100,000 codes generated in {generated:.2f} s; "
        f"generated + stored in Postgres (one transaction) in {stored:.2f} s"
    )


@dataclass(frozen=True)
class Service:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """The CPU time its processes (uvicorn and its workers) have used so far: what a use
        costs the service moves far less with the machine's other load than a throughput."""
        return sum(_cpu_seconds(pid) for pid in _process_tree(self.pid))


def _process_tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(p for child in children for p in _process_tree(int(child)))]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


@pytest.fixture(scope="module")
def command_api():
    """command_api with the uvicorn workers `make run` gives it (COMMAND_API_WORKERS)."""
    platform = Platform()
    url = platform.start_http("command_api", workers=workers_of("command_api"))
    [process] = platform.procs.values()
    yield Service(url, process.pid)
    platform.stop()


async def measure(client: httpx.AsyncClient, body: dict, headers: dict, statuses: dict) -> float:
    """One use, on its own; its latency."""
    began = time.perf_counter()
    response = await client.post(f"{API}/use_promocode", json=body, headers=headers)
    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    return time.perf_counter() - began


def use(url: str, body: dict, headers: dict) -> bytes:
    return buyers.request_bytes(url, f"{API}/use_promocode", body, headers)


def summary(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, "
        f"p99 {percentile(ms, 99):.0f} ms, mean {statistics.mean(ms):.0f} ms"
    )


async def test_use_promocode_latency_under_200_concurrent_buyers(command_api):
    buyer_count, codes_each = 200, 10
    tariff = await create_tariff()
    promos = [await create_promocode(max_uses=None, per_user_limit=1) for _ in range(codes_each)]
    users = await create_loyalty_users(buyer_count)
    statuses: dict[int, int] = {}

    async with httpx.AsyncClient(base_url=command_api.url, timeout=60) as client:
        alone = [
            await measure(
                client, {"promocode": promo.code, "tariff_id": tariff.id}, bearer(u), statuses
            )
            for u in await create_loyalty_users(50)
            for promo in promos[:2]
        ]
    print(f"\n[benchmark] use_promocode, one buyer at a time (100 requests): {summary(alone)}")
    assert statuses == {201: len(alone)}

    bodies = [{"promocode": promo.code, "tariff_id": tariff.id} for promo in promos]
    results = await buyers.all_at_once(
        command_api.url,
        [[use(command_api.url, body, bearer(u)) for body in bodies] for u in users],
    )
    print(
        f"[benchmark] use_promocode, {buyer_count} concurrent buyers x {codes_each} hot codes "
        f"({len(results.latencies)} requests, {workers_of('command_api')} uvicorn worker(s)): "
        f"{summary(results.latencies)}, "
        f"throughput {results.per_second:.0f} req/s"
    )
    assert results.statuses == {201: buyer_count * codes_each}


async def test_one_hot_code_200_buyers_10000_uses(command_api):
    """The promotion: 200 buyers at once on one code with 10,000 uses (50 each, no per-user
    limit); every use is counted exactly once, none above the limit. Then a code with 50
    uses among 200 buyers: exactly 50 win."""
    buyer_count, uses_each = 200, 50
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=buyer_count * uses_each, per_user_limit=None)
    users = await create_loyalty_users(buyer_count)
    body = {"promocode": promo.code, "tariff_id": tariff.id}
    url = command_api.url
    cpu_before = command_api.cpu_seconds()
    results = await buyers.all_at_once(
        url, [[use(url, body, bearer(u))] * uses_each for u in users]
    )
    cpu_per_use = (command_api.cpu_seconds() - cpu_before) / len(results.latencies)
    [row] = await sql("SELECT uses FROM promocodes WHERE id = :id", id=promo.id)
    print(
        f"\n[benchmark] one hot code, {buyer_count} concurrent buyers, "
        f"{buyer_count * uses_each} uses: {summary(results.latencies)}, "
        f"{results.per_second:.0f} uses/s (target: >= 300 uses/s, p95 <= 100 ms); "
        f"command_api's CPU {cpu_per_use * 1000:.2f} ms per use "
        f"({workers_of('command_api')} uvicorn worker(s), load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    assert results.statuses == {201: buyer_count * uses_each}
    assert row["uses"] == buyer_count * uses_each

    # The same 200 buyers when their uses arrive at the target's rate: a closed loop of 200
    # buyers cannot show p95 <= 100 ms below 2,000 uses/s (Little's law), so the latency
    # target is read here, at 300 uses/s offered for 10 s.
    rate, seconds = 300, 10
    paced = await create_promocode(max_uses=rate * seconds, per_user_limit=None)
    body = {"promocode": paced.code, "tariff_id": tariff.id}
    each = rate * seconds // buyer_count
    results = await buyers.at_rate(url, [[use(url, body, bearer(u))] * each for u in users], rate)
    print(
        f"[benchmark] one hot code, {buyer_count} buyers, uses arriving at {rate}/s for "
        f"{seconds} s: {summary(results.latencies)}, {results.per_second:.0f} uses/s answered"
    )
    assert results.statuses == {201: rate * seconds}

    scarce = await create_promocode(max_uses=50, per_user_limit=None)
    body = {"promocode": scarce.code, "tariff_id": tariff.id}
    results = await buyers.all_at_once(url, [[use(url, body, bearer(u))] for u in users])
    [row] = await sql("SELECT uses FROM promocodes WHERE id = :id", id=scarce.id)
    print(
        f"[benchmark] a 50-use code, {buyer_count} buyers at once: {dict(results.statuses)} "
        f"({summary(results.latencies)})"
    )
    assert results.statuses == {201: 50, 409: buyer_count - 50} and row["uses"] == 50
