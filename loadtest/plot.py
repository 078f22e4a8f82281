"""The latency plot of a load run: p50, p95 and p99 over time, one panel per endpoint, from the
`<prefix>_stats_history.csv` Locust writes with `--csv <prefix> --csv-full-history`.

Each history row gives an endpoint's percentiles over Locust's sliding window of about the
last 10 seconds (not since the start), once a second. Locust writes 0 (or N/A) while a window
has no sample; such points are left out rather than drawn as 0 ms.

`python -m loadtest.plot HISTORY_CSV OUT_PNG [--slo-ms 200]` redraws a plot from a kept CSV.
"""

import argparse
import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from loadtest.slo import AGGREGATED

PERCENTILES = {"p50": "50%", "p95": "95%", "p99": "99%"}  # series -> history CSV column
COLOURS = {"p50": "tab:green", "p95": "tab:orange", "p99": "tab:red"}
COLUMNS = 3


@dataclass
class Series:
    """One endpoint's history: seconds since the run's first row, and each percentile in ms
    (NaN where the window had no sample)."""

    label: str
    seconds: list[float] = field(default_factory=list)
    ms: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PERCENTILES})


def _ms(value: str) -> float:
    try:
        number = float(value)
    except ValueError:  # "N/A"
        return math.nan
    return number if number > 0 else math.nan


TOTAL = "All requests"


def read_history(history_csv: Path) -> dict[str, Series]:
    """The endpoints of a full-history CSV by label ("GET /loyalty/..."), sorted, and the
    Aggregated rows last (as "All requests")."""
    series: dict[str, Series] = {}
    start = None
    with history_csv.open(newline="") as file:
        for row in csv.DictReader(file):
            timestamp = float(row["Timestamp"])
            start = timestamp if start is None else start
            is_total = row["Name"] == AGGREGATED
            label = TOTAL if is_total else f"{row['Type']} {row['Name']}".strip()
            entry = series.setdefault(label, Series(label))
            entry.seconds.append(timestamp - start)
            for name, column in PERCENTILES.items():
                entry.ms[name].append(_ms(row[column]))
    return {label: series[label] for label in sorted(series, key=lambda x: (x == TOTAL, x))}


def build_figure(series: dict[str, Series], title: str, slo_p95_ms: float | None) -> Figure:
    """One panel per endpoint (its own scale), p50/p95/p99 lines, the SLO's p95 bound dashed."""
    panels = [s for s in series.values() if any(not math.isnan(v) for v in s.ms["p95"])]
    rows = max(1, math.ceil(len(panels) / COLUMNS))
    figure = Figure(figsize=(5.2 * COLUMNS, 3.1 * rows + 1.0), layout="constrained")
    figure.suptitle(title, fontsize=14)
    axes = figure.subplots(rows, COLUMNS, squeeze=False).flatten()
    end = max((max(s.seconds) for s in panels if s.seconds), default=0) or 1
    for ax, endpoint in zip(axes, panels, strict=False):
        for name in PERCENTILES:
            ax.plot(
                endpoint.seconds,
                endpoint.ms[name],
                label=name,
                color=COLOURS[name],
                linewidth=1.4,
            )
        if slo_p95_ms is not None:
            ax.axhline(slo_p95_ms, color="grey", linestyle="--", linewidth=1, label="p95 SLO")
        ax.set_title(
            endpoint.label, fontsize=10, fontweight="bold" if endpoint.label == TOTAL else None
        )
        ax.set_xlabel("seconds since start", fontsize=8)
        ax.set_ylabel("ms", fontsize=8)
        ax.set_xlim(0, end)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    if panels:
        figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4)
    return figure


def plot_history(
    history_csv: Path, png: Path, title: str = "Latency over time", slo_p95_ms: float | None = None
) -> Path:
    """Writes the PNG of `history_csv` to `png` and returns its path."""
    figure = build_figure(read_history(history_csv), title, slo_p95_ms)
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=100)
    return png


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.plot", description=__doc__)
    parser.add_argument("history_csv", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--title", default="Latency over time")
    parser.add_argument("--slo-ms", type=float, default=None, help="draw the p95 bound")
    args = parser.parse_args(argv)
    print(plot_history(args.history_csv, args.png, args.title, args.slo_ms))


if __name__ == "__main__":
    main()
