"""Tests of the figure scripts under plotting/ on small synthetic results files.

The expected values are computed here from the known accuracies with plain
loops (not with proglearn_supcon.metrics.transfer), and compared with the data of the
lines drawn in each axes, read back from the matplotlib artists.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `plotting` is not an installed package
    sys.path.insert(0, str(REPO))

from proglearn_supcon.plotting.compare_variants import PairingWarning, compare_variants  # noqa: E402
from proglearn_supcon.plotting.compare_variants import main as compare_main  # noqa: E402
from proglearn_supcon.plotting.plot_variant import main as variant_main  # noqa: E402
from proglearn_supcon.plotting.plot_variant import plot_timing, plot_variant  # noqa: E402
from proglearn_supcon.runs.results import write_run  # noqa: E402
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult  # noqa: E402

NAN = np.nan
T = 3
SHIFTS = (1, 2, 3)
# Base accuracies acc[j, t] (task t after learning tasks 0..j) and single-task accuracies.
BASE = {
    "supcon": np.array([[0.50, NAN, NAN], [0.60, 0.60, NAN], [0.70, 0.65, 0.80]]),
    "ce": np.array([[0.50, NAN, NAN], [0.50, 0.55, NAN], [0.45, 0.55, 0.60]]),
}
SINGLE = np.array([0.50, 0.50, 0.60])
# Run-to-run offset of the accuracies: supcon moves by d(shift), ce by 2 d(shift).
SCALE = {"supcon": 1.0, "ce": 2.0}
T_95_2DF = stats.t.ppf(0.975, 2)  # Student-t quantile for 3 runs


def offset(shift: int) -> float:
    return 0.01 * (shift - 2)  # -0.01, 0, +0.01 for shifts 1, 2, 3


def accuracy_of(variant: str, shift: int) -> np.ndarray:
    return BASE[variant] + SCALE[variant] * offset(shift)


def make_run(variant: str, shift: int, slot: int = 0, n_tasks: int = T) -> RunResult:
    acc = accuracy_of(variant, shift)[:n_tasks, :n_tasks]
    tasks = {name: np.full(n_tasks, 1.0) for name in TASK_FIELDS}
    tasks["single_task_accuracy"] = SINGLE[:n_tasks].copy()
    tasks["train_time_s"] = np.array([10.0, 20.0, 30.0])[:n_tasks] + shift
    tasks["single_task_inference_time_s"] = np.array([1.0, 2.0, 3.0])[:n_tasks] * shift
    tasks["multitask_inference_time_s"] = np.array([1.0, 1.5, 2.5])[:n_tasks] + 0.1 * shift
    return RunResult(variant=variant, dataset="synthetic", shift=shift, slot=slot, accuracy=acc, tasks=tasks)


def write_results(root: Path, runs: dict[str, tuple[int, ...]]) -> Path:
    for variant, shifts in runs.items():
        for shift in shifts:
            write_run(root, make_run(variant, shift))
    return root


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return write_results(tmp_path / "results", {"supcon": SHIFTS, "ce": SHIFTS})


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------- independent expected values


def expected_metrics(acc: np.ndarray, single: np.ndarray) -> dict[str, np.ndarray]:
    """FTE, BTE, TE by loops over the definitions (errors e = 1 - accuracy)."""
    n = len(single)
    fte = np.array([(1 - single[t]) / (1 - acc[t, t]) for t in range(n)])
    bte = np.full((n, n), NAN)
    te = np.full((n, n), NAN)
    for j in range(n):
        for t in range(j + 1):
            bte[j, t] = (1 - acc[t, t]) / (1 - acc[j, t])
            te[j, t] = (1 - single[t]) / (1 - acc[j, t])
    mean_acc = np.array([np.mean([acc[j, t] for t in range(j + 1)]) for j in range(n)])
    return {"fte": fte, "bte": bte, "te": te, "accuracy": acc, "mean_accuracy": mean_acc}


def per_run(variant: str, shifts=SHIFTS) -> list[dict[str, np.ndarray]]:
    return [expected_metrics(accuracy_of(variant, s), SINGLE) for s in shifts]


def seen_mean(matrix: np.ndarray) -> np.ndarray:
    return np.array([np.mean(matrix[j, : j + 1]) for j in range(matrix.shape[0])])


# ---------------------------------------------------------------- reading the figure back


def lines(ax, gid: str):
    return [line for line in ax.get_lines() if line.get_gid() == gid]


def xy(line) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


def reference_levels(ax) -> list[float]:
    levels = []
    for line in lines(ax, "reference"):
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.all(y == y[0]), "a reference line is horizontal"
        levels.append(float(y[0]))
    return levels


def band_limits(ax, index: int) -> dict[float, tuple[float, float]]:
    """{x: (low, high)} of the ``index``-th shaded interval of ``ax``."""
    bands = [c for c in ax.collections if c.get_gid() == "data-interval"]
    vertices = bands[index].get_paths()[0].vertices
    limits = {}
    for x in np.unique(vertices[:, 0]):
        ys = vertices[np.isclose(vertices[:, 0], x), 1]
        limits[float(x)] = (float(ys.min()), float(ys.max()))
    return limits


def by_title(fig) -> dict[str, object]:
    return {ax.get_title(): ax for ax in fig.axes}


# ---------------------------------------------------------------- plot_variant


@pytest.mark.slow
def test_plot_variant_lines_equal_expected_metrics(results):
    fig = plot_variant(results, "supcon")
    axes = by_title(fig)
    assert set(axes) == {
        "Forward transfer efficiency",
        "Backward transfer efficiency",
        "Transfer efficiency",
        "Accuracy",
    }
    runs = per_run("supcon")

    (fte_line,) = lines(axes["Forward transfer efficiency"], "data")
    x, y = xy(fte_line)
    np.testing.assert_array_equal(x, [1, 2, 3])
    np.testing.assert_allclose(y, np.mean([r["fte"] for r in runs], axis=0))

    for title, key in (
        ("Backward transfer efficiency", "bte"),
        ("Transfer efficiency", "te"),
        ("Accuracy", "accuracy"),
    ):
        data = lines(axes[title], "data")
        assert [line.get_label() for line in data] == ["task 1", "task 2", "task 3"]
        for t, line in enumerate(data):
            x, y = xy(line)
            # task t (0-based) is seen from n_tasks_seen = t + 1 to T
            np.testing.assert_array_equal(x, np.arange(t + 1, T + 1))
            expected = np.mean([[r[key][j, t] for j in range(t, T)] for r in runs], axis=0)
            np.testing.assert_allclose(y, expected, err_msg=f"{title}, task {t + 1}")

    # hand-checked values: supcon shift 2 has no offset, so e.g. BTE of task 1 after 3 tasks
    # is the mean over shifts of (1 - 0.5 - d) / (1 - 0.7 - d).
    bte_task1 = lines(axes["Backward transfer efficiency"], "data")[0]
    hand = np.mean([(0.5 - offset(s)) / (0.3 - offset(s)) for s in SHIFTS])
    assert xy(bte_task1)[1][-1] == pytest.approx(hand)

    # the accuracy panel also has the mean accuracy over the tasks seen
    (mean_line,) = lines(axes["Accuracy"], "mean")
    x, y = xy(mean_line)
    np.testing.assert_array_equal(x, [1, 2, 3])
    np.testing.assert_allclose(y, seen_mean(BASE["supcon"]))  # offsets cancel over shifts 1..3


@pytest.mark.slow
def test_plot_variant_reference_lines_at_one_on_efficiency_panels_only(results):
    axes = by_title(plot_variant(results, "supcon"))
    for title in ("Forward transfer efficiency", "Backward transfer efficiency", "Transfer efficiency"):
        assert reference_levels(axes[title]) == [1.0]
        assert lines(axes[title], "reference")[0].get_linestyle() == "--"
    assert reference_levels(axes["Accuracy"]) == []


@pytest.mark.slow
def test_plot_variant_intervals_across_shifts(results):
    axes = by_title(plot_variant(results, "supcon"))
    # accuracy of task 1 varies by -0.01, 0, +0.01 over the shifts: sd 0.01 with 3 runs
    half = T_95_2DF * 0.01 / np.sqrt(3)
    limits = band_limits(axes["Accuracy"], 0)
    for x, base in zip((1.0, 2.0, 3.0), BASE["supcon"][:, 0]):
        assert limits[x] == pytest.approx((base - half, base + half))


@pytest.mark.slow
def test_plot_variant_single_run_has_no_interval(tmp_path):
    root = write_results(tmp_path, {"supcon": (5,)})
    axes = by_title(plot_variant(root, "supcon"))
    (line,) = lines(axes["Forward transfer efficiency"], "data")
    np.testing.assert_allclose(xy(line)[1], expected_metrics(accuracy_of("supcon", 5), SINGLE)["fte"])
    assert not [c for c in axes["Accuracy"].collections if c.get_gid() == "data-interval"]


def perfect_run(variant: str, shift: int, n_test: int = 58) -> RunResult:
    """A run whose task 1 is learned perfectly (zero error) in both variants, recording n_test."""
    run = make_run(variant, shift)
    run.accuracy[:, 0] = np.where(np.isnan(run.accuracy[:, 0]), NAN, 1.0)
    run.tasks["single_task_accuracy"][1] = 1.0
    run.config = {"n_test_per_task": n_test}
    return run


@pytest.mark.slow
def test_zero_error_task_fills_every_panel_with_smoothed_values(tmp_path):
    for variant in ("supcon", "ce"):
        for shift in SHIFTS:
            write_run(tmp_path, perfect_run(variant, shift))
    axes = by_title(plot_variant(tmp_path, "supcon"))
    for title, ax in axes.items():
        data = lines(ax, "data")
        assert data, title
        for line in data:
            x, y = xy(line)
            # every point of every line is drawn: nothing infinite or NaN was dropped
            assert len(x) == len(y) > 0 and np.isfinite(y).all(), title
        assert sum(len(xy(line)[0]) for line in data) == (3 if title.startswith("Forward") else 6), title
    # FTE of task 1: single-task accuracy 0.5 - d, then no mistake in 58 (smoothed 1 / 60)
    (fte_line,) = lines(axes["Forward transfer efficiency"], "data")
    hand = np.mean([(58 * (0.5 + offset(s)) + 1) / 60 / (1 / 60) for s in SHIFTS])
    assert xy(fte_line)[1][0] == pytest.approx(hand)

    fig, summary = compare_variants(tmp_path, "supcon", "ce")
    for ax in fig.axes:
        (line,) = lines(ax, "data")
        assert np.isfinite(xy(line)[1]).all() and len(xy(line)[1]) == T, ax.get_title()
    assert np.isfinite(summary[["mean_difference", "ci_low", "ci_high"]].to_numpy()).all()


@pytest.mark.slow
def test_plot_timing_lines_are_mean_times(results):
    axes = by_title(plot_timing(results, "supcon"))
    expected = {
        "train time": [12.0, 22.0, 32.0],
        "single-task inference time": [2.0, 4.0, 6.0],
        "multitask inference time": [1.2, 1.7, 2.7],
    }
    assert set(axes) == set(expected)
    for title, values in expected.items():
        (line,) = lines(axes[title], "data")
        x, y = xy(line)
        np.testing.assert_array_equal(x, [1, 2, 3])
        np.testing.assert_allclose(y, values)
        assert axes[title].get_ylabel() == "seconds"


# ---------------------------------------------------------------- compare_variants


def expected_differences(shifts=SHIFTS) -> dict[str, np.ndarray]:
    """Mean over paired runs of the plotted curves' differences supcon - ce."""
    a, b = per_run("supcon", shifts), per_run("ce", shifts)
    curves = {
        "fte": lambda m: m["fte"],
        "bte": lambda m: seen_mean(m["bte"]),
        "te": lambda m: seen_mean(m["te"]),
        "accuracy": lambda m: m["mean_accuracy"],
    }
    return {k: np.mean([f(ra) - f(rb) for ra, rb in zip(a, b)], axis=0) for k, f in curves.items()}


COMPARE_TITLES = {
    "fte": "FTE per task",
    "bte": "BTE, mean over tasks seen",
    "te": "TE, mean over tasks seen",
    "accuracy": "Accuracy, mean over tasks seen",
}


@pytest.mark.slow
def test_compare_lines_equal_expected_differences(results):
    fig, _ = compare_variants(results, "supcon", "ce")
    axes = by_title(fig)
    assert set(axes) == set(COMPARE_TITLES.values())
    expected = expected_differences()
    for metric, title in COMPARE_TITLES.items():
        (line,) = lines(axes[title], "data")
        x, y = xy(line)
        np.testing.assert_array_equal(x, [1, 2, 3])
        np.testing.assert_allclose(y, expected[metric], err_msg=metric)
        assert line.get_label() == "supcon \u2212 ce"
    # by hand: mean accuracy over seen tasks, supcon - ce, offsets cancel over shifts 1..3
    y = xy(lines(axes["Accuracy, mean over tasks seen"], "data")[0])[1]
    np.testing.assert_allclose(y, [0.0, (1.2 - 1.05) / 2, (2.15 - 1.6) / 3])
    # BTE after one task is 1 for both variants
    assert xy(lines(axes["BTE, mean over tasks seen"], "data")[0])[1][0] == pytest.approx(0.0)


@pytest.mark.slow
def test_compare_reference_at_zero_not_one_and_signed_labels(results):
    fig, _ = compare_variants(results, "supcon", "ce")
    for ax in fig.axes:
        assert reference_levels(ax) == [0.0]
        assert 1.0 not in reference_levels(ax)
        assert "(supcon \u2212 ce)" in ax.get_ylabel()
    assert by_title(fig)["FTE per task"].get_ylabel() == "\u0394 FTE (supcon \u2212 ce)"
    title = fig.get_suptitle()
    assert "supcon \u2212 ce" in title and "positive: supcon better" in title


@pytest.mark.slow
def test_compare_interval_is_paired(results):
    fig, _ = compare_variants(results, "supcon", "ce")
    # paired accuracy differences vary by -d(shift) (supcon +d, ce +2d): sd 0.01 over 3 pairs.
    # Unpaired, the spread would include the run-to-run variation of both variants.
    half = T_95_2DF * 0.01 / np.sqrt(3)
    limits = band_limits(by_title(fig)["Accuracy, mean over tasks seen"], 0)
    for x, mean in zip((1.0, 2.0, 3.0), [0.0, 0.075, 0.55 / 3]):
        assert limits[x] == pytest.approx((mean - half, mean + half))


def expected_summary(shifts=SHIFTS) -> dict[str, dict[str, float]]:
    a, b = per_run("supcon", shifts), per_run("ce", shifts)
    finals = {
        "accuracy": lambda m: m["accuracy"][-1],
        "fte": lambda m: m["fte"],
        "bte": lambda m: m["bte"][-1],
        "te": lambda m: m["te"][-1],
    }
    out = {}
    for metric, f in finals.items():
        diff = np.array([f(ra) - f(rb) for ra, rb in zip(a, b)])  # (runs, tasks)
        per_task = diff.mean(axis=0)
        per_run_mean = diff.mean(axis=1)
        half = stats.t.ppf(0.975, len(shifts) - 1) * per_run_mean.std(ddof=1) / np.sqrt(len(shifts))
        out[metric] = {
            "mean_difference": per_task.mean(),
            "ci_low": per_run_mean.mean() - half,
            "ci_high": per_run_mean.mean() + half,
            "n_tasks_a_better": int((per_task > 0).sum()),
        }
    return out


@pytest.mark.slow
def test_summary_table(results):
    _, summary = compare_variants(results, "supcon", "ce")
    assert list(summary.columns) == [
        "metric",
        "mean_difference",
        "ci_low",
        "ci_high",
        "n_tasks_a_better",
        "n_tasks",
        "n_runs",
        "n_shifts",
        "interval_over",
    ]
    assert list(summary["metric"]) == ["accuracy", "fte", "bte", "te"]
    expected = expected_summary()
    for _, row in summary.iterrows():
        exp = expected[row["metric"]]
        for column in ("mean_difference", "ci_low", "ci_high"):
            assert row[column] == pytest.approx(exp[column]), (row["metric"], column)
        assert row["n_tasks_a_better"] == exp["n_tasks_a_better"]
        # the last task's final BTE is 1 in both variants: it is not a task either can be better on
        assert row["n_tasks"] == (2 if row["metric"] == "bte" else 3)
        assert row["n_runs"] == 3 and row["n_shifts"] == 3
        assert row["interval_over"] == "shifts"
    # by hand: final accuracies supcon [0.70, 0.65, 0.80] vs ce [0.45, 0.55, 0.60]
    accuracy = summary.set_index("metric").loc["accuracy"]
    assert accuracy["mean_difference"] == pytest.approx((0.25 + 0.10 + 0.20) / 3)
    assert accuracy["n_tasks_a_better"] == 3
    # FTE of task 1 has the same base accuracy in both (only the offsets differ, slightly
    # in favour of ce): supcon better on 2 tasks only
    fte = summary.set_index("metric").loc["fte"]
    assert fte["n_tasks_a_better"] == 2


@pytest.mark.slow
def test_summary_of_a_single_pair_has_an_interval_over_tasks(tmp_path):
    root = write_results(tmp_path, {"supcon": (2,), "ce": (2,)})
    _, summary = compare_variants(root, "supcon", "ce")
    accuracy = summary.set_index("metric").loc["accuracy"]
    # shift 2 has no offset: final accuracy differences [0.25, 0.10, 0.20] over the 3 tasks
    d = np.array([0.25, 0.10, 0.20])
    half = T_95_2DF * d.std(ddof=1) / np.sqrt(3)
    assert accuracy["interval_over"] == "tasks" and accuracy["n_runs"] == 1
    assert (accuracy["ci_low"], accuracy["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))


@pytest.mark.slow
def test_mismatched_shifts_pair_only_common_runs(tmp_path, capsys):
    root = write_results(tmp_path, {"supcon": (1, 2, 3), "ce": (1, 2, 4)})
    message = (
        "pairing only the 2 common (shift, slot) runs: supcon has (1, 0), (2, 0), (3, 0); ce has (1, 0), (2, 0), (4, 0)"
    )
    with pytest.warns(PairingWarning) as record:
        fig, summary = compare_variants(root, "supcon", "ce")
    assert len(record) == 1
    assert str(record[0].message).startswith(message)
    assert "left out: supcon (3, 0), ce (4, 0)" in str(record[0].message)
    assert message in capsys.readouterr().err

    expected = expected_differences(shifts=(1, 2))
    axes = by_title(fig)
    for metric, title in COMPARE_TITLES.items():
        np.testing.assert_allclose(xy(lines(axes[title], "data")[0])[1], expected[metric])
    assert set(summary["n_runs"]) == {2}
    summary_expected = expected_summary(shifts=(1, 2))
    for _, row in summary.iterrows():
        assert row["mean_difference"] == pytest.approx(summary_expected[row["metric"]]["mean_difference"])


def test_no_common_runs_is_an_error(tmp_path):
    root = write_results(tmp_path, {"supcon": (1, 2), "ce": (7,)})
    with pytest.raises(ValueError, match=r"no \(shift, slot\) run in common"):
        compare_variants(root, "supcon", "ce")


def test_different_task_counts_is_an_error(tmp_path):
    root = write_results(tmp_path, {"supcon": SHIFTS})
    for shift in SHIFTS:
        write_run(root, make_run("ce", shift, n_tasks=2))
    with pytest.raises(ValueError, match=r"different numbers of tasks \(supcon: 3, ce: 2\)"):
        compare_variants(root, "supcon", "ce")


def test_missing_directory_and_variant(tmp_path, results):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_variant(tmp_path / "nowhere", "supcon")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        compare_variants(tmp_path / "nowhere", "supcon", "ce")
    with pytest.raises(ValueError, match="no results for variant 'mse'"):
        plot_variant(results, "mse")
    with pytest.raises(ValueError, match="no results for variant 'mse'"):
        compare_variants(results, "supcon", "mse")


# ---------------------------------------------------------------- command line


@pytest.mark.slow
def test_plot_variant_cli_writes_pdf_and_png(results, tmp_path, capsys):
    out = tmp_path / "figs" / "fig.pdf"
    assert variant_main(["--results", str(results), "--variant", "supcon", "--out", str(out), "--png"]) == 0
    for name in ("fig.pdf", "fig.png", "fig_timing.pdf", "fig_timing.png"):
        path = out.parent / name
        assert path.is_file() and path.stat().st_size > 1000, name
    assert (out.parent / "fig.pdf").read_bytes().startswith(b"%PDF")
    assert (out.parent / "fig.png").read_bytes().startswith(b"\x89PNG")
    assert "wrote" in capsys.readouterr().out


@pytest.mark.slow
def test_compare_cli_writes_figure_and_summary_csv(results, tmp_path, capsys):
    out = tmp_path / "diff.png"
    assert compare_main(["--results", str(results), "--a", "supcon", "--b", "ce", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    csv = pd.read_csv(tmp_path / "diff_summary.csv")
    expected = expected_summary()
    assert list(csv["metric"]) == ["accuracy", "fte", "bte", "te"]
    np.testing.assert_allclose(csv["mean_difference"], [expected[m]["mean_difference"] for m in csv["metric"]])
    printed = capsys.readouterr().out
    assert "mean_difference" in printed and "positive: supcon better" in printed


@pytest.mark.slow
def test_compare_cli_mismatched_shifts_message(tmp_path, capsys):
    root = write_results(tmp_path / "results", {"supcon": (1, 2, 3), "ce": (1, 2)})
    out = tmp_path / "diff.pdf"
    assert compare_main(["--results", str(root), "--a", "supcon", "--b", "ce", "--out", str(out), "--png"]) == 0
    err = capsys.readouterr().err
    assert err.count("pairing only the 2 common (shift, slot) runs") == 1  # printed once, not twice
    assert out.is_file() and out.with_suffix(".png").is_file()
    assert pd.read_csv(tmp_path / "diff_summary.csv")["n_runs"].tolist() == [2, 2, 2, 2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--results", "{missing}", "--variant", "supcon"], "does not exist"),
        (["--results", "{results}", "--variant", "mse"], "no results for variant 'mse'"),
    ],
)
def test_plot_variant_cli_errors(args, message, results, tmp_path, capsys):
    args = [a.format(missing=tmp_path / "missing", results=results) for a in args]
    assert variant_main(args + ["--out", str(tmp_path / "fig.pdf")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("proglearn-supcon plot: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "fig.pdf").exists()


def test_compare_cli_errors(tmp_path, capsys):
    root = write_results(tmp_path / "results", {"supcon": (1,), "ce": (2,)})
    cases = [
        (["--results", str(tmp_path / "missing"), "--a", "supcon", "--b", "ce"], "does not exist"),
        (["--results", str(root), "--a", "supcon", "--b", "mse"], "no results for variant 'mse'"),
        (["--results", str(root), "--a", "supcon", "--b", "ce"], "no (shift, slot) run in common"),
        (["--results", str(root), "--a", "supcon", "--b", "ce", "--out", "x.jpg"], "unsupported file type"),
    ]
    for args, message in cases:
        if "--out" not in args:
            args = args + ["--out", str(tmp_path / "diff.pdf")]
        assert compare_main(args) == 2, message
        err = capsys.readouterr().err
        assert err.startswith("proglearn-supcon compare: error: ") and message in err
        assert err.count("\n") == 1
    assert not (tmp_path / "diff.pdf").exists()


def test_help_documents_the_options(capsys):
    for main, options in (
        (variant_main, ("--results", "--variant", "--out", "--png")),
        (compare_main, ("--results", "--a", "--b", "--out", "--png")),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        for option in options:
            assert option in text


@pytest.mark.slow
@pytest.mark.parametrize("how", ["script", "module"])
def test_runs_as_script_and_as_module(how, results, tmp_path):
    target = ["plotting/compare_variants.py"] if how == "script" else ["-m", "plotting.compare_variants"]
    out = tmp_path / "diff.pdf"
    done = subprocess.run(
        [sys.executable, *target, "--results", str(results), "--a", "supcon", "--b", "ce", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert out.is_file() and (tmp_path / "diff_summary.csv").is_file()
