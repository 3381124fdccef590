"""One contract per results folder: the runs in it were made on the same data.

A results folder is pooled as a whole: the figures and summaries average its
runs, and a rerun of the experiment takes a file already there for a finished
run. Both are only right if the runs share what makes them comparable:

* the *data settings* (:data:`DATA_KEYS`), for every run of the folder: the
  data set, the task sequence (``protocol``), the number of tasks, classes
  and training images per task, and a fingerprint of the data files
  (``config["data_fingerprint"]``: the MD5s of the CIFAR files, a constant for
  the bundled digits);
* the *recipe* (:func:`~proglearn_supcon.runs.provenance.recipe_hash`), for the runs
  of one variant (:func:`~proglearn_supcon.runs.provenance.check_one_recipe`).

Files written before a setting was recorded lack it: a missing setting is
unknown and compared with nothing, so old folders still load, checked on what
they do record. :func:`check_one_data` is the readers' check (summary,
compare, plot, through :func:`~proglearn_supcon.runs.results.load_runs`, over
the folder's :func:`~proglearn_supcon.runs.results.folder_runs`);
:func:`run_problem` is the experiment's, made before it trains anything.
Both take runs already read: :mod:`proglearn_supcon.runs.results` reads the
files (and makes the readers' check on load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proglearn_supcon.runs.provenance import recipe_differences
from proglearn_supcon.runs.schema import RunResult

__all__ = [
    "DATA_KEYS",
    "READER_KEYS",
    "MixedDataError",
    "check_one_data",
    "data_settings",
    "run_problem",
]

#: The data settings of a run, each with the option that sets it.
DATA_KEYS = {
    "dataset": "--dataset",
    "protocol": "--protocol",
    "n_tasks": "--n-tasks",
    "n_classes_per_task": "--classes-per-task",
    "n_train_per_task": "--n-train-per-task",
    "data_fingerprint": "data files",
}


#: The data settings the readers compare across a folder: the protocol and the
#: task count they check themselves, with messages that say more (e.g. the
#: adversarial figure names the protocol it needs; a rotation folder may hold a
#: 10x10 file beside its runs).
READER_KEYS = tuple(key for key in DATA_KEYS if key not in ("protocol", "n_tasks"))


class MixedDataError(ValueError):
    """Runs of one results folder were made on different data (see :data:`DATA_KEYS`)."""


def data_settings(run: RunResult) -> dict[str, Any]:
    """The data settings of ``run`` (:data:`DATA_KEYS`); None where its file does not record one."""
    config = run.config
    return {
        "dataset": run.dataset or None,
        # Files without a protocol predate the option: they are the 10x10 sequence.
        "protocol": run.protocol,
        "n_tasks": run.n_tasks,
        "n_classes_per_task": config.get("n_classes_per_task"),
        "n_train_per_task": config.get("n_train_per_task"),
        "data_fingerprint": config.get("data_fingerprint"),
    }


def differences(a: dict[str, Any], b: dict[str, Any], keys=tuple(DATA_KEYS)) -> list[str]:
    """The data settings of ``keys`` known on both sides that differ, as ``"--n-tasks 2 vs 3"``."""
    return [
        f"{DATA_KEYS[key]} {a[key]} vs {b[key]}"
        for key in keys
        if a.get(key) is not None and b.get(key) is not None and a[key] != b[key]
    ]


def check_one_data(runs: list[RunResult], sources: list, keys=READER_KEYS) -> None:
    """Raise :class:`MixedDataError` unless the runs agree on every data setting of ``keys`` they record.

    The message names the first two files that differ and the settings they
    differ in (one line).
    """
    seen: dict[str, tuple[Any, Any]] = {}  # setting -> (value, the first file recording it)
    for run, source in zip(runs, sources):
        settings = data_settings(run)
        for key in keys:
            value = settings[key]
            if value is None:
                continue
            if key not in seen:
                seen[key] = (value, source)
            elif seen[key][0] != value:
                first = seen[key][1]
                other = data_settings(runs[sources.index(first)])
                raise MixedDataError(
                    f"{first} and {source} were made on different data "
                    f"({'; '.join(differences(other, settings, keys))}); "
                    "their numbers cannot be pooled: keep each data setting in its own results folder"
                )


def run_problem(
    found: list[tuple[Path, RunResult]],
    requested: dict[str, Any],
    recipes: dict[str, tuple[str, dict]],
    allow_mixed_recipes: bool = False,
) -> str | None:
    """Why the runs requested cannot join the folder's runs ``found``, as one line; None when they can.

    Parameters
    ----------
    found : list of (Path, RunResult)
        The folder's runs (:func:`~proglearn_supcon.runs.results.folder_runs`).
    requested : dict
        The data settings of the runs to make (keys of :data:`DATA_KEYS`; None: unknown).
    recipes : dict of str to (str, dict)
        Per requested variant, its recipe hash and network parameters; the
        folder's runs of other variants have recipes of their own.
    allow_mixed_recipes : bool, default False
        Let runs of another recipe stay (and count as finished).
    """
    for path, run in found:
        changed = differences(data_settings(run), requested)
        if changed:
            return (
                f"{path} was made with other data settings (the file's vs these: {'; '.join(changed)}); "
                "give these runs another --out (one data setting per results folder)"
            )
        if allow_mixed_recipes or run.variant not in recipes:
            continue
        recipe, params = recipes[run.variant]
        if run.recipe_hash is not None and run.recipe_hash != recipe:
            changed = recipe_differences(run.config.get("network_params") or {}, params)
            return (
                f"{path} was made with another recipe (the file's vs these: "
                f"{'; '.join(changed) or 'unrecorded parameters'}); "
                "give these runs another --out, or pass --allow-mixed-recipes to pool them with it"
            )
    return None
