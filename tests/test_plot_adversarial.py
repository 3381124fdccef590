"""BTE curves of the adversarial sequences (runs/bte_curves.py), their table, report and figure (plotting/).

The results files here are synthetic, written with known accuracies, so every
number can be checked against a computation written out by hand.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from proglearn_supcon import cli  # noqa: E402
from proglearn_supcon.plotting.adversarial_curves import curve_table, load_curves  # noqa: E402
from proglearn_supcon.plotting.adversarial_report import slope_report  # noqa: E402
from proglearn_supcon.plotting.plot_adversarial import plot_adversarial, summarize  # noqa: E402
from proglearn_supcon.runs.analysis import PairingWarning  # noqa: E402
from proglearn_supcon.runs.bte_curves import BTECurves, bte_curves, curve_slopes  # noqa: E402
from proglearn_supcon.runs.results import load_runs, write_run  # noqa: E402
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult  # noqa: E402

N_TEST = 50


def error(accuracy):
    """The smoothed error of N_TEST test images, written out: (mistakes + 1) / (n + 2)."""
    return (N_TEST * (1 - np.asarray(accuracy)) + 1) / (N_TEST + 2)


def t_interval(values):
    """Mean and 95% Student-t interval of independent values, by hand."""
    values = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean(), values.mean() - half, values.mean() + half


def write(root, variant, protocol, shift, slot, task1_accuracy):
    """A results file whose task 1 has the given accuracies after each task (or transformer)."""
    n = len(task1_accuracy)
    accuracy = np.full((n, n), np.nan)
    accuracy[:, 0] = task1_accuracy
    tasks = {name: np.full(n, np.nan) for name in TASK_FIELDS}
    config = {"protocol": protocol, "n_test_per_task": N_TEST, "network_params": {"loss": variant}}
    write_run(root, RunResult(variant, "synthetic", shift, slot, accuracy, tasks, config))


#: Label shuffle: task 1's accuracy after 1, 2, 3 tasks, per (variant, shift, slot).
SHUFFLE = {
    ("supcon", 1, 0): [0.60, 0.62, 0.64],
    ("supcon", 1, 1): [0.58, 0.62, 0.62],
    ("supcon", 2, 0): [0.70, 0.70, 0.74],
    ("supcon", 2, 1): [0.66, 0.70, 0.70],
    ("ce", 1, 0): [0.60, 0.60, 0.62],
    ("ce", 1, 1): [0.56, 0.60, 0.60],
    ("ce", 2, 0): [0.68, 0.70, 0.70],
    ("ce", 2, 1): [0.70, 0.70, 0.72],
}
#: Rotation: task 1's accuracy (own transformer, both transformers) per (variant, repetition, angle).
ROTATION = {
    ("supcon", r, angle): (0.60 + 0.04 * r, 0.66 + 0.04 * r - 0.0002 * angle * r)
    for r in (1, 2, 3)
    for angle in (0, 90)
}
ROTATION.update({("ce", r, a): (single, both - 0.01 * r) for (_, r, a), (single, both) in list(ROTATION.items())})


@pytest.fixture
def shuffle_results(tmp_path):
    for (variant, shift, slot), accuracy in SHUFFLE.items():
        write(tmp_path, variant, "label-shuffle", shift, slot, accuracy)
    return tmp_path


@pytest.fixture
def rotation_results(tmp_path):
    for (variant, repetition, angle), accuracy in ROTATION.items():
        write(tmp_path, variant, "rotation", repetition, angle, accuracy)
    return tmp_path


def shuffle_bte(variant, shift, slot):
    accuracy = SHUFFLE[(variant, shift, slot)]
    return error(accuracy[0]) / error(accuracy)


def test_label_shuffle_curves_are_task_1_error_ratios(shuffle_results):
    curves = bte_curves(load_runs(shuffle_results, "supcon"))
    assert curves.protocol == "label-shuffle" and curves.x_name == "n_tasks_seen"
    assert curves.x.tolist() == [1, 2, 3] and curves.keys == ((1, 0), (1, 1), (2, 0), (2, 1))
    assert curves.clusters.tolist() == [1, 1, 2, 2]  # the slots of a shift are one cluster
    for row, (shift, slot) in enumerate(curves.keys):
        np.testing.assert_allclose(curves.bte[row], shuffle_bte("supcon", shift, slot))
    np.testing.assert_array_equal(curves.bte[:, 0], 1.0)


def shuffle_series(series, shift, slot):
    """A run's (pair's) BTE curve of a series of the table."""
    if series == "supcon - ce":
        return shuffle_bte("supcon", shift, slot) - shuffle_bte("ce", shift, slot)
    return shuffle_bte(series, shift, slot)


def test_label_shuffle_table_matches_a_hand_computation(shuffle_results):
    table = curve_table(load_curves(shuffle_results))
    assert list(table["series"].unique()) == ["ce", "supcon", "supcon - ce"]  # variants sorted, then a - b
    assert (table["n_runs"] == 4).all() and (table["n_clusters"] == 2).all()
    for series in ("supcon", "ce", "supcon - ce"):
        rows = table[table["series"] == series].set_index("x")
        # After task 1 its BTE is 1 in every run (a difference of 0), with no spread.
        assert rows.loc[1, "mean"] == pytest.approx(0.0 if series == "supcon - ce" else 1.0)
        for k in (2, 3):
            # The slots of each shift averaged first, then the interval over the two shifts.
            shift_means = [np.mean([shuffle_series(series, shift, slot)[k - 1] for slot in (0, 1)]) for shift in (1, 2)]
            assert tuple(rows.loc[k, ["mean", "ci_low", "ci_high"]]) == pytest.approx(t_interval(shift_means))


def test_rotation_curves_have_one_row_per_repetition(rotation_results):
    curves = bte_curves(load_runs(rotation_results, "ce"))
    assert curves.x.tolist() == [0, 90] and curves.keys == (1, 2, 3) and curves.clusters.tolist() == [1, 2, 3]
    for row, repetition in enumerate(curves.keys):
        for column, angle in enumerate(curves.x):
            single, both = ROTATION[("ce", repetition, angle)]
            assert curves.bte[row, column] == pytest.approx(error(single) / error(both))


def test_rotation_table_matches_a_hand_computation(rotation_results):
    table = curve_table(load_curves(rotation_results))
    for angle in (0, 90):
        bte = {
            v: [error(ROTATION[(v, r, angle)][0]) / error(ROTATION[(v, r, angle)][1]) for r in (1, 2, 3)]
            for v in ("supcon", "ce")
        }
        expected = {**bte, "supcon - ce": np.subtract(bte["supcon"], bte["ce"])}
        for series, values in expected.items():
            row = table[(table["series"] == series) & (table["x"] == angle)].iloc[0]
            assert (row["x_name"], row["n_runs"], row["n_clusters"]) == ("angle", 3, 3)
            assert (row["mean"], row["ci_low"], row["ci_high"]) == pytest.approx(t_interval(values))
    assert (table.loc[table["series"] == "supcon - ce", "mean"] > 0).all()  # ce's combined accuracy is lower


def test_a_missing_angle_leaves_a_gap_not_a_shift(rotation_results):
    (rotation_results / "ce" / "repetition3_angle90.json").unlink()
    with pytest.warns(PairingWarning, match="left out: supcon"):
        curves = load_curves(rotation_results)
    ce = curves.per_variant["ce"]
    assert np.isnan(ce.bte[2, 1]) and np.isfinite(ce.bte[2, 0])
    table = curve_table(curves)
    at_90 = table[table["x"] == 90].set_index("series")
    assert at_90.loc["ce", "n_runs"] == 2 and at_90.loc["supcon", "n_runs"] == 3
    assert at_90.loc["supcon - ce", "n_runs"] == 2  # only the repetitions both variants have


def test_figure_lines_are_the_table(rotation_results):
    fig, table = plot_adversarial(rotation_results)
    bte_axis, difference_axis = fig.axes
    lines = {line.get_label(): line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "data"}
    assert set(lines) == {"supcon", "ce", "supcon \u2212 ce"}
    for label, series in (("supcon", "supcon"), ("ce", "ce"), ("supcon \u2212 ce", "supcon - ce")):
        rows = table[table["series"] == series]
        np.testing.assert_allclose(lines[label].get_xdata(), rows["x"])
        np.testing.assert_allclose(lines[label].get_ydata(), rows["mean"])
    references = {
        ax: [line.get_ydata()[0] for line in ax.get_lines() if line.get_gid() == "reference"] for ax in fig.axes
    }
    assert references == {bte_axis: [1.0], difference_axis: [0.0]}
    assert [c for c in difference_axis.collections if c.get_gid() == "data-interval"]  # a band: 3 repetitions


def test_one_variant_has_no_difference_panel(tmp_path):
    for (variant, shift, slot), accuracy in SHUFFLE.items():
        if variant == "ce":
            write(tmp_path, variant, "label-shuffle", shift, slot, accuracy)
    fig, table = plot_adversarial(tmp_path)
    assert len(fig.axes) == 1 and table["series"].unique().tolist() == ["ce"]


def test_summarize_writes_figure_and_table_and_reports_the_end_point(shuffle_results):
    text = summarize(shuffle_results, ["supcon", "ce"])
    figure, table_path = shuffle_results / "label_shuffle_bte.png", shuffle_results / "label_shuffle_bte_summary.csv"
    assert figure.stat().st_size > 0 and f"table:   {table_path}" in text
    table = pd.read_csv(table_path)
    end = table[(table["series"] == "supcon - ce") & (table["x"] == 3)].iloc[0]
    assert f"supcon - ce  after 3 tasks: {end['mean']:+.3f}" in text
    assert "flagged transformers: none" in text
    assert "slope of BTE per task" in text and "supcon - ce" in text.split("slope of BTE")[1]


def rotation_bte(variant, repetition, angle):
    single, both = ROTATION[(variant, repetition, angle)]
    return error(single) / error(both)


def test_slopes_are_least_squares_lines_per_curve():
    x = np.array([0, 45, 90, 180])
    bte = np.array([[1.1, 1.05, 1.0, 0.9], [1.0, 1.0, np.nan, 0.8], [1.0, np.nan, np.nan, np.nan]])
    slopes = curve_slopes(BTECurves("rotation", x, (1, 2, 3), np.array([1, 2, 3]), bte))
    assert slopes[0] == pytest.approx(90 * np.polyfit(x, bte[0], 1)[0])  # per 90 degrees
    assert slopes[1] == pytest.approx(90 * np.polyfit(x[[0, 1, 3]], bte[1, [0, 1, 3]], 1)[0])  # the gap left out
    assert np.isnan(slopes[2])  # one point: no slope
    linear = BTECurves("label-shuffle", np.arange(1, 5), ((1, 0),), np.array([1]), 1 + 0.02 * np.arange(4)[None])
    assert curve_slopes(linear)[0] == pytest.approx(0.02)  # per task added


def test_slope_report_matches_a_hand_computation(rotation_results):
    lines = slope_report(load_curves(rotation_results))
    assert lines[0].startswith("slope of BTE per 90 degrees")

    def slopes(variant):  # two angles: the slope is the rise from 0 to 90 degrees
        return [rotation_bte(variant, r, 90) - rotation_bte(variant, r, 0) for r in (1, 2, 3)]

    expected = {
        "ce": t_interval(slopes("ce")),
        "supcon": t_interval(slopes("supcon")),
        "supcon - ce": t_interval(np.subtract(slopes("supcon"), slopes("ce"))),
    }
    for line, (name, (mean, low, high)) in zip(lines[1:], expected.items(), strict=True):
        sign = "+" if " - " in name else ""
        assert line.split()[: len(name.split())] == name.split()
        assert f"{mean:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]" in line and "3 repetitions" in line
    assert expected["supcon"][0] < 0  # the synthetic supcon curves fall with the angle


def test_slope_difference_uses_only_the_points_both_variants_have(rotation_results):
    (rotation_results / "ce" / "repetition3_angle90.json").unlink()
    with pytest.warns(PairingWarning):
        lines = slope_report(load_curves(rotation_results))
    difference = lines[-1]
    assert difference.split()[:3] == ["supcon", "-", "ce"] and "2 curves, 2 repetitions" in difference
    assert "3 curves, 3 repetitions" in [line for line in lines if line.split()[0] == "supcon"][0]


@pytest.mark.slow
def test_cli_writes_figure_and_csv(rotation_results, tmp_path, capsys):
    out = tmp_path / "figs" / "rotation.svg"
    assert cli.main(["adversarial", "--results", str(rotation_results), "--out", str(out), "--png"]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and out.with_suffix(".png").is_file()
    table = pd.read_csv(tmp_path / "figs" / "rotation_summary.csv")
    assert len(table) == 3 * 2 and set(table["protocol"]) == {"rotation"}
    assert "at 90 degrees" in printed and "interval excludes 0 at angle" in printed
    assert "slope of BTE per 90 degrees" in printed
    assert "nan" not in printed.lower()


@pytest.mark.parametrize(
    "make, extra, message",
    [
        ("tenxten", [], "these are tenxten runs"),
        ("mixed", [], "different protocols"),
        ("rotation", ["--a", "supcon"], "give both --a and --b"),
        ("rotation", ["--a", "ce", "--b", "ce"], "both 'ce'"),
        ("rotation", ["--variants", "tcl"], "no results for variant 'tcl'"),
        ("rotation", ["--variants", "ce", "--a", "supcon", "--b", "ce"], "'supcon' is not among the variants drawn"),
        ("missing", [], "does not exist"),
    ],
)
def test_cli_errors_are_one_line_and_status_2(make, extra, message, tmp_path, capsys):
    root = tmp_path / "results"
    if make in ("tenxten", "mixed", "rotation"):
        write(root, "supcon", "rotation" if make != "tenxten" else "tenxten", 1, 0, [0.6, 0.7])
        write(root, "ce", "label-shuffle" if make == "mixed" else "rotation", 1, 0, [0.6, 0.7])
    argv = ["adversarial", "--results", str(root), "--out", str(tmp_path / "f.png"), *extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("proglearn-supcon adversarial: error: ") and message in err and err.count("\n") == 1
