"""The SLO gate's decision: Locust's statistics in, pass or fail with reasons out (no I/O
except reading Locust's CSV files)."""

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class Slo:
    p95_ms: float = 200.0  # an endpoint fails when its p95 is at or above this
    p99_ms: float = 500.0  # ... or its p99 above this
    max_error_rate: float = 0.01  # ... or more than this share of its requests failed


@dataclass(frozen=True)
class EndpointStats:
    method: str
    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    rps: float = 0.0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}".strip()


@dataclass(frozen=True)
class Verdict:
    passed: bool
    violations: list[str] = field(default_factory=list)


def violations_of(stats: EndpointStats, slo: Slo) -> list[str]:
    if stats.requests == 0:
        return []
    found = []
    if stats.p95_ms >= slo.p95_ms:
        found.append(f"{stats.label}: p95 {stats.p95_ms:.0f} ms >= {slo.p95_ms:.0f} ms")
    if stats.p99_ms > slo.p99_ms:
        found.append(f"{stats.label}: p99 {stats.p99_ms:.0f} ms > {slo.p99_ms:.0f} ms")
    if stats.error_rate > slo.max_error_rate:
        found.append(f"{stats.label}: errors {stats.error_rate:.2%} > {slo.max_error_rate:.2%}")
    return found


def judge(endpoints: list[EndpointStats], total: EndpointStats, slo: Slo) -> Verdict:
    """Fails when any endpoint, or the run as a whole, is over a latency bound or the error
    bound, and when the run made no request at all."""
    if total.requests == 0:
        return Verdict(False, ["no request was made"])
    violations = [found for stats in [*endpoints, total] for found in violations_of(stats, slo)]
    return Verdict(not violations, violations)


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:  # "N/A" for an endpoint without requests
        return math.nan


def read_locust_stats(stats_csv: Path) -> tuple[list[EndpointStats], EndpointStats]:
    """Parses the `<prefix>_stats.csv` Locust writes with `--csv <prefix>`."""
    endpoints: list[EndpointStats] = []
    total = None
    with stats_csv.open(newline="") as file:
        for row in csv.DictReader(file):
            stats = EndpointStats(
                method=row["Type"],
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50_ms=_number(row["50%"]),
                p95_ms=_number(row["95%"]),
                p99_ms=_number(row["99%"]),
                max_ms=_number(row["Max Response Time"]),
                rps=_number(row["Requests/s"]),
            )
            if row["Name"] == AGGREGATED:
                total = stats
            else:
                endpoints.append(stats)
    if total is None:
        raise ValueError(f"{stats_csv} has no {AGGREGATED} row")
    return endpoints, total


def read_locust_failures(failures_csv: Path) -> list[tuple[str, str, int]]:
    """(endpoint, error, occurrences) from `<prefix>_failures.csv`, most frequent first."""
    if not failures_csv.exists():
        return []
    with failures_csv.open(newline="") as file:
        rows = [
            (f"{row['Method']} {row['Name']}", row["Error"], int(row["Occurrences"]))
            for row in csv.DictReader(file)
        ]
    return sorted(rows, key=lambda row: -row[2])


def render_table(endpoints: list[EndpointStats], total: EndpointStats, slo: Slo) -> str:
    header = ("endpoint", "reqs", "fails", "rps", "p50 ms", "p95 ms", "p99 ms", "max ms", "")
    rows = [header]
    for stats in [*sorted(endpoints, key=lambda s: s.label), total]:
        rows.append(
            (
                stats.label,
                str(stats.requests),
                f"{stats.failures} ({stats.error_rate:.1%})",
                f"{stats.rps:.1f}",
                f"{stats.p50_ms:.0f}",
                f"{stats.p95_ms:.0f}",
                f"{stats.p99_ms:.0f}",
                f"{stats.max_ms:.0f}",
                "MISSED" if violations_of(stats, slo) else "ok",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(-1, "-" * len(lines[0]))
    return "\n".join(lines)
