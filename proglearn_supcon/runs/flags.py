"""Transformers that look failed: found from what a results file records, and reported.

Model selection keeps the epoch whose embedding scored best on a small
validation split. A transformer whose kept epoch lies inside the learning-rate
warm-up, or whose validation accuracy is close to chance, most likely did not
learn its task, and a weak single-task learner inflates the forward transfer
of its task (FTE divides by its error). Such transformers are not dropped, since
that would change the protocol, but every one is named: in the results file
(``flagged_transformers``) and in the summaries.

A transformer is flagged when

* its kept epoch (0-based) is below the effective warm-up
  ``min(warmup_epochs, epochs - 1)``, or
* below the first epoch model selection may keep, ``min(min_epochs, epochs - 1)``
  (:func:`~proglearn_supcon.training.engine.first_candidate_epoch`; only files
  written before ``min_epochs`` existed can hold such an epoch, and they are
  judged with its default), or
* its validation kNN accuracy is below ``chance + NEAR_CHANCE * (1 - chance)``
  with ``chance = 1 / n_classes``: within a tenth of the way from guessing to
  a perfect score. A transformer trained without a validation split (the
  fixed-budget recipe) selects nothing, so its kept epoch is its last; its
  "validation accuracy" is then its own voter's leave-one-out kNN accuracy on
  the task's voter split, data the transformer never trained on.

:func:`flagged_lines` writes the flags of loaded runs as the lines the
summaries print.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from proglearn_supcon.runs.results import describe_run

__all__ = [
    "NEAR_CHANCE",
    "flag_transformers",
    "flagged_lines",
    "flagged_transformers",
    "n_classes_per_task",
    "run_flags",
]

#: Share of the way from chance to a perfect score under which a validation accuracy is "near chance".
NEAR_CHANCE = 0.1


def flag_transformers(
    best_epoch: np.ndarray,
    val_accuracy: np.ndarray,
    n_classes: int,
    warmup_epochs: int,
    epochs: int,
    min_epochs: int = 0,
    accuracy_name: str = "validation accuracy",
) -> list[dict]:
    """The transformers of one run that look failed, with the reasons.

    Parameters
    ----------
    best_epoch : ndarray of shape (T,), float
        Kept epoch (0-based) of each task's transformer; NaN where unknown.
    val_accuracy : ndarray of shape (T,), float
        Validation kNN accuracy of the kept epoch; NaN where nothing was validated.
    n_classes : int
        Classes per task (chance is ``1 / n_classes``).
    warmup_epochs, epochs, min_epochs : int
        The transformers' parameters of these names.
    accuracy_name : str, default="validation accuracy"
        What ``val_accuracy`` is, as the reasons name it.

    Returns
    -------
    list of dict
        One ``{"task": t, "reasons": [str, ...]}`` per flagged transformer, in task order.
    """
    warmup = min(int(warmup_epochs), int(epochs) - 1)
    first_candidate = min(int(min_epochs), int(epochs) - 1)
    chance = 1.0 / n_classes
    threshold = chance + NEAR_CHANCE * (1.0 - chance)
    flags = []
    for t, (epoch, accuracy) in enumerate(zip(np.asarray(best_epoch, float), np.asarray(val_accuracy, float))):
        reasons = []
        if np.isfinite(epoch) and epoch < warmup:
            reasons.append(f"kept epoch {int(epoch)} is inside the {warmup}-epoch warm-up")
        elif np.isfinite(epoch) and epoch < first_candidate:
            reasons.append(f"kept epoch {int(epoch)} is before epoch {first_candidate}, where model selection starts")
        if np.isfinite(accuracy) and accuracy < threshold:
            reasons.append(f"{accuracy_name} {accuracy:.3f} is near chance ({chance:.3f})")
        if reasons:
            flags.append({"task": t, "reasons": reasons})
    return flags


def run_flags(tasks: Mapping[str, np.ndarray], config: Mapping, n_classes: int | None) -> list[dict]:
    """:func:`flag_transformers` of a run from its per-task fields and config.

    ``config["network_params"]`` gives ``warmup_epochs``, ``epochs`` and
    ``min_epochs``; a file without them is judged with the transformer's
    defaults for the missing ones, and without ``n_classes`` on the epochs alone.
    """
    from proglearn_supcon.transformers import NeuralClassificationTransformer

    defaults = NeuralClassificationTransformer().get_params()
    params = {**defaults, **dict(config.get("network_params", {}))}
    return flag_transformers(
        tasks["best_epoch"],
        tasks["val_accuracy"] if n_classes else np.full(len(tasks["best_epoch"]), np.nan),
        n_classes or 2,
        params["warmup_epochs"],
        params["epochs"],
        params["min_epochs"],
        "validation accuracy" if params["validation_fraction"] > 0 else "own voter's leave-one-out accuracy",
    )


def n_classes_per_task(run) -> int | None:
    """Classes per task of a run: its config's ``n_classes_per_task`` or, in older files, the data set's default."""
    from proglearn_supcon.datasets import DATASETS

    config = run.config
    for key in ("n_classes_per_task", "classes_per_task"):
        if config.get(key):
            return int(config[key])
    default = DATASETS.get(run.dataset)
    return None if default is None else int(default[1])


def flagged_transformers(run) -> list[dict]:
    """The flagged transformers of a :class:`~proglearn_supcon.runs.schema.RunResult`.

    What its file records, or for a file written before flags were recorded,
    the same rules applied to its per-task fields (:func:`run_flags`).
    """
    if run.flagged_transformers is not None:
        return list(run.flagged_transformers)
    return run_flags(run.tasks, run.config, n_classes_per_task(run))


def flagged_lines(runs_by_variant: Mapping[str, list], tasks=None) -> list[str]:
    """One line per transformer that looks failed, or one saying there is none.

    Parameters
    ----------
    runs_by_variant : mapping of str to list of RunResult
        Each variant's loaded runs (the callers have them already).
    tasks : collection of int, optional
        Keep the flags of these tasks (0-based) only; default all.

    Returns
    -------
    list of str
        A header and one indented line per flagged transformer
        (:func:`flagged_transformers`), or ``["flagged transformers: none"]``.
    """
    lines = []
    for variant, runs in runs_by_variant.items():
        for run in runs:
            for flag in flagged_transformers(run):
                if tasks is not None and flag["task"] not in tasks:
                    continue
                reasons = "; ".join(flag["reasons"])
                lines.append(
                    f"  {describe_run(variant, run.shift, run.slot, run.protocol)} task {flag['task']}: {reasons}"
                )
    if not lines:
        return ["flagged transformers: none"]
    header = f"flagged transformers ({len(lines)}; tasks and epochs from 0; kept and counted in the numbers above):"
    return [header, *lines]
