"""Runs of one variant are pooled only if they share a recipe (``--allow-mixed-recipes`` overrides)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from proglearn_supcon import cli  # noqa: E402
from proglearn_supcon.experiments import cifar_task_sequence as exp  # noqa: E402
from proglearn_supcon.runs.analysis import pair_runs  # noqa: E402
from proglearn_supcon.runs.provenance import recipe_hash  # noqa: E402
from proglearn_supcon.runs.results import MixedRecipesError, list_variants, load_runs, run_path, write_run  # noqa: E402
from proglearn_supcon.runs.schema import TASK_FIELDS, Diagnostics, RunResult  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "docs" / "results" / "cifar100"


def params(variant: str, shift: int, **changes) -> dict:
    return {"loss": variant, "epochs": 100, "lr": 0.002, "random_state": 1000 + shift, "device": "cpu", **changes}


def write(root: Path, variant: str, shift: int, **changes) -> Path:
    acc = np.array([[0.8, np.nan], [0.8, 0.7 + 0.01 * shift]])
    tasks = {name: np.full(2, 1.0) for name in TASK_FIELDS}
    tasks["single_task_accuracy"] = np.array([0.8, 0.6])
    matrix = np.array([[0.8, 0.5], [0.4, 0.6]])
    geometry = {name: np.ones((2, 2)) for name in ("nc1", "angle_deviation", "effective_rank")}
    config = {"n_test_per_task": 50, "network_params": params(variant, shift, **changes)}
    run = RunResult(variant, "synthetic", shift, 0, acc, tasks, config, diagnostics=Diagnostics(matrix, geometry))
    return write_run(root, run)


@pytest.fixture
def mixed(tmp_path) -> Path:
    """supcon and ce over shifts 1-3; ce's shift 3 trained for 50 epochs instead of 100."""
    root = tmp_path / "results"
    for variant in ("supcon", "ce"):
        for shift in (1, 2):
            write(root, variant, shift)
    write(root, "supcon", 3)
    write(root, "ce", 3, epochs=50)
    return root


def test_one_recipe_per_variant_is_fine_across_variants_and_seeds(mixed):
    runs = load_runs(mixed, "supcon")
    assert (
        len({r.recipe_hash for r in runs}) == 1 and len({r.config["network_params"]["random_state"] for r in runs}) == 3
    )
    assert runs[0].recipe_hash != load_runs(mixed, "ce", allow_mixed_recipes=True)[0].recipe_hash  # loss differs


def test_mixed_recipes_name_two_files_and_the_difference(mixed):
    with pytest.raises(MixedRecipesError) as info:
        load_runs(mixed, "ce")
    message = str(info.value)
    assert isinstance(info.value, ValueError) and "\n" not in message
    first, other = run_path(mixed, "ce", 1, 0), run_path(mixed, "ce", 3, 0)
    assert f"{first} (recipe {recipe_hash(params('ce', 1))[:12]})" in message
    assert f"{other} (recipe {recipe_hash(params('ce', 3, epochs=50))[:12]})" in message
    assert "differ in epochs: 100 vs 50;" in message and "--allow-mixed-recipes" in message
    assert [r.shift for r in load_runs(mixed, "ce", allow_mixed_recipes=True)] == [1, 2, 3]
    with pytest.raises(MixedRecipesError):
        pair_runs(mixed, "supcon", "ce")
    assert len(pair_runs(mixed, "supcon", "ce", allow_mixed_recipes=True)[1]) == 3


def test_recorded_recipe_hash_counts(tmp_path):
    """Two files with equal parameters but different recorded hashes are still two recipes."""
    for shift, recorded in ((1, "a" * 64), (2, "b" * 64)):
        path = write(tmp_path, "ce", shift)
        text = path.read_text().replace(
            '"n_test_per_task": 50', f'"n_test_per_task": 50, "provenance": {{"recipe_hash": "{recorded}"}}'
        )
        path.write_text(text)
    with pytest.raises(MixedRecipesError, match="recipe aaaaaaaaaaaa.*recipe bbbbbbbbbbbb.*unrecorded parameters"):
        load_runs(tmp_path, "ce")


def commands(root: Path, out: Path) -> dict[str, list[str]]:
    return {
        "compare": ["compare", "--results", str(root), "--a", "supcon", "--b", "ce", "--out", str(out / "d.png")],
        "geometry": ["geometry", "--results", str(root), "--a", "supcon", "--b", "ce", "--out", str(out / "g.png")],
        "plot": ["plot", "--results", str(root), "--variant", "ce", "--out", str(out / "p.png")],
        "summary": ["summary", "--results", str(root), "--variants", "supcon", "ce"],
    }


@pytest.mark.slow
@pytest.mark.parametrize("command", ["compare", "geometry", "plot", "summary"])
def test_commands_refuse_mixed_recipes_unless_allowed(command, mixed, tmp_path, capsys):
    argv = commands(mixed, tmp_path)[command]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(
        f"proglearn-supcon {command}: error: runs of variant 'ce' were made with 2 different"
    )
    assert str(run_path(mixed, "ce", 1, 0)) in captured.err and str(run_path(mixed, "ce", 3, 0)) in captured.err
    assert "epochs: 100 vs 50" in captured.err
    assert cli.main([*argv, "--allow-mixed-recipes"]) == 0
    if command == "summary":
        rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ce ")]
        assert len(rows) == 1 and rows[0].endswith("| 3 |")  # ce's three runs pooled


@pytest.mark.parametrize("command", ["compare", "geometry", "plot", "summary"])
def test_help_documents_the_option(command, capsys):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    assert "--allow-mixed-recipes" in capsys.readouterr().out


def test_committed_cifar100_results_have_one_recipe_per_variant():
    """docs/results/cifar100 predates recorded provenance: the hashes come from network_params."""
    variants = list_variants(COMMITTED)
    assert variants == ["ce", "supcon", "tcl"]
    hashes = {}
    for variant in variants:
        runs = load_runs(COMMITTED, variant)  # raises if a variant mixed recipes
        assert len(runs) == 10 and all("provenance" not in r.config for r in runs)
        (hashes[variant],) = {r.recipe_hash for r in runs}
    assert len(set(hashes.values())) == 3


def test_a_run_into_a_folder_of_other_runs_is_refused_before_its_summary(mixed, capsys):
    argv = ["--dataset", "digits", "--n-tasks", "2", "--quiet", "--variant", "ce", "--shifts", "1", "--out", str(mixed)]
    assert exp.main(argv) == 2  # the folder's runs are not those these options make (issue 29)
    err = capsys.readouterr().err
    assert err.startswith("proglearn-supcon run: error: ") and "another --out" in err and err.count("\n") == 1
