"""The load test's latency plot and its options: the stats history CSV in, a PNG out."""

import ast
import math
import struct
from pathlib import Path

import pytest

from loadtest import gate
from loadtest.plot import PERCENTILES, TOTAL, build_figure, plot_history, read_history
from loadtest.profiles import PROFILES
from loadtest.targets import Targets

HISTORY = Path(__file__).parent / "fixtures" / "locust_stats_history.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"  # the first chunk of every valid PNG
    return struct.unpack(">II", data[16:24])


def test_history_is_read_per_endpoint_with_all_requests_last():
    series = read_history(HISTORY)
    assert list(series) == [
        "GET /loyalty/get_active_promocodes",
        "POST /loyalty/confirm_purchase",
        "POST /loyalty/use_promocode",
        TOTAL,
    ]
    use = series["POST /loyalty/use_promocode"]
    assert use.seconds == [1, 2, 3]  # since the first row of the run
    assert use.ms["p95"][1:] == [90, 95]
    assert use.ms["p99"][1:] == [120, 130]
    assert series[TOTAL].ms["p50"][2:] == [12, 12]


def test_windows_without_a_sample_are_gaps_not_zero_ms():
    series = read_history(HISTORY)
    assert math.isnan(series["POST /loyalty/use_promocode"].ms["p50"][0])  # Locust wrote 0
    assert all(math.isnan(v) for v in series[TOTAL].ms["p99"][:2])  # N/A, then 0
    assert all(math.isnan(v) for v in series["POST /loyalty/confirm_purchase"].ms["p95"])


def test_one_panel_per_endpoint_with_samples_each_with_p50_p95_p99_and_the_slo():
    figure = build_figure(read_history(HISTORY), "a run", slo_p95_ms=200)
    panels = [ax for ax in figure.axes if ax.get_visible()]
    # confirm_purchase never had a sample: no empty panel for it
    assert [ax.get_title() for ax in panels] == [
        "GET /loyalty/get_active_promocodes",
        "POST /loyalty/use_promocode",
        TOTAL,
    ]
    for ax in panels:
        assert [line.get_label() for line in ax.get_lines()] == [*PERCENTILES, "p95 SLO"]
    use_p99 = panels[1].get_lines()[2]
    assert list(use_p99.get_ydata())[1:] == [120, 130]
    assert figure.get_suptitle() == "a run"


def test_plot_history_writes_a_valid_png(tmp_path):
    png = plot_history(HISTORY, tmp_path / "plots" / "latency.png", "a run", slo_p95_ms=200)
    assert png == tmp_path / "plots" / "latency.png"
    width, height = png_size(png)
    assert width >= 800 and height >= 300


def test_each_profile_names_user_classes_the_locustfile_defines():
    tree = ast.parse(Path(gate.LOCUSTFILE).read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    for profile in PROFILES.values():
        assert set(profile.user_classes) <= defined, profile.name


@pytest.mark.parametrize("name", list(PROFILES))
def test_a_profile_brings_its_own_load_unless_told(name):
    args = gate.parse_args(["--profile", name])
    profile = PROFILES[name]
    assert (args.users, args.spawn_rate, args.run_time) == (
        profile.users,
        profile.spawn_rate or profile.users,
        profile.run_time,
    )
    told = gate.parse_args(["--profile", name, "--users", "7", "--run-time", "9"])
    assert (told.users, told.spawn_rate, told.run_time) == (7, profile.spawn_rate or 7, 9)


def test_help_names_every_profile(capsys):
    with pytest.raises(SystemExit) as exited:
        gate.parse_args(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in PROFILES)


def test_locust_writes_full_history_csv_and_html_and_runs_the_profiles_classes(tmp_path):
    args = gate.parse_args(["--profile", "promotion", "--users", "5"])
    command = gate.locust_command(args, Targets(), tmp_path)
    assert "--csv-full-history" in command
    assert command[command.index("--csv") + 1] == str(tmp_path / gate.CSV_PREFIX)
    assert command[command.index("--html") + 1] == str(tmp_path / gate.HTML_REPORT)
    assert command[-len(PROFILES["promotion"].user_classes) :] == list(
        PROFILES["promotion"].user_classes
    )
