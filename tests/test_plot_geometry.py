"""Tests of plotting/plot_geometry.py and plotting/paired_diagnostics.py on synthetic results files with diagnostics.

Expected values are computed here with plain loops from the known matrices and
compared with the data read back from the figure's images and lines.
"""

from __future__ import annotations

import json
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

from proglearn_supcon.metrics.geometry import GEOMETRY_METRICS  # noqa: E402
from proglearn_supcon.plotting.figures import MINUS  # noqa: E402
from proglearn_supcon.plotting.plot_geometry import main, plot_geometry_comparison  # noqa: E402
from proglearn_supcon.runs.results import write_run  # noqa: E402
from proglearn_supcon.runs.schema import DEFAULT_VIEW, TASK_FIELDS, Diagnostics, RunResult  # noqa: E402

T = 3
SHIFTS = (1, 2, 3)
# Transfer matrices [transformer i, task j] of shift 2; other shifts add SCALE * (shift - 2) / 100.
TRANSFER = {
    "supcon": np.array([[0.50, 0.40, 0.30], [0.45, 0.60, 0.35], [0.40, 0.42, 0.70]]),
    "ce": np.array([[0.52, 0.44, 0.36], [0.40, 0.58, 0.38], [0.30, 0.40, 0.66]]),
}
SCALE = {"supcon": 1.0, "ce": 3.0}
METRICS = GEOMETRY_METRICS  # every metric a run records, the effective rank's ceiling last
VIEWS = (("encoder", "test"), ("encoder", "train"), ("projection", "test"), ("projection", "train"))
PANELS = ("nc1", "variance_ratio", "alignment", "angle_deviation", "norm_spread", "effective_rank")


def transfer_of(variant: str, shift: int) -> np.ndarray:
    return TRANSFER[variant] + SCALE[variant] * (shift - 2) / 100


def geometry_of(variant: str, shift: int, view=DEFAULT_VIEW) -> dict[str, np.ndarray]:
    """Distinct known values per (metric, transformer, task, variant, shift, view)."""
    i, j = np.indices((T, T))
    base = 1.0 + i + 0.1 * j + (0.5 if variant == "ce" else 0.0) + 0.01 * shift + 100.0 * VIEWS.index(view)
    values = {name: base * (k + 1) for k, name in enumerate(METRICS)}
    # The ceiling of CE's projection (its logits) is lower than SupCon's.
    values["effective_rank_ceiling"] = np.full((T, T), 2.0 if (variant, view[0]) == ("ce", "projection") else 99.0)
    return values


def decomposition_of(variant: str, shift: int) -> dict[str, np.ndarray]:
    """Parts per task that add up: own + other_term + good - bad = network."""
    own = np.array([0.5, 0.6, 0.7]) + (0.02 if variant == "ce" else 0.0) + 0.01 * shift
    other_term = np.array([-0.05, -0.04, -0.03]) * (2.0 if variant == "ce" else 1.0)
    good, bad = np.array([0.10, 0.08, 0.06]), np.array([0.02, 0.02, 0.01]) * shift
    return {
        "network_accuracy": own + other_term + good - bad,
        "own_accuracy": own,
        "other_term": other_term,
        "good_diversity": good,
        "bad_diversity": bad,
    }


def make_run(variant: str, shift: int, diagnostics: bool = True) -> RunResult:
    acc = np.where(np.tri(T, dtype=bool), 0.5, np.nan)
    tasks = {name: np.ones(T) for name in TASK_FIELDS}
    tasks["single_task_accuracy"] = np.diag(transfer_of(variant, shift)).copy()
    extra = None
    if diagnostics:
        views = {view: geometry_of(variant, shift, view) for view in VIEWS}
        extra = Diagnostics.from_views(transfer_of(variant, shift), views, decomposition_of(variant, shift))
    return RunResult(variant, "synthetic", shift, 0, acc, tasks, diagnostics=extra)


def write_results(root: Path) -> Path:
    for variant in ("supcon", "ce"):
        for shift in SHIFTS:
            write_run(root, make_run(variant, shift))
    return root


def make_legacy(root: Path, shifts=SHIFTS) -> Path:
    """The files of ``shifts`` as written before views, ceilings and the decomposition were recorded."""
    for path in (p for shift in shifts for p in root.glob(f"*/shift{shift}_slot0.json")):
        payload = json.loads(path.read_text())
        diagnostics = payload["diagnostics"]
        diagnostics.pop("decomposition")
        rows = [row for row in diagnostics["geometry"] if (row["space"], row["split"]) == DEFAULT_VIEW]
        for row in rows:
            for key in ("space", "split", "effective_rank_ceiling"):
                del row[key]
        diagnostics["geometry"] = rows
        path.write_text(json.dumps(payload))
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


def panels(fig) -> dict[tuple[str, str, str], object]:
    """Geometry panels by (space, split, metric), from their gid."""
    found = {}
    for ax in fig.axes:
        gid = ax.get_gid() or ""
        if gid.startswith("geometry:"):
            _, space, split, metric = gid.split(":")
            found[(space, split, metric)] = ax
    return found


def curves(ax) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines() if line.get_gid() == "data"}


@pytest.mark.slow
def test_every_measure_in_every_view_side_by_side(drawn):
    fig, _ = drawn
    shown = panels(fig)
    assert set(shown) == {(*view, name) for view in VIEWS for name in PANELS}
    for (space, split, name), ax in shown.items():
        drawn_curves = curves(ax)
        assert set(drawn_curves) == {f"{v}, {p}" for v in ("supcon", "ce") for p in ("own task", "other tasks")}
        for variant in ("supcon", "ce"):
            runs = [geometry_of(variant, s, (space, split))[name] for s in SHIFTS]
            own = [np.mean([g[t, t] for g in runs]) for t in range(T)]
            other = [np.mean([np.mean([g[t, j] for j in range(T) if j != t]) for g in runs]) for t in range(T)]
            for part, expected in (("own task", own), ("other tasks", other)):
                line = drawn_curves[f"{variant}, {part}"]
                np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
                np.testing.assert_allclose(line.get_ydata(), expected, err_msg=f"{space} {split} {name} {variant}")
            assert drawn_curves[f"{variant}, own task"].get_linestyle() == "-"
            assert drawn_curves[f"{variant}, other tasks"].get_linestyle() == "--"
    # The effective rank is read against its ceiling, per loss where the spaces differ.
    ceilings = {key: [t.get_text() for t in ax.texts if t.get_gid() == "ceiling"] for key, ax in shown.items()}
    assert ceilings[("encoder", "test", "effective_rank")] == [f"at most min(n{MINUS}1, d) = 99"]
    assert ceilings[("projection", "train", "effective_rank")] == [f"at most min(n{MINUS}1, d) = supcon 99, ce 2"]
    assert ceilings[("encoder", "test", "nc1")] == []


@pytest.mark.slow
def test_decomposition_bars_are_the_mean_parts(drawn):
    fig, _ = drawn
    bars = {side: [p for ax in fig.axes for p in ax.patches if p.get_gid() == f"decomposition-{side}"] for side in "ab"}
    for side, variant in (("a", "supcon"), ("b", "ce")):
        parts = [decomposition_of(variant, s) for s in SHIFTS]
        expected = [np.mean([np.mean(p[name]) for p in parts]) for name in PARTS]
        expected[PARTS.index("bad_diversity")] *= -1  # drawn as what it adds
        np.testing.assert_allclose([bar.get_height() for bar in bars[side]], expected)


PARTS = ("own_accuracy", "other_term", "good_diversity", "bad_diversity", "network_accuracy")


@pytest.mark.slow
def test_summary_table_values(drawn):
    _, summary = drawn
    assert list(summary.columns) == ["metric", "space", "split", "a", "b", "difference", "ci_low", "ci_high", "n_runs"]
    table = summary.set_index(["metric", "space", "split"])
    assert table.index.is_unique
    forward = [(0, 1), (0, 2), (1, 2)]
    backward = [(1, 0), (2, 0), (2, 1)]
    for variant, column in (("supcon", "a"), ("ce", "b")):
        per_run = {
            ("transfer_diagonal", *DEFAULT_VIEW): [
                np.mean([transfer_of(variant, s)[t, t] for t in range(T)]) for s in SHIFTS
            ],
            ("transfer_forward", *DEFAULT_VIEW): [
                np.mean([transfer_of(variant, s)[p] for p in forward]) for s in SHIFTS
            ],
            ("transfer_backward", *DEFAULT_VIEW): [
                np.mean([transfer_of(variant, s)[p] for p in backward]) for s in SHIFTS
            ],
            ("decomposition_bad_diversity", *DEFAULT_VIEW): [
                np.mean(decomposition_of(variant, s)["bad_diversity"]) for s in SHIFTS
            ],
        }
        for view in VIEWS:
            per_run[("nc1_own", *view)] = [
                np.mean([geometry_of(variant, s, view)["nc1"][t, t] for t in range(T)]) for s in SHIFTS
            ]
            per_run[("effective_rank_other", *view)] = [
                np.mean(
                    [
                        np.mean([geometry_of(variant, s, view)["effective_rank"][t, j] for j in range(T) if j != t])
                        for t in range(T)
                    ]
                )
                for s in SHIFTS
            ]
        for key, values in per_run.items():
            assert table.loc[key, column] == pytest.approx(np.mean(values)), (key, variant)
    encoder_test = table.xs(DEFAULT_VIEW, level=("space", "split"))
    # Hand-checked: forward means 0.35 (supcon) and 0.39333 (ce) at shift 2; the offsets cancel over shifts.
    assert encoder_test.loc["transfer_forward", "difference"] == pytest.approx(0.35 - 1.18 / 3)
    # supcon - ce per run is (1 - 3)(shift - 2) / 100 plus a constant: sd 0.02 over 3 runs.
    half = 4.302652729911275 * 0.02 / np.sqrt(3)  # t_{0.975, 2}
    row = encoder_test.loc["transfer_backward"]
    assert (row.ci_low, row.ci_high) == pytest.approx((row.difference - half, row.difference + half))
    assert encoder_test.loc["nc1_own", "difference"] == pytest.approx(-0.5)
    assert table.loc[("effective_rank_ceiling_own", "projection", "test"), "difference"] == pytest.approx(97.0)
    # Every metric of every view, own and other; the decomposition's parts once.
    for view in VIEWS:
        assert [m for m, s, p in table.index if (s, p) == view and m.endswith("_own")] == [f"{n}_own" for n in METRICS]
    decomposition = [m for m, _, _ in table.index if m.startswith("decomposition_")]
    assert decomposition == [
        f"decomposition_{name}"
        for name in ("network_accuracy", "own_accuracy", "other_term", "good_diversity", "bad_diversity")
    ]
    assert (table["n_runs"] == 3).all()


@pytest.mark.slow
def test_files_without_views_or_decomposition_still_load_and_plot(results):
    fig, summary = plot_geometry_comparison(make_legacy(results), "supcon", "ce")
    try:
        shown = panels(fig)
        assert set(shown) == {(*DEFAULT_VIEW, name) for name in PANELS}  # one column: what the files have
        nc1 = curves(shown[(*DEFAULT_VIEW, "nc1")])["supcon, own task"]
        np.testing.assert_allclose(
            nc1.get_ydata(), [np.mean([geometry_of("supcon", s)["nc1"][t, t] for s in SHIFTS]) for t in range(T)]
        )
        assert not [t for ax in fig.axes for t in ax.texts if t.get_gid() == "ceiling"]  # not recorded: not shown
        assert not [p for ax in fig.axes for p in ax.patches if (p.get_gid() or "").startswith("decomposition")]
    finally:
        plt.close(fig)
    assert set(zip(summary.space, summary.split)) == {DEFAULT_VIEW}
    assert not summary.metric.str.startswith("decomposition").any()
    assert "effective_rank_ceiling_own" not in set(summary.metric)
    assert summary.set_index("metric").loc["nc1_own", "difference"] == pytest.approx(-0.5)


@pytest.mark.slow
def test_old_and_new_files_together_keep_every_view_over_the_runs_that_have_it(results):
    fig, summary = plot_geometry_comparison(make_legacy(results, shifts=(1,)), "supcon", "ce")
    try:
        shown = panels(fig)
        assert set(shown) == {(*view, name) for view in VIEWS for name in PANELS}  # no view dropped
        assert shown[("projection", "train", "nc1")].get_title().endswith("\n2 of 3 runs")
        assert "runs" not in shown[(*DEFAULT_VIEW, "nc1")].get_title()
        assert shown[(*DEFAULT_VIEW, "nc1")].get_yscale() == "log"
        nc1 = curves(shown[("projection", "train", "nc1")])["supcon, own task"]
        new_shifts = (2, 3)
        expected = [
            np.mean([geometry_of("supcon", s, ("projection", "train"))["nc1"][t, t] for s in new_shifts])
            for t in range(T)
        ]
        np.testing.assert_allclose(nc1.get_ydata(), expected)
    finally:
        plt.close(fig)
    table = summary.set_index(["metric", "space", "split"])
    assert table.loc[("nc1_own", *DEFAULT_VIEW), "n_runs"] == 3
    row = table.loc[("nc1_own", "projection", "train")]
    assert row["n_runs"] == 2
    own = {
        v: np.mean([np.mean(np.diag(geometry_of(v, s, ("projection", "train"))["nc1"])) for s in new_shifts])
        for v in ("supcon", "ce")
    }
    assert row["a"] == pytest.approx(own["supcon"]) and row["b"] == pytest.approx(own["ce"])
    assert row["difference"] == pytest.approx(-0.5)
    decomposition = table.loc[("decomposition_own_accuracy", *DEFAULT_VIEW)]
    assert decomposition["n_runs"] == 2  # the legacy shift has no decomposition
    own_parts = [decomposition_of("supcon", s)["own_accuracy"].mean() for s in new_shifts]
    assert decomposition["a"] == pytest.approx(np.mean(own_parts))


@pytest.mark.slow
def test_command_line_writes_figure_and_csv(results, capsys):
    out = results / "figs" / "geometry.png"
    open_before = len(plt.get_fignums())
    assert main(["--results", str(results), "--a", "supcon", "--b", "ce", "--out", str(out)]) == 0
    assert len(plt.get_fignums()) == open_before  # the command line closes its figure
    for path in (out, out.with_name("geometry_summary.csv")):
        assert path.stat().st_size > 0, path
    csv = pd.read_csv(out.with_name("geometry_summary.csv"))
    rows = csv[(csv.metric == "nc1_own") & (csv.space == "encoder") & (csv.split == "test")]
    assert rows["difference"].item() == pytest.approx(-0.5)
    assert set(zip(csv.space, csv.split)) == set(VIEWS)
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
