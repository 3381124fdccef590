"""What made a run: the code's git commit, the library versions, and a hash of the recipe.

Every results file of the experiment records :func:`provenance` in its config
(``config["provenance"]``)::

    {
      "git_commit": "4f0c...",        # of the checkout this package was imported from, or "unknown"
      "git_dirty": false,             # tracked files changed since that commit; null when unknown
      "versions": {"torch": "2.13.0+cpu", "numpy": "2.1.3", "scikit-learn": "1.6.1"},
      "recipe_hash": "9b1d..."        # recipe_hash(config["network_params"])
    }

The *recipe* is the network's parameters without those that do not change what
is trained (:data:`NOT_RECIPE`: the seed, the device, progress output), so runs
of one variant over different shifts and slots share one recipe hash, and runs
whose parameters differ in anything else do not. A parameter added to the
networks after results were recorded is left out too while it has the value
that reproduces the code from before it
(:data:`~proglearn_supcon.hyperparams.ADDED_PARAMS`), so adding a parameter does not
change the hash of the recipes recorded without it.

One recipe can still run in two arithmetics: ``precision="auto"`` is bf16
autocast only where the CPU has native bf16. Each file records which ran
(``config["arithmetic"]``), and :func:`check_one_arithmetic` warns when pooled
runs differ in it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

from proglearn_supcon.hyperparams import ADDED_PARAMS

__all__ = [
    "NOT_RECIPE",
    "MixedRecipesError",
    "check_one_arithmetic",
    "check_one_recipe",
    "git_revision",
    "package_versions",
    "provenance",
    "recipe_differences",
    "recipe_hash",
    "recipe_params",
]

#: Network parameters left out of the recipe: the seed differs between the
#: runs that are pooled, and the device and progress output change nothing that
#: is trained.
NOT_RECIPE = ("random_state", "verbose", "device")
#: Seconds each ``git`` call may take before the commit is reported unknown.
GIT_TIMEOUT_S = 5.0
_UNKNOWN = "unknown"


def recipe_params(network_params: dict[str, Any]) -> dict[str, Any]:
    """``network_params`` without the entries of :data:`NOT_RECIPE` and the added parameters at their old behaviour.

    An entry of :data:`~proglearn_supcon.hyperparams.ADDED_PARAMS` is dropped when
    its value equals the listed one (and has its type: ``1`` is not ``1.0``,
    as in the hash), so parameters written before it existed and the same
    parameters written with it give one recipe.
    """
    return {
        name: value
        for name, value in network_params.items()
        if name not in NOT_RECIPE and not _is_old_behaviour(name, value)
    }


def _is_old_behaviour(name: str, value: Any) -> bool:
    if name not in ADDED_PARAMS:
        return False
    old = ADDED_PARAMS[name]
    return type(value) is type(old) and value == old


def recipe_hash(network_params: dict[str, Any]) -> str:
    """SHA-256 (hex) of the recipe part of ``network_params`` as canonical JSON.

    Parameters
    ----------
    network_params : dict
        JSON-serialisable network parameters, e.g. ``config["network_params"]``
        of a results file.

    Returns
    -------
    str
        64 hex digits. Equal for parameters that differ only in
        :data:`NOT_RECIPE`, in the order of their keys, or in whether an added
        parameter (:data:`~proglearn_supcon.hyperparams.ADDED_PARAMS`) is absent
        or present at its old behaviour.
    """
    # Sorted keys and fixed separators: the same parameters give the same bytes
    # whatever order they were built in; json writes floats by their shortest
    # round-trip repr, which is stable across platforms.
    text = json.dumps(recipe_params(network_params), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def recipe_differences(params_a: dict[str, Any], params_b: dict[str, Any]) -> list[str]:
    """The recipe parameters in which two parameter sets differ, as ``"name: a vs b"`` (sorted).

    A parameter missing from one side is shown as ``absent``.
    """
    a, b = recipe_params(params_a), recipe_params(params_b)
    missing = object()
    lines = []
    for name in sorted(a.keys() | b.keys()):
        value_a, value_b = a.get(name, missing), b.get(name, missing)
        if value_a != value_b or type(value_a) is not type(value_b):  # 1 and 1.0 hash differently
            shown = ["absent" if v is missing else json.dumps(v) for v in (value_a, value_b)]
            lines.append(f"{name}: {shown[0]} vs {shown[1]}")
    return lines


def _git(folder: Path, *args: str) -> str | None:
    """``git args`` run in ``folder``: its stripped stdout, or None if git failed, is missing or hung."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_revision(path: str | Path | None = None) -> dict[str, Any]:
    """The git commit of the checkout holding ``path`` (default: this package) and whether it is dirty.

    Parameters
    ----------
    path : path-like, optional
        A folder of the code; by default the folder of this package.

    Returns
    -------
    dict
        ``{"git_commit": <40 hex digits>, "git_dirty": bool}``; dirty means a
        tracked file differs from the commit (untracked files are ignored).
        ``{"git_commit": "unknown", "git_dirty": None}`` when ``path`` is not
        tracked in a git checkout (an installed wheel, no ``git`` program,
        ``git`` slower than :data:`GIT_TIMEOUT_S`).
    """
    folder = Path(path if path is not None else __file__).resolve()
    folder = folder if folder.is_dir() else folder.parent
    commit = _git(folder, "rev-parse", "--verify", "HEAD")
    # The folder must be part of that checkout: a package installed into a
    # virtual environment that happens to sit inside some other repository
    # would otherwise report that repository's commit.
    if commit is None or not _git(folder, "ls-files", "--", "."):
        return {"git_commit": _UNKNOWN, "git_dirty": None}
    # --no-optional-locks: do not take the index lock, which a git command the
    # user runs at the same time could then fail on.
    status = _git(folder, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def package_versions() -> dict[str, str]:
    """Versions of torch, numpy and scikit-learn, as imported."""
    import numpy
    import sklearn
    import torch

    return {"torch": str(torch.__version__), "numpy": numpy.__version__, "scikit-learn": sklearn.__version__}


@functools.lru_cache(maxsize=1)
def _code_revision() -> tuple[tuple[str, Any], ...]:
    # Once per process: the code a process runs is what it imported when it
    # started, which a commit made during a long sweep does not change.
    return tuple(git_revision().items())


def provenance(network_params: dict[str, Any]) -> dict[str, Any]:
    """The ``config["provenance"]`` of a results file (see the module docstring).

    Parameters
    ----------
    network_params : dict
        The run's JSON-serialisable network parameters (``config["network_params"]``).

    Returns
    -------
    dict
        ``git_commit``, ``git_dirty``, ``versions`` and ``recipe_hash``.
    """
    return {**dict(_code_revision()), "versions": package_versions(), "recipe_hash": recipe_hash(network_params)}


class MixedRecipesError(ValueError):
    """Runs of one variant were made with different recipes.

    Their :attr:`~proglearn_supcon.runs.schema.RunResult.recipe_hash` differ.
    """


def check_one_recipe(runs: list, sources: list, variant: str) -> None:
    """Raise :class:`MixedRecipesError` unless all ``runs`` share one recipe hash.

    Parameters
    ----------
    runs : list of :class:`~proglearn_supcon.runs.schema.RunResult`
        Runs of one variant.
    sources : list of path-like or str
        Where each run was read from, named in the message.
    variant : str
        Their variant, named in the message.

    Raises
    ------
    MixedRecipesError
        Naming the first file and the first file whose recipe differs from it,
        with the parameters they differ in (one line).
    """
    hashes = [run.recipe_hash for run in runs]
    if len(set(hashes)) <= 1:
        return
    first, other = 0, next(i for i, h in enumerate(hashes) if h != hashes[0])
    differences = recipe_differences(
        runs[first].config.get("network_params") or {}, runs[other].config.get("network_params") or {}
    )

    def named(i: int) -> str:
        return f"{sources[i]} (recipe {(hashes[i] or 'unknown')[:12]})"

    raise MixedRecipesError(
        f"runs of variant {variant!r} were made with {len(set(hashes))} different recipes: "
        f"{named(first)} and {named(other)} differ in {'; '.join(differences) or 'unrecorded parameters'}; "
        "compare, plot, geometry and summary pool them anyway with --allow-mixed-recipes "
        "(allow_mixed_recipes=True in Python)"
    )


class MixedArithmeticWarning(UserWarning):
    """Runs pooled together ran in different arithmetic (bf16 autocast and fp32)."""


def check_one_arithmetic(runs: list, sources: list, variant: str) -> None:
    """Warn with :class:`MixedArithmeticWarning` unless the runs that record their arithmetic share it.

    ``precision="auto"`` is part of the recipe, but it resolves per machine
    (bf16 autocast only where the CPU has native bf16), so one recipe can
    run in two arithmetics whose training paths differ. Pooling them is
    allowed, and said. Files written before ``config["arithmetic"]`` was
    recorded are left out of the check. Arguments as :func:`check_one_recipe`.
    """
    recorded = [(run.config.get("arithmetic"), source) for run, source in zip(runs, sources)]
    recorded = [(arithmetic, source) for arithmetic, source in recorded if arithmetic]
    if len({arithmetic for arithmetic, _ in recorded}) <= 1:
        return
    first = recorded[0]
    other = next(r for r in recorded if r[0] != first[0])
    warnings.warn(
        f"runs of variant {variant!r} ran in different arithmetic: {first[1]} in {first[0]}, {other[1]} in "
        f"{other[0]}; precision='auto' resolves per machine (bf16 autocast only where native), so these "
        "numbers pool both; --param precision=fp32 (or bf16) fixes it for new runs",
        MixedArithmeticWarning,
        stacklevel=3,
    )
