"""`python -m loadtest` (`make loadtest`): seed, run Locust headless for a bounded time
against a RUNNING stack, print the table, exit 1 when an SLO is missed.

Exit codes: 0 every SLO met; 1 an SLO missed; 2 the run could not happen (stack down, seed
refused).
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from loadtest.seed import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD, SeedError, seed
from loadtest.slo import Slo, judge, read_locust_failures, read_locust_stats, render_table
from loadtest.targets import ENV_SEED_FILE, Targets

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
ROOT = LOCUSTFILE.parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    target = parser.add_argument_group("targets (default: the ports of `make run`)")
    target.add_argument("--auth-url", default=Targets.auth)
    target.add_argument("--command-url", default=Targets.command)
    target.add_argument("--query-url", default=Targets.query)
    target.add_argument("--gateway", help="one URL for everything, e.g. http://127.0.0.1:8000")
    load = parser.add_argument_group("load")
    load.add_argument("--users", type=int, default=50, help="concurrent Locust users")
    load.add_argument("--spawn-rate", type=float, default=10, help="users started per second")
    load.add_argument("--run-time", type=int, default=60, help="seconds of load")
    load.add_argument("--operator-email", default=DEMO_OPERATOR_EMAIL)
    load.add_argument("--operator-password", default=DEMO_OPERATOR_PASSWORD)
    load.add_argument("--csv-dir", type=Path, help="where Locust writes its CSV (default: temp)")
    slo = parser.add_argument_group("SLO")
    slo.add_argument("--p95-ms", type=float, default=Slo.p95_ms)
    slo.add_argument("--p99-ms", type=float, default=Slo.p99_ms)
    slo.add_argument("--max-error-rate", type=float, default=Slo.max_error_rate)
    return parser.parse_args(argv)


def targets_of(args: argparse.Namespace) -> Targets:
    if args.gateway:
        return Targets.gateway(args.gateway)
    return Targets(args.auth_url, args.command_url, args.query_url)


def unhealthy(targets: Targets) -> list[str]:
    problems = []
    for base in sorted({targets.auth, targets.command, targets.query}):
        try:
            response = httpx.get(f"{base}/health", timeout=5)
        except httpx.HTTPError as exc:
            problems.append(f"{base}: {exc!r}")
            continue
        if response.status_code != 200:
            problems.append(f"{base}: /health answered {response.status_code} {response.text}")
    return problems


def run_locust(args: argparse.Namespace, targets: Targets, seed_file: Path, csv_dir: Path) -> int:
    prefix = csv_dir / "locust"
    command = [
        sys.executable,
        "-m",
        "locust",
        "--locustfile",
        str(LOCUSTFILE),
        "--headless",
        "--only-summary",
        "--host",
        targets.auth,
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{args.run_time}s",
        "--stop-timeout",
        "10",
        "--csv",
        str(prefix),
        "--loglevel",
        os.environ.get("LOCUST_LOGLEVEL", "WARNING"),
    ]
    env = {**os.environ, **targets.as_env(), ENV_SEED_FILE: str(seed_file)}
    print(
        f"[loadtest] {args.users} users for {args.run_time} s against "
        f"{targets.auth} {targets.command} {targets.query}",
        flush=True,
    )
    with (csv_dir / "locust.out").open("wb") as output:
        finished = subprocess.run(
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    return finished.returncode


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = targets_of(args)
    slo = Slo(args.p95_ms, args.p99_ms, args.max_error_rate)
    problems = unhealthy(targets)
    if problems:
        print(
            "[loadtest] the stack is not running (start it with `make run`):", *problems, sep="\n  "
        )
        return 2
    csv_dir = args.csv_dir or Path(tempfile.mkdtemp(prefix="loadtest-"))
    csv_dir.mkdir(parents=True, exist_ok=True)
    try:
        data = seed(targets, args.users, args.operator_email, args.operator_password)
    except (SeedError, httpx.HTTPError) as exc:
        print(f"[loadtest] seeding failed: {exc}")
        return 2
    seed_file = csv_dir / "seed.json"
    data.save(seed_file)

    run_locust(args, targets, seed_file, csv_dir)
    stats_csv = csv_dir / "locust_stats.csv"
    if not stats_csv.exists():
        print(f"[loadtest] Locust wrote no statistics; see {csv_dir / 'locust.out'}")
        return 2
    endpoints, total = read_locust_stats(stats_csv)
    verdict = judge(endpoints, total, slo)

    print()
    print(render_table(endpoints, total, slo))
    failures = read_locust_failures(csv_dir / "locust_failures.csv")
    if failures:
        print("\nmost frequent failures:")
        for endpoint, error, occurrences in failures[:10]:
            print(f"  {occurrences:>6}  {endpoint}: {error[:160]}")
    print(
        f"\nSLO: p95 < {slo.p95_ms:.0f} ms, p99 <= {slo.p99_ms:.0f} ms, "
        f"errors <= {slo.max_error_rate:.1%} per endpoint and overall; CSV in {csv_dir}"
    )
    if verdict.passed:
        print("[loadtest] PASS")
        return 0
    print("[loadtest] FAIL", *verdict.violations, sep="\n  ")
    return 1
