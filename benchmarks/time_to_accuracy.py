"""Time to accuracy: final accuracy against wall seconds of whole 10x10 runs, recipe by recipe.

    python -m benchmarks.time_to_accuracy --data-dir ../shared/data --out tta
    python -m benchmarks.time_to_accuracy --data-dir ../shared/data --out tta \
        --recipes early-stopping whitened whitened-40 --rotation-angle 90 --plot tta.png

Trains the held-out CIFAR-100 10x10 sequence (shift 6; slots 1-3 unless
``--slots`` says otherwise) under each recipe of :data:`CANDIDATES` and each
variant, one run at a time with every core, taking turns slot by slot and
variant by variant so that all recipes meet the same machine. Each run's
results file goes to ``<out>/<recipe>/<variant>/shift6_slot<n>.json``
(written whole or not at all): a rerun with the same ``--out`` skips the
finished runs, and times only the ones it runs; the table reads every file.

The table gives, per recipe and variant: mean wall seconds per run and the
ratio to the first recipe's, mean epochs per task, mean final accuracy and
its difference from the first recipe's (paired by slot), and how many
transformers the failure checks flagged. ``--plot FILE`` draws the curve:
mean final accuracy against mean wall seconds per run, one line per variant
through the fixed budgets, one marker per recipe. Timings live here, never
in the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from proglearn_supcon.experiments.arguments import build_parser as run_parser
from proglearn_supcon.experiments.rotation import RotationUnit, run_rotation
from proglearn_supcon.experiments.run_record import RunSpec
from proglearn_supcon.experiments.sequence import run_one
from proglearn_supcon.runs.bte_curves import bte_curves
from proglearn_supcon.runs.results import read_run, run_path, write_run
from proglearn_supcon.training.recipes import RECIPES

from .machine import machine_facts, print_facts

#: The recipe the others are measured against: the defaults before issue 32.
BASELINE = "early-stopping"
#: The named recipes, the baseline first: what the benchmark runs by default.
NAMED = [BASELINE, *(name for name in RECIPES if name != BASELINE)]
#: Recipe name -> network parameters (on top of the library's defaults): the
#: named recipes, other budgets of the fixed-budget and whitened recipes
#: (points on their curves), and label smoothing, a probe for ce alone
#: (issue 32 keeps it out of the other losses' recipes).
CANDIDATES: dict[str, dict[str, object]] = {
    **{name: dict(RECIPES[name]) for name in NAMED},
    **{f"fixed-{epochs}": {**RECIPES["fixed-budget"], "epochs": epochs} for epochs in (40, 50)},
    "whitened-40": {**RECIPES["whitened"], "epochs": 40},
    "fixed-40-ls": {**RECIPES["fixed-budget"], "epochs": 40, "label_smoothing": 0.1},
}

SHIFT = 6  # held out: recipes are chosen here, never on shifts 1-5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.time_to_accuracy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("PROGLEARN_SUPCON_DATA"), help="CIFAR-100 folder")
    parser.add_argument("--out", required=True, help="folder of the results files (reruns resume from it)")
    parser.add_argument(
        "--recipes",
        nargs="+",
        default=NAMED,
        choices=list(CANDIDATES),
        help=f"the first is the baseline of the ratios and differences (default: every named recipe, {BASELINE} first)",
    )
    parser.add_argument("--variants", nargs="+", default=["supcon", "ce"])
    parser.add_argument("--slots", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--plot", help="write the time-to-accuracy figure here (png or pdf)")
    parser.add_argument(
        "--rotation-angle",
        type=int,
        default=None,
        help="also time one rotation angle-run (repetition 1, this angle) per recipe and variant",
    )
    return parser


def run_argv(data_dir: str | None, variant: str, params: dict[str, object], *, slot: int | None = None) -> list[str]:
    """The ``proglearn-supcon run`` options of one run of a recipe: 10x10 shift 6 at ``slot``, else rotation."""
    argv = ["--dataset", "cifar100", "--variant", variant, "--quiet"]
    argv += ["--protocol", "rotation"] if slot is None else ["--shifts", str(SHIFT), "--slots", str(slot)]
    if data_dir:
        argv += ["--data-dir", data_dir]
    for name, value in params.items():
        argv += ["--param", f"{name}={value}"]
    return argv


def run_missing(args: argparse.Namespace) -> None:
    """Run, in turns, every (slot, variant, recipe) whose results file is not there yet."""
    for slot in args.slots:
        for variant in args.variants:
            for recipe in args.recipes:
                folder = Path(args.out) / recipe
                if run_path(folder, variant, SHIFT, slot).exists():
                    continue
                run_args = run_parser().parse_args(run_argv(args.data_dir, variant, CANDIDATES[recipe], slot=slot))
                start = time.perf_counter()
                result = run_one(RunSpec(variant, SHIFT, slot), run_args, threads=os.cpu_count())
                result.config["benchmark_wall_s"] = time.perf_counter() - start
                write_run(folder, result)
                print(f"  {recipe} {variant} slot {slot}: {result.config['benchmark_wall_s']:.0f} s", flush=True)


def rotation_rows(args: argparse.Namespace) -> list[dict[str, object]]:
    """Seconds of one rotation angle-run (task 2's transformer and its voter, then the evaluation) per recipe.

    The rotation command's own unit with one angle; its result's start and
    finish times leave out task 1's transformer, which a sweep trains once
    for all 13 angles of a repetition.
    """
    rows = []
    for variant in args.variants:
        for recipe in args.recipes:
            run_args = run_parser().parse_args(run_argv(args.data_dir, variant, CANDIDATES[recipe]))
            result = run_rotation(RotationUnit(variant, 1, (args.rotation_angle,)), run_args, threads=os.cpu_count())[0]
            rows.append(
                dict(
                    recipe=recipe,
                    variant=variant,
                    seconds=result.config["finished_at"] - result.config["started_at"],
                    bte=float(bte_curves([result]).bte[0, 0]),
                )
            )
            print(f"  rotation {recipe} {variant}: {rows[-1]['seconds']:.0f} s", flush=True)
    return rows


def report_rotation(rows: list[dict[str, object]], angle: int) -> None:
    print(f"\nrotation angle-run ({angle} degrees, repetition 1): task 2's transformer, its voter, the evaluation")
    print(f"  {'recipe':<18}{'variant':<8}{'seconds':>9}{'BTE':>8}")
    for row in rows:
        print(f"  {row['recipe']:<18}{row['variant']:<8}{row['seconds']:>9.1f}{row['bte']:>8.3f}")


def wall_seconds(run) -> float:
    """The run's wall seconds as this benchmark timed them, else from its start and finish times."""
    config = run.config
    if "benchmark_wall_s" in config:
        return float(config["benchmark_wall_s"])
    return float(config["finished_at"] - config["started_at"])


def summarise(args: argparse.Namespace) -> list[dict[str, object]]:
    """One row per (recipe, variant) from the results files."""
    rows = []
    for variant in args.variants:
        base: dict[int, float] = {}
        for recipe in args.recipes:
            runs = {
                slot: read_run(path)
                for slot in args.slots
                if (path := run_path(Path(args.out) / recipe, variant, SHIFT, slot)).exists()
            }
            if not runs:
                continue
            final = {slot: float(np.nanmean(run.accuracy[-1])) for slot, run in runs.items()}
            if not base:
                base = final
            paired = [final[s] - base[s] for s in final if s in base]
            rows.append(
                dict(
                    recipe=recipe,
                    variant=variant,
                    runs=len(runs),
                    wall=float(np.mean([wall_seconds(run) for run in runs.values()])),
                    epochs=float(np.mean([np.mean(run.tasks["n_epochs_run"]) for run in runs.values()])),
                    final=float(np.mean(list(final.values()))),
                    diff=float(np.mean(paired)) if paired else float("nan"),
                    flagged=sum(len(run.flagged_transformers or []) for run in runs.values()),
                )
            )
    return rows


def report(rows: list[dict[str, object]]) -> None:
    print(f"\ntime to accuracy: CIFAR-100 10x10, shift {SHIFT} (held out), one run at a time on every core")
    header = f"  {'recipe':<18}{'variant':<8}{'runs':>5}{'wall s':>8}{'x first':>8}{'epochs':>8}{'final':>8}{'diff':>8}"
    print(header + f"{'flagged':>9}")
    first_wall: dict[str, float] = {}
    for row in rows:
        first_wall.setdefault(row["variant"], row["wall"])
        print(
            f"  {row['recipe']:<18}{row['variant']:<8}{row['runs']:>5}{row['wall']:>8.0f}"
            f"{row['wall'] / first_wall[row['variant']]:>8.2f}{row['epochs']:>8.1f}{row['final']:>8.4f}"
            f"{row['diff']:>+8.4f}{row['flagged']:>9}"
        )
    print("  (diff: mean final accuracy minus the first recipe's, paired by slot)")


def plot(rows: list[dict[str, object]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for variant in dict.fromkeys(row["variant"] for row in rows):
        mine = sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["wall"])
        line = ax.plot([r["wall"] for r in mine], [r["final"] for r in mine], "o-", label=variant)[0]
        for r in mine:
            ax.annotate(
                r["recipe"],
                (r["wall"], r["final"]),
                fontsize=7,
                color=line.get_color(),
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xlabel("wall seconds per 10-task run")
    ax.set_ylabel("mean final accuracy")
    ax.set_title(f"Time to accuracy, CIFAR-100 10x10 shift {SHIFT}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    print("machine:")
    print_facts(machine_facts(torch.device("cpu")))
    run_missing(args)
    rows = summarise(args)
    report(rows)
    if args.plot:
        plot(rows, args.plot)
    if args.rotation_angle is not None:
        report_rotation(rotation_rows(args), args.rotation_angle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
