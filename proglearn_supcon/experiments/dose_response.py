"""Dose-response on the held-out shift: does a wider embedding transfer better, for both losses?

The CIFAR-100 study found SupCon's embedding narrower (a lower effective
rank) and its voters worse on other tasks than CE's. If the width is what
matters, turning one knob per loss that widens or narrows the embedding
should move cross-task voter accuracy with the effective rank, along one
relation for both losses; if the loss itself matters, the two losses lie on
different lines. The knobs:

* SupCon: the temperature (``--temperatures``, default 0.05 0.1 0.2 0.5 1.0);
* CE: label smoothing (``--label-smoothings``, default 0 0.05 0.1 0.2 0.4).

Every setting runs the first ``--n-tasks`` tasks of the held-out shift 6
(never reported; the recipe search's, :mod:`.recipe_search`) on ``--slots``
through the experiment with ``--diagnostics``, the rest of the recipe being
the library defaults, into ``<out>/<setting>/<variant>/shift6_slot<k>.json``;
a rerun skips the finished runs. Another shift is refused unless
``--allow-reported-shift`` is given.

Each run then gives one row of ``<out>/dose_response.csv`` (:func:`run_row`):
the effective rank of the own-task and the other-task embeddings and their
ceilings, in the view ``--space`` / ``--split`` (default: the encoder output
on the test data, the space of the voters); from the transfer matrix the
own-task accuracy (diagonal) and the forward (``i < j``), backward
(``i > j``) and cross-task (``i != j``) voter accuracy; the network's mean
FTE, mean BTE after the last task and final accuracy.
``<out>/dose_response_fit.csv`` (:func:`fit_relation`) and the figure
``<out>/dose_response.png`` (:mod:`proglearn_supcon.plotting.plot_dose_response`)
relate cross-task accuracy to the other-task effective rank. The slots of one
shift share its test images, so the fit's interval is a spread over training
samples of one shift, not over independent data.

    proglearn-supcon dose-response --data-dir ../shared/data --n-jobs 2
    proglearn-supcon dose-response --no-run    # the table, fit and figure of the runs so far
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from proglearn_supcon.datasets import DATASETS
from proglearn_supcon.experiments import cifar_task_sequence as experiment
from proglearn_supcon.experiments.arguments import parse_int_list
from proglearn_supcon.experiments.recipe_search import HELD_OUT_SHIFT, experiment_argv
from proglearn_supcon.metrics.intervals import mean_and_interval
from proglearn_supcon.metrics.transfer import transfer_metrics
from proglearn_supcon.network import LifelongClassificationNetwork
from proglearn_supcon.runs.analysis import nanmean_quiet, own_and_other, triangle_means
from proglearn_supcon.runs.errors import command_error
from proglearn_supcon.runs.results import list_variants, load_runs
from proglearn_supcon.runs.schema import GEOMETRY_SPACES, GEOMETRY_SPLITS, RunResult

__all__ = [
    "DEFAULT_VALUES",
    "KNOBS",
    "Setting",
    "build_parser",
    "dose_table",
    "fit_relation",
    "main",
    "run_row",
    "settings_of",
]

#: This command's name in :data:`proglearn_supcon.cli.COMMANDS` and in its error lines.
COMMAND = "dose-response"
#: The knob (network parameter) turned for each loss.
KNOBS = {"supcon": "temperature", "ce": "label_smoothing"}
#: Its values when the command line does not give them.
DEFAULT_VALUES = {"supcon": (0.05, 0.1, 0.2, 0.5, 1.0), "ce": (0.0, 0.05, 0.1, 0.2, 0.4)}
#: The relation fitted and drawn: cross-task voter accuracy against the other-task effective rank.
X_COLUMN, Y_COLUMN = "effective_rank_other", "cross_accuracy"
#: Columns of the per-run table, in order.
TABLE_COLUMNS = (
    "setting",
    "variant",
    "knob",
    "value",
    "shift",
    "slot",
    "n_tasks",
    "space",
    "split",
    "effective_rank_own",
    "effective_rank_other",
    "effective_rank_ceiling_own",
    "effective_rank_ceiling_other",
    "own_accuracy",
    "forward_accuracy",
    "backward_accuracy",
    "cross_accuracy",
    "fte",
    "bte",
    "final_accuracy",
)
#: Columns of the fit table, in order.
FIT_COLUMNS = ("model", "term", "estimate", "ci_low", "ci_high", "n_clusters", "n_points", "x", "y")


@dataclass(frozen=True)
class Setting:
    """One point of the dose: a loss with one value of its knob."""

    variant: str
    knob: str
    value: float

    @property
    def name(self) -> str:
        """The setting's results folder, e.g. ``"supcon_temperature_0.05"``."""
        return f"{self.variant}_{self.knob}_{self.value:g}"


def settings_of(args: argparse.Namespace) -> list[Setting]:
    """The settings of ``args``: each chosen variant with each value of its knob."""
    values = {"supcon": args.temperatures, "ce": args.label_smoothings}
    return [Setting(v, KNOBS[v], float(value)) for v in args.variant for value in values[v]]


def check_settings(settings: list[Setting]) -> str | None:
    """The first setting the network refuses, as a one-line message; None when all are valid.

    Checked before any run starts, so a bad value does not stop the sweep halfway.
    """
    for setting in settings:
        try:
            LifelongClassificationNetwork(loss=setting.variant, **{setting.knob: setting.value})._check_params()
        except ValueError as exc:
            return f"setting {setting.name}: {exc}"
    return None


def run_setting(setting: Setting, args: argparse.Namespace) -> int:
    """Run (or resume) one setting's runs through the experiment; its exit status."""
    params = {setting.knob: setting.value}
    if args.epochs is not None:
        params["epochs"] = args.epochs
    argv = experiment_argv(
        [setting.variant],
        params,
        Path(args.out) / setting.name,
        args,
        dataset=args.dataset,
        shift=args.shift,
        extra=["--diagnostics", "--device", args.device],
    )
    print(f"== {setting.name}", flush=True)
    return experiment.main(argv)


def run_row(setting: Setting, run: RunResult, view: tuple[str, str] = ("encoder", "test")) -> dict:
    """The row of one run of ``setting`` (see the module docstring).

    Raises
    ------
    ValueError
        If the run has no diagnostics, or none in ``view``.
    """
    where = f"{setting.name} shift {run.shift} slot {run.slot}"
    if run.diagnostics is None:
        raise ValueError(f"run {where} has no diagnostics; rerun it with --diagnostics")
    metrics = run.diagnostics.views.get(tuple(view))
    if metrics is None or "effective_rank" not in metrics:
        raise ValueError(
            f"run {where} has no effective rank in the view {view} (recorded: {list(run.diagnostics.views)})"
        )
    row = {
        "setting": setting.name,
        "variant": setting.variant,
        "knob": setting.knob,
        "value": setting.value,
        "shift": run.shift,
        "slot": run.slot,
        "n_tasks": run.n_tasks,
        "space": view[0],
        "split": view[1],
    }
    for name in ("effective_rank", "effective_rank_ceiling"):
        values = metrics.get(name, np.full((run.n_tasks, run.n_tasks), np.nan))
        own, other = own_and_other(values[None])
        row[f"{name}_own"], row[f"{name}_other"] = float(nanmean_quiet(own)), float(nanmean_quiet(other))
    matrix = run.diagnostics.transfer_matrix
    triangles = triangle_means(matrix[None])
    row["own_accuracy"] = float(triangles["diagonal"][0])
    row["forward_accuracy"] = float(triangles["forward"][0])
    row["backward_accuracy"] = float(triangles["backward"][0])
    row["cross_accuracy"] = float(nanmean_quiet(matrix[~np.eye(run.n_tasks, dtype=bool)]))
    transfer = transfer_metrics(run.accuracy, run.single_task_accuracy, n_test=run.n_test_per_task)
    row["fte"] = float(np.mean(transfer.fte))
    # BTE of every earlier task after the last one; none with a single task.
    row["bte"] = float(nanmean_quiet(transfer.bte[-1, :-1])) if run.n_tasks > 1 else float("nan")
    row["final_accuracy"] = transfer.final_accuracy
    return row


def dose_table(out: str | Path, settings: list[Setting], view: tuple[str, str] = ("encoder", "test")) -> pd.DataFrame:
    """One row per finished run of every setting (:func:`run_row`); settings without results are left out.

    Raises
    ------
    ValueError
        If a results file is corrupt, a setting's runs mix recipes, or a run lacks the diagnostics.
    """
    rows = []
    for setting in settings:
        folder = Path(out) / setting.name
        if setting.variant not in list_variants(folder):
            continue  # not run yet
        rows += [run_row(setting, run, view) for run in load_runs(folder, setting.variant)]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _cluster_coefficients(points: pd.DataFrame, x: str, y: str, offset_variant: str | None) -> np.ndarray | None:
    """Least-squares ``(intercept, slope[, offset])`` of one cluster's points; None if not identifiable."""
    columns = [np.ones(len(points)), points[x].to_numpy(float)]
    if offset_variant is not None:
        columns.append((points["variant"] == offset_variant).to_numpy(float))
    design = np.column_stack(columns)
    target = points[y].to_numpy(float)
    keep = np.isfinite(design).all(axis=1) & np.isfinite(target)
    design, target = design[keep], target[keep]
    if len(target) < design.shape[1] or np.linalg.matrix_rank(design) < design.shape[1]:
        return None  # e.g. one setting only, or one loss only in the pooled model
    return np.linalg.lstsq(design, target, rcond=None)[0]


def fit_relation(
    table: pd.DataFrame, x: str = X_COLUMN, y: str = Y_COLUMN, cluster: str = "slot", confidence: float = 0.95
) -> pd.DataFrame:
    """Straight-line fits of ``y`` on ``x``, per loss and pooled, with intervals clustered by run.

    Within each cluster (a held-out run: a slot, shared by every setting) a
    line is fitted by least squares over that cluster's settings, with an
    intercept of its own; the estimate is the mean of the clusters'
    coefficients and its interval the Student-t interval over clusters
    (:func:`~proglearn_supcon.metrics.intervals.mean_and_interval`), so settings
    measured on the same run are never counted as independent, and a
    difference between runs is not read as an effect of the knob.

    Models: one per variant (``y = a_run + slope x``), and ``"pooled"``
    with two variants (``y = a_run + slope x + offset [variant == first]``):
    a common slope, and the offset between the losses at equal ``x``,
    named ``offset_<first>_minus_<second>``. The per-run intercepts are not
    reported (they are nuisance terms).

    Returns
    -------
    DataFrame
        Columns :data:`FIT_COLUMNS`; NaN estimates where no cluster could be fitted.
    """
    variants = list(dict.fromkeys(table["variant"]))
    models = [(v, table[table["variant"] == v], None, ("slope",)) for v in variants]
    if len(variants) == 2:
        models.append(("pooled", table, variants[0], ("slope", f"offset_{variants[0]}_minus_{variants[1]}")))
    rows = []
    for model, points, offset_variant, terms in models:
        fitted = [_cluster_coefficients(group, x, y, offset_variant) for _, group in points.groupby(cluster)]
        fitted = [c[1:] for c in fitted if c is not None]  # the run's own intercept left out
        coefficients = np.array(fitted) if fitted else np.full((0, len(terms)), np.nan)
        for k, term in enumerate(terms):
            estimate, low, high = mean_and_interval(coefficients[:, k], confidence=confidence)
            rows.append(
                {
                    "model": model,
                    "term": term,
                    "estimate": float(estimate),
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "n_clusters": len(fitted),
                    "n_points": len(points),
                    "x": x,
                    "y": y,
                }
            )
    return pd.DataFrame(rows, columns=list(FIT_COLUMNS))


def _slots_arg(text: str) -> str:
    """``--slots`` as given, once it parses as numbers like ``1-3,5``."""
    try:
        parse_int_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like '1-3,5', got {text!r}") from exc
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proglearn-supcon dose-response",
        description=(
            "Held-out dose-response: run SupCon at several temperatures and CE at several label "
            "smoothings on the first tasks of shift 6 with --diagnostics (resumable), then tabulate "
            "effective rank, transfer-matrix accuracies, FTE and BTE per run, fit cross-task voter "
            "accuracy against effective rank with intervals clustered by run, and plot it."
        ),
        epilog=(
            "Writes <out>/<setting>/ (results), <out>/dose_response.csv, <out>/dose_response_fit.csv and "
            "<out>/dose_response.png. Exit status 0 on success, 2 on a usage error, a refused shift, an "
            "invalid setting or a failed run."
        ),
    )
    parser.add_argument("--out", default="results/dose_response", help="folder of the runs and outputs")
    parser.add_argument("--variant", nargs="+", choices=list(KNOBS), default=list(KNOBS), help="losses to run")
    parser.add_argument(
        "--temperatures", nargs="+", type=float, default=list(DEFAULT_VALUES["supcon"]), help="SupCon temperatures"
    )
    parser.add_argument(
        "--label-smoothings",
        nargs="+",
        type=float,
        default=list(DEFAULT_VALUES["ce"]),
        help="CE label smoothings, each in [0, 1)",
    )
    parser.add_argument("--n-tasks", type=int, default=4, help="first tasks of each run")
    parser.add_argument("--slots", type=_slots_arg, default="1-3", help="slots of the shift, e.g. '1-3'")
    parser.add_argument("--shift", type=int, default=HELD_OUT_SHIFT, help="the held-out shift")
    parser.add_argument(
        "--allow-reported-shift",
        action="store_true",
        help=f"run a shift other than the held-out {HELD_OUT_SHIFT}, whose test images the reported results use",
    )
    parser.add_argument("--dataset", choices=list(DATASETS), default="cifar100", help="task sequence")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per transformer (default: the library's)")
    parser.add_argument("--n-jobs", type=int, default=2, help="runs trained in parallel")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA when available), 'cpu', 'cuda', ...")
    parser.add_argument("--data-dir", default=None, help="folder with the CIFAR data")
    parser.add_argument("--seed", type=int, default=0, help="base seed, as for the experiment")
    parser.add_argument("--space", choices=GEOMETRY_SPACES, default="encoder", help="space of the effective rank")
    parser.add_argument("--split", choices=GEOMETRY_SPLITS, default="test", help="data of the effective rank")
    parser.add_argument("--confidence", type=float, default=0.95, help="coverage of the fit's intervals")
    parser.add_argument("--no-run", action="store_true", help="train nothing: table, fit and figure of the runs so far")
    return parser


def write_outputs(out: Path, table: pd.DataFrame, fit: pd.DataFrame) -> list[Path]:
    """The table, the fit and the figure under ``out``; returns the paths written."""
    from proglearn_supcon.plotting.figures import save_figure
    from proglearn_supcon.plotting.plot_dose_response import plot_dose_response

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "dose_response.csv", out / "dose_response_fit.csv"]
    table.to_csv(paths[0], index=False)
    fit.to_csv(paths[1], index=False)
    return [*paths, *save_figure(plot_dose_response(table, fit), out / "dose_response.png")]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.shift != HELD_OUT_SHIFT and not args.allow_reported_shift:
        return command_error(
            COMMAND,
            f"--shift {args.shift} is not the held-out shift {HELD_OUT_SHIFT}: choosing a knob on reported "
            "test images biases the results; pass --allow-reported-shift to run it anyway",
        )
    if not 0 < args.confidence < 1:
        return command_error(COMMAND, f"--confidence must be between 0 and 1, got {args.confidence}")
    settings = settings_of(args)
    problem = check_settings(settings)
    if problem:
        return command_error(COMMAND, problem)
    if not args.no_run:
        for setting in settings:
            code = run_setting(setting, args)
            if code:
                return code
    try:
        table = dose_table(args.out, settings, (args.space, args.split))
    except (FileNotFoundError, ValueError) as exc:
        return command_error(COMMAND, exc)
    if table.empty:
        print(f"no dose-response results in {args.out} yet")
        return 0
    fit = fit_relation(table, confidence=args.confidence)
    print(fit.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for path in write_outputs(Path(args.out), table, fit):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
