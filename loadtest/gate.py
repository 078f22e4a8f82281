"""`python -m loadtest` (`make loadtest`): seed, run one load profile with Locust headless
for a bounded time against a RUNNING stack, print the table, write the CSV, the HTML report
and the latency plot (PNG), exit 1 when an SLO is missed.

Profiles: day (the default), promotion, mixed; see loadtest/profiles.py.
Exit codes: 0 every SLO met; 1 an SLO missed; 2 the run could not happen (stack down, seed
refused, Locust wrote nothing).
"""

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from loadtest.plot import plot_history
from loadtest.profiles import PROFILES, Profile
from loadtest.seed import (
    DEMO_OPERATOR_EMAIL,
    DEMO_OPERATOR_PASSWORD,
    HOT_CODE_USES,
    SeedError,
    seed,
)
from loadtest.slo import (
    EndpointStats,
    Slo,
    judge,
    read_locust_failures,
    read_locust_stats,
    render_table,
)
from loadtest.targets import ENV_SEED_FILE, ENV_TASK_RATE, Targets

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
ROOT = LOCUSTFILE.parent.parent
CSV_PREFIX = "locust"  # Locust's files: locust_stats.csv, locust_stats_history.csv, ...
HTML_REPORT = "report.html"
PLOT = "latency.png"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__)
    target = parser.add_argument_group("targets (default: the ports of `make run`)")
    target.add_argument("--auth-url", default=Targets.auth)
    target.add_argument("--command-url", default=Targets.command)
    target.add_argument("--query-url", default=Targets.query)
    target.add_argument("--gateway", help="one URL for everything, e.g. http://127.0.0.1:8000")
    load = parser.add_argument_group("load (unset: the profile's own)")
    load.add_argument(
        "--profile",
        choices=PROFILES,
        default="day",
        # argparse %-formats help: the summaries' "70%" must be written "70%%"
        help="; ".join(f"{p.name}: {p.summary}" for p in PROFILES.values()).replace("%", "%%"),
    )
    load.add_argument("--users", type=int, help="concurrent Locust users")
    load.add_argument("--spawn-rate", type=float, help="users started per second")
    load.add_argument("--run-time", type=int, help="seconds of load")
    load.add_argument(
        "--rate",
        type=float,
        help="tasks per second in all, split evenly over the users (replaces think time; "
        "a task is one user action, e.g. a use then its confirm); an upper bound",
    )
    load.add_argument(
        "--hot-code-uses",
        type=int,
        default=HOT_CODE_USES,
        help="max_uses of the hot code (0: unlimited)",
    )
    load.add_argument("--operator-email", default=DEMO_OPERATOR_EMAIL)
    load.add_argument("--operator-password", default=DEMO_OPERATOR_PASSWORD)
    load.add_argument(
        "--out-dir",
        "--csv-dir",
        dest="out_dir",
        type=Path,
        help="where the CSV, the HTML report and the plot go (default: a new temp directory)",
    )
    slo = parser.add_argument_group("SLO")
    slo.add_argument("--p95-ms", type=float, default=Slo.p95_ms)
    slo.add_argument("--p99-ms", type=float, default=Slo.p99_ms)
    slo.add_argument("--max-error-rate", type=float, default=Slo.max_error_rate)
    args = parser.parse_args(argv)
    profile: Profile = PROFILES[args.profile]
    args.users = args.users or profile.users
    args.run_time = args.run_time or profile.run_time
    args.spawn_rate = args.spawn_rate or profile.spawn_rate_for(args.users)
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")
    return args


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


def locust_command(args: argparse.Namespace, targets: Targets, out_dir: Path) -> list[str]:
    return [
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
        str(out_dir / CSV_PREFIX),
        "--csv-full-history",
        "--html",
        str(out_dir / HTML_REPORT),
        "--loglevel",
        os.environ.get("LOCUST_LOGLEVEL", "WARNING"),
        *PROFILES[args.profile].user_classes,
    ]


def run_locust(args: argparse.Namespace, targets: Targets, seed_file: Path, out_dir: Path) -> int:
    command = locust_command(args, targets, out_dir)
    env = {**os.environ, **targets.as_env(), ENV_SEED_FILE: str(seed_file)}
    env.pop(ENV_TASK_RATE, None)
    if args.rate:
        env[ENV_TASK_RATE] = str(args.rate / args.users)
    pace = f", at most {args.rate:g} tasks/s" if args.rate else ""
    print(
        f"[loadtest] profile {args.profile}: {args.users} users (spawn rate {args.spawn_rate:g}/s)"
        f" for {args.run_time} s{pace} against {targets.auth} {targets.command} {targets.query}",
        flush=True,
    )
    with (out_dir / "locust.out").open("wb") as output:
        finished = subprocess.run(
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    return finished.returncode


@dataclass
class Outcome:
    """What a run ended with: the exit code, where its files are, Locust's statistics."""

    code: int
    out_dir: Path | None = None
    endpoints: list[EndpointStats] = field(default_factory=list)
    total: EndpointStats | None = None


def plot(args: argparse.Namespace, out_dir: Path, slo: Slo) -> Path | None:
    history = out_dir / f"{CSV_PREFIX}_stats_history.csv"
    if not history.exists():
        return None
    title = (
        f"{args.profile}: {args.users} users, {args.run_time} s - p50/p95/p99 per endpoint "
        f"(Locust's sliding ~10 s window)"
    )
    return plot_history(history, out_dir / PLOT, title, slo.p95_ms)


def execute(args: argparse.Namespace) -> Outcome:
    targets = targets_of(args)
    slo = Slo(args.p95_ms, args.p99_ms, args.max_error_rate)
    problems = unhealthy(targets)
    if problems:
        print(
            "[loadtest] the stack is not running (start it with `make run`):", *problems, sep="\n  "
        )
        return Outcome(2)
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix=f"loadtest-{args.profile}-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        data = seed(
            targets,
            args.users,
            args.operator_email,
            args.operator_password,
            hot_code_uses=args.hot_code_uses or None,
        )
    except (SeedError, httpx.HTTPError) as exc:
        print(f"[loadtest] seeding failed: {exc}")
        return Outcome(2, out_dir)
    seed_file = out_dir / "seed.json"
    data.save(seed_file)

    run_locust(args, targets, seed_file, out_dir)
    stats_csv = out_dir / f"{CSV_PREFIX}_stats.csv"
    if not stats_csv.exists():
        print(f"[loadtest] Locust wrote no statistics; see {out_dir / 'locust.out'}")
        return Outcome(2, out_dir)
    endpoints, total = read_locust_stats(stats_csv)
    verdict = judge(endpoints, total, slo)

    print()
    print(render_table(endpoints, total, slo))
    failures = read_locust_failures(out_dir / f"{CSV_PREFIX}_failures.csv")
    if failures:
        print("\nmost frequent failures:")
        for endpoint, error, occurrences in failures[:10]:
            print(f"  {occurrences:>6}  {endpoint}: {error[:160]}")
    png = plot(args, out_dir, slo)
    print(
        f"\nSLO: p95 < {slo.p95_ms:.0f} ms, p99 <= {slo.p99_ms:.0f} ms, "
        f"errors <= {slo.max_error_rate:.1%} per endpoint and overall"
    )
    print(f"[loadtest] results in {out_dir}:")
    print(f"  CSV          {stats_csv.name}, {CSV_PREFIX}_stats_history.csv (every second), ")
    print(f"               {CSV_PREFIX}_failures.csv, Locust's output in locust.out")
    print(f"  HTML report  {out_dir / HTML_REPORT}")
    print(f"  plot (PNG)   {png or 'not drawn: Locust wrote no history'}")
    code = 0 if verdict.passed else 1
    if verdict.passed:
        print("[loadtest] PASS")
    else:
        print("[loadtest] FAIL", *verdict.violations, sep="\n  ")
    return Outcome(code, out_dir, endpoints, total)


def main(argv: list[str] | None = None) -> int:
    return execute(parse_args(argv)).code
