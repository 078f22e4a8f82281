"""The mixed load of the speed issue (`make benchmark`; excluded from `make test`).

The real processes of the test slot (`Platform`), seeded through the public API as
`make loadtest` does, then Locust headless with the `mixed` profile: 50 users, of their
actions 70% `get_active_promocodes`, 20% quotes (`apply_promocode`), 10% a use then its
cancel, all on one code, for 30 s; once without think time (the throughput), once at the
target's rate (the latency at that load). Prints req/s in all and each endpoint's
p50/p95/p99 and failures next to the issue's targets; asserts only that no request failed
(a failure is an answer other than the one the contract promises). Locust runs on the same
machine as the platform, so the figures are a floor for what the platform can do.
"""

import subprocess
import sys

import pytest

from loadtest import gate
from loadtest.profiles import MIXED
from loadtest.slo import EndpointStats
from tests.support.platform import Platform

pytestmark = pytest.mark.benchmark

USERS = MIXED.users  # 50
SECONDS = MIXED.run_time  # 30
TARGET_RPS = 500
TARGET_P95_MS = 50
OPERATOR_EMAIL = "bench-operator@example.com"
OPERATOR_PASSWORD = "bench-operator-pass-1"


@pytest.fixture(scope="module")
def platform():
    running = Platform().start()
    yield running
    running.stop()


def create_operator(platform: Platform) -> None:
    """The seed signs in as an operator to create the tariff and the code; `make run` has its
    demo operator, the test slot gets one the same way (auth's CLI)."""
    login = ["--email", OPERATOR_EMAIL, "--password", OPERATOR_PASSWORD]
    subprocess.run(
        [sys.executable, "-m", "auth", "create-user", *login, "--role", "operator"],
        env=platform.env,
        check=True,
        capture_output=True,
    )


def line(stats: EndpointStats) -> str:
    met = "met" if stats.p95_ms <= TARGET_P95_MS else "missed"
    return (
        f"[benchmark]   {stats.label}: {stats.rps:.0f} req/s, p50 {stats.p50_ms:.0f} ms, "
        f"p95 {stats.p95_ms:.0f} ms, p99 {stats.p99_ms:.0f} ms, {stats.failures} failures "
        f"of {stats.requests} (target p95 <= {TARGET_P95_MS} ms: {met})"
    )


def mixed_load(platform: Platform, out_dir, rate: int | None) -> gate.Outcome:
    """The gate's run of the mixed profile: without think time, or at `rate` tasks a second
    in all (Locust's constant_throughput per user)."""
    pace = [] if rate is None else ["--rate", str(rate)]
    args = gate.parse_args(
        [
            "--profile",
            MIXED.name,
            "--users",
            str(USERS),
            "--run-time",
            str(SECONDS),
            *pace,
            "--auth-url",
            platform.urls["auth"],
            "--command-url",
            platform.urls["command_api"],
            "--query-url",
            platform.urls["query_api"],
            "--operator-email",
            OPERATOR_EMAIL,
            "--operator-password",
            OPERATOR_PASSWORD,
            "--out-dir",
            str(out_dir),
        ]
    )
    outcome = gate.execute(args)  # prints the table, the SLO verdict and where the files are
    assert outcome.code in (0, 1), f"the run did not happen; Locust's output: {out_dir}"
    assert outcome.total is not None
    return outcome


def report_mixed(outcome: gate.Outcome, how: str) -> None:
    total = outcome.total
    met = "met" if total.rps >= TARGET_RPS else "missed"
    print(
        f"\n[benchmark] mixed load, {USERS} Locust users {how}, {SECONDS} s, one code (70% "
        f"list, 20% quote, 10% use then cancel): {total.rps:.0f} req/s in all (target >= "
        f"{TARGET_RPS}: {met}), p50 {total.p50_ms:.0f} ms, p95 {total.p95_ms:.0f} ms, p99 "
        f"{total.p99_ms:.0f} ms, {total.failures} failures of {total.requests}"
    )
    for stats in sorted(outcome.endpoints, key=lambda s: s.label):
        print(line(stats))
    assert total.requests > 0
    assert total.failures == 0, "requests failed: see the failures above"


def test_mixed_load_50_users_on_one_code(platform, tmp_path):
    """Two runs: the most the platform answers (no think time: every user sends its next
    request as soon as the last is answered, so each waits behind the other 49, and by
    Little's law the latency is 50 / throughput), then the latency at the target's rate
    (the same 50 users, `TARGET_RPS` tasks a second in all, about 10% more requests)."""
    create_operator(platform)
    report_mixed(mixed_load(platform, tmp_path / "closed", None), "without think time")
    paced = mixed_load(platform, tmp_path / "paced", TARGET_RPS)
    report_mixed(paced, f"at {TARGET_RPS} tasks/s in all")
