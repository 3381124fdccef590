"""Tests of plotting/plot_geometry.py on small synthetic results files with diagnostics.

Expected values are computed here with plain loops from the known matrices and
compared with the data read back from the figure's images and lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `plotting` is not an installed package
    sys.path.insert(0, str(REPO))

from proglearn_supcon.plotting.plot_geometry import main, plot_geometry_comparison  # noqa: E402
from proglearn_supcon.results import TASK_FIELDS, Diagnostics, RunResult, write_run  # noqa: E402

T = 3
SHIFTS = (1, 2, 3)
# Transfer matrices [transformer i, task j] of shift 2; other shifts add SCALE * (shift - 2) / 100.
TRANSFER = {
    "supcon": np.array([[0.50, 0.40, 0.30], [0.45, 0.60, 0.35], [0.40, 0.42, 0.70]]),
    "ce": np.array([[0.52, 0.44, 0.36], [0.40, 0.58, 0.38], [0.30, 0.40, 0.66]]),
}
SCALE = {"supcon": 1.0, "ce": 3.0}
METRICS = ("nc1", "variance_ratio", "angle_deviation", "norm_spread", "alignment", "uniformity", "effective_rank")


def transfer_of(variant: str, shift: int) -> np.ndarray:
    return TRANSFER[variant] + SCALE[variant] * (shift - 2) / 100


def geometry_of(variant: str, shift: int) -> dict[str, np.ndarray]:
    """Distinct known values per (metric, transformer, task, variant, shift)."""
    i, j = np.indices((T, T))
    base = 1.0 + i + 0.1 * j + (0.5 if variant == "ce" else 0.0) + 0.01 * shift
    return {name: base * (k + 1) for k, name in enumerate(METRICS)}


def make_run(variant: str, shift: int, diagnostics: bool = True) -> RunResult:
    acc = np.where(np.tri(T, dtype=bool), 0.5, np.nan)
    tasks = {name: np.ones(T) for name in TASK_FIELDS}
    tasks["single_task_accuracy"] = np.diag(transfer_of(variant, shift)).copy()
    extra = Diagnostics(transfer_of(variant, shift), geometry_of(variant, shift)) if diagnostics else None
    return RunResult(variant, "synthetic", shift, 0, acc, tasks, diagnostics=extra)


def write_results(root: Path) -> Path:
    for variant in ("supcon", "ce"):
        for shift in SHIFTS:
            write_run(root, make_run(variant, shift))
    return root


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return write_results(tmp_path)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """One figure and summary shared by the read-back tests (drawing takes about a second)."""
    fig, summary = plot_geometry_comparison(write_results(tmp_path_factory.mktemp("results")), "supcon", "ce")
    yield fig, summary
    plt.close(fig)


def images(fig) -> dict[str, np.ndarray]:
    return {im.get_gid(): im for ax in fig.axes for im in ax.images}


@pytest.mark.slow
def test_heatmaps_are_the_mean_transfer_matrices_and_their_difference(drawn):
    fig, _ = drawn
    shown = images(fig)
    assert set(shown) == {"transfer-a", "transfer-b", "transfer-difference"}
    mean_a = sum(transfer_of("supcon", s) for s in SHIFTS) / len(SHIFTS)
    mean_b = sum(transfer_of("ce", s) for s in SHIFTS) / len(SHIFTS)
    np.testing.assert_allclose(shown["transfer-a"].get_array(), mean_a)
    np.testing.assert_allclose(shown["transfer-b"].get_array(), mean_b)
    np.testing.assert_allclose(shown["transfer-difference"].get_array(), TRANSFER["supcon"] - TRANSFER["ce"])
    # One colour scale for both variants; a symmetric one for the difference.
    assert shown["transfer-a"].get_clim() == shown["transfer-b"].get_clim() == pytest.approx((0.30, 0.70))
    assert shown["transfer-difference"].get_clim() == pytest.approx((-0.10, 0.10))


@pytest.mark.slow
def test_geometry_curves_own_task_and_other_tasks(drawn):
    fig, _ = drawn
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    for title, name in (
        ("NC1 (lower: more collapsed)", "nc1"),
        ("Simplex deviation of the angles", "angle_deviation"),
        ("Effective rank", "effective_rank"),
    ):
        drawn = {line.get_label(): line for line in panels[title].get_lines() if line.get_gid() == "data"}
        assert set(drawn) == {f"{v}, {p}" for v in ("supcon", "ce") for p in ("own task", "other tasks")}
        for variant in ("supcon", "ce"):
            runs = [geometry_of(variant, s)[name] for s in SHIFTS]
            own = [np.mean([g[t, t] for g in runs]) for t in range(T)]
            other = [np.mean([np.mean([g[t, j] for j in range(T) if j != t]) for g in runs]) for t in range(T)]
            for part, expected in (("own task", own), ("other tasks", other)):
                line = drawn[f"{variant}, {part}"]
                np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
                np.testing.assert_allclose(line.get_ydata(), expected, err_msg=f"{title} {variant} {part}")
            assert drawn[f"{variant}, own task"].get_linestyle() == "-"
            assert drawn[f"{variant}, other tasks"].get_linestyle() == "--"


@pytest.mark.slow
def test_summary_table_values(drawn):
    _, summary = drawn
    table = summary.set_index("metric")
    forward = [(0, 1), (0, 2), (1, 2)]
    backward = [(1, 0), (2, 0), (2, 1)]
    for variant, column in (("supcon", "a"), ("ce", "b")):
        per_run = {
            "transfer_diagonal": [np.mean([transfer_of(variant, s)[t, t] for t in range(T)]) for s in SHIFTS],
            "transfer_forward": [np.mean([transfer_of(variant, s)[p] for p in forward]) for s in SHIFTS],
            "transfer_backward": [np.mean([transfer_of(variant, s)[p] for p in backward]) for s in SHIFTS],
            "nc1_own": [np.mean([geometry_of(variant, s)["nc1"][t, t] for t in range(T)]) for s in SHIFTS],
            "effective_rank_other": [
                np.mean(
                    [
                        np.mean([geometry_of(variant, s)["effective_rank"][t, j] for j in range(T) if j != t])
                        for t in range(T)
                    ]
                )
                for s in SHIFTS
            ],
        }
        for metric, values in per_run.items():
            assert table.loc[metric, column] == pytest.approx(np.mean(values)), (metric, variant)
    # Hand-checked: forward means 0.35 (supcon) and 0.39333 (ce) at shift 2; the offsets cancel over shifts.
    assert table.loc["transfer_forward", "difference"] == pytest.approx(0.35 - 1.18 / 3)
    # supcon - ce per run is (1 - 3)(shift - 2) / 100 plus a constant: sd 0.02 over 3 runs.
    half = 4.302652729911275 * 0.02 / np.sqrt(3)  # t_{0.975, 2}
    row = table.loc["transfer_backward"]
    assert (row.ci_low, row.ci_high) == pytest.approx((row.difference - half, row.difference + half))
    assert table.loc["nc1_own", "difference"] == pytest.approx(-0.5)
    assert list(table.index) == [
        "transfer_diagonal",
        "transfer_forward",
        "transfer_backward",
        "nc1_own",
        "nc1_other",
        "angle_deviation_own",
        "angle_deviation_other",
        "effective_rank_own",
        "effective_rank_other",
    ]
    assert (table["n_runs"] == 3).all()


@pytest.mark.slow
def test_command_line_writes_figure_and_csv(results, capsys):
    out = results / "figs" / "geometry.png"
    open_before = len(plt.get_fignums())
    assert main(["--results", str(results), "--a", "supcon", "--b", "ce", "--out", str(out)]) == 0
    assert len(plt.get_fignums()) == open_before  # the command line closes its figure
    for path in (out, out.with_name("geometry_summary.csv")):
        assert path.stat().st_size > 0, path
    csv = pd.read_csv(out.with_name("geometry_summary.csv"))
    assert csv.loc[csv.metric == "nc1_own", "difference"].item() == pytest.approx(-0.5)
    printed = capsys.readouterr().out
    assert "transfer_forward" in printed and "effective_rank_other" in printed


def test_runs_without_diagnostics_are_a_clear_error(results, capsys):
    write_run(results, make_run("ce", 2, diagnostics=False))  # overwrites ce shift 2
    argv = ["--results", str(results), "--a", "supcon", "--b", "ce", "--out", str(results / "g.png")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "(2, 0) (shift, slot) of variant 'ce' have no diagnostics" in err and "--diagnostics" in err
    assert main([*argv[:4], "--b", "tcl", *argv[6:]]) == 2
    assert "no results for variant 'tcl'" in capsys.readouterr().err
    assert not (results / "g.png").exists()
