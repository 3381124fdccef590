"""Provenance of results files (proglearn_supcon/runs/provenance.py): git commit, versions, recipe hash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import sklearn
import torch

from proglearn_supcon.experiments import cifar_task_sequence as exp
from proglearn_supcon.experiments.params import network_params
from proglearn_supcon.runs import provenance as prov
from proglearn_supcon.runs.results import load_runs, read_run, run_path, write_run
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult

REPO = Path(__file__).resolve().parents[1]
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="no git program")
PARAMS = {"loss": "supcon", "epochs": 100, "lr": 0.002, "k": None, "random_state": 7, "device": "cpu", "verbose": True}


def test_recipe_hash_is_sha256_of_canonical_json_without_seed_device_verbose():
    expected = hashlib.sha256(b'{"epochs":100,"k":null,"loss":"supcon","lr":0.002}').hexdigest()
    assert prov.recipe_hash(PARAMS) == expected
    reordered = dict(reversed(list(PARAMS.items())))
    other_seed = {**PARAMS, "random_state": 8, "device": "cuda:1", "verbose": False}
    assert prov.recipe_hash(reordered) == prov.recipe_hash(other_seed) == expected


@pytest.mark.parametrize(
    "change", [{"epochs": 50}, {"epochs": 100.0}, {"loss": "ce"}, {"patience": 20}, {"whiten_first_conv": True}]
)
def test_recipe_hash_changes_with_the_recipe(change):
    assert prov.recipe_hash({**PARAMS, **change}) != prov.recipe_hash(PARAMS)


def test_recipe_differences():
    changed = {**PARAMS, "epochs": 50, "random_state": 1, "patience": 20}
    del changed["k"]
    assert prov.recipe_differences(PARAMS, changed) == [
        "epochs: 100 vs 50",
        "k: null vs absent",
        "patience: absent vs 20",
    ]
    assert prov.recipe_differences(PARAMS, {**PARAMS, "epochs": 100.0}) == ["epochs: 100 vs 100.0"]
    assert prov.recipe_differences(PARAMS, {**PARAMS, "device": "cuda"}) == []


# ----------------------------------------------------------------------------- parameters added later


def test_added_parameters_are_network_parameters():
    from proglearn_supcon import LifelongClassificationNetwork
    from proglearn_supcon.hyperparams import ADDED_PARAMS

    assert set(ADDED_PARAMS) <= set(LifelongClassificationNetwork._get_param_names())


def test_added_parameters_at_their_old_behaviour_keep_the_recipe_hash():
    from proglearn_supcon.hyperparams import ADDED_PARAMS

    with_them = {**PARAMS, **ADDED_PARAMS}
    assert prov.recipe_hash(with_them) == prov.recipe_hash(PARAMS)
    assert prov.recipe_hash({**PARAMS, "voter_dim": None}) == prov.recipe_hash(PARAMS)
    assert prov.recipe_differences(PARAMS, with_them) == []


@pytest.mark.parametrize(
    "change",
    [{"voter_dim": 300}, {"voter_dim": 2000}, {"voter_dtype": "float16"}, {"voter_dtype": "bfloat16"}],
)
def test_added_parameters_at_another_value_change_the_recipe_hash(change):
    from proglearn_supcon.hyperparams import ADDED_PARAMS

    assert prov.recipe_hash({**PARAMS, **ADDED_PARAMS, **change}) != prov.recipe_hash(PARAMS)
    ((name, value),) = change.items()
    assert prov.recipe_differences(PARAMS, {**PARAMS, **change}) == [f"{name}: absent vs {json.dumps(value)}"]


def test_the_old_value_must_match_in_type_too(monkeypatch):
    # As everywhere in the hash, 1 and 1.0 (or True) are different recipes.
    assert prov.recipe_params({"later": 1, "loss": "ce"}) == {"later": 1, "loss": "ce"}  # not listed: kept
    monkeypatch.setattr(prov, "ADDED_PARAMS", {"later": 1})
    assert prov.recipe_params({"later": 1, "loss": "ce"}) == {"loss": "ce"}
    assert prov.recipe_params({"later": 1.0, "loss": "ce"}) == {"later": 1.0, "loss": "ce"}
    assert prov.recipe_params({"later": True, "loss": "ce"}) == {"later": True, "loss": "ce"}


def test_recorded_rerun_recipes_survive_the_added_parameters():
    """The CIFAR-100 rerun's files hash as the current code records their recipe (the added parameters at
    their old values), so a sweep resumed with those values pools; the new defaults are another recipe."""
    from proglearn_supcon import LifelongClassificationNetwork
    from proglearn_supcon.hyperparams import ADDED_PARAMS

    paths = sorted((REPO / "docs" / "results" / "cifar100_rerun").glob("*/shift*_slot*.json"))
    assert paths, "the committed rerun results are missing"
    for path in paths:
        config = json.loads(path.read_text())["config"]
        # What run_config records now: every parameter of the network, the added ones included.
        now = LifelongClassificationNetwork(**{**ADDED_PARAMS, **config["network_params"]}).get_params()
        now = {name: value for name, value in now.items() if name not in ("encoder", "verbose")}
        assert "voter_dim" in now and "voter_dtype" in now and "deterministic" in now
        assert prov.recipe_hash(now) == config["provenance"]["recipe_hash"], path.name
        # deterministic=True (the default since issue 34) is a new recipe: the loss now sums in another order.
        assert prov.recipe_hash({**now, "deterministic": True}) != config["provenance"]["recipe_hash"]


def test_package_versions():
    assert prov.package_versions() == {
        "torch": str(torch.__version__),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


def git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(folder)}
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A git checkout with one committed package folder, ``pkg``."""
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "code.py").write_text("x = 1\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    return repo


@needs_git
def test_git_revision_clean_untracked_and_dirty(checkout):
    head = git(checkout, "rev-parse", "HEAD")
    assert prov.git_revision(checkout / "pkg") == {"git_commit": head, "git_dirty": False}
    assert prov.git_revision(checkout / "pkg" / "code.py") == {"git_commit": head, "git_dirty": False}
    (checkout / "notes.txt").write_text("untracked\n")
    assert prov.git_revision(checkout / "pkg")["git_dirty"] is False  # untracked files do not count
    (checkout / "pkg" / "code.py").write_text("x = 2\n")
    assert prov.git_revision(checkout / "pkg") == {"git_commit": head, "git_dirty": True}


@needs_git
def test_git_revision_unknown_outside_a_checkout(checkout, tmp_path):
    unknown = {"git_commit": "unknown", "git_dirty": None}
    outside = tmp_path / "site-packages" / "pkg"
    outside.mkdir(parents=True)
    assert prov.git_revision(outside) == unknown
    # Inside a checkout but not part of it (a virtual environment in a project folder).
    venv = checkout / ".venv" / "site-packages" / "pkg"
    venv.mkdir(parents=True)
    (venv / "code.py").write_text("x = 1\n")
    assert prov.git_revision(venv) == unknown


@pytest.mark.parametrize(
    "failure", [FileNotFoundError("git"), subprocess.TimeoutExpired("git", prov.GIT_TIMEOUT_S)], ids=["no git", "hung"]
)
def test_git_revision_unknown_when_git_fails(failure, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        assert kwargs["timeout"] == prov.GIT_TIMEOUT_S
        raise failure

    monkeypatch.setattr(prov.subprocess, "run", broken)
    assert prov.git_revision(tmp_path) == {"git_commit": "unknown", "git_dirty": None}


def _worktree_revision() -> dict:
    """What git says about this checkout, by hand (skips when the tests do not run from one)."""
    try:
        head = git(REPO, "rev-parse", "HEAD")
        dirty = bool(git(REPO, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the tests do not run from a git checkout")
    return {"git_commit": head, "git_dirty": dirty}


@needs_git
def test_git_revision_of_this_package_is_its_checkout():
    assert prov.git_revision() == _worktree_revision()


@pytest.mark.slow
def test_results_file_records_provenance(tmp_path):
    argv = ["--dataset", "digits", "--n-tasks", "1", "--epochs", "1", "--quiet", "--device", "cpu"]
    assert exp.main([*argv, "--variant", "ce", "--out", str(tmp_path)]) == 0
    recorded = json.loads(run_path(tmp_path, "ce", 1, 0).read_text())["config"]["provenance"]
    (run,) = load_runs(tmp_path, "ce")
    assert set(recorded) == {"git_commit", "git_dirty", "versions", "recipe_hash"}
    assert recorded["versions"] == prov.package_versions()
    assert recorded["recipe_hash"] == run.recipe_hash == prov.recipe_hash(run.config["network_params"])
    if shutil.which("git"):
        expected = _worktree_revision()
        # Dirty-ness may change while the suite runs in a working checkout; the commit may not.
        assert recorded["git_commit"] == expected["git_commit"] and isinstance(recorded["git_dirty"], bool)


def test_results_file_records_the_arithmetic_that_ran(tmp_path):
    """precision="auto" resolves per machine, so the file says what it resolved to."""
    import torch

    from proglearn_supcon.experiments.run_record import cpu_name
    from proglearn_supcon.precision import native_bf16

    argv = ["--dataset", "digits", "--n-tasks", "1", "--epochs", "1", "--quiet", "--device", "cpu", "--variant", "ce"]
    assert exp.main([*argv, "--out", str(tmp_path / "auto")]) == 0
    assert exp.main([*argv, "--param", "precision=fp32", "--out", str(tmp_path / "fp32")]) == 0
    auto = json.loads(run_path(tmp_path / "auto", "ce", 1, 0).read_text())["config"]
    fp32 = json.loads(run_path(tmp_path / "fp32", "ce", 1, 0).read_text())["config"]
    assert auto["arithmetic"] == ("bf16 autocast" if native_bf16(torch.device("cpu")) else "fp32")
    assert fp32["arithmetic"] == "fp32"
    assert auto["cpu_capability"] == fp32["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert auto["cpu_model"] == fp32["cpu_model"] == cpu_name() and cpu_name()


def test_cpu_name_reads_the_model_name_and_falls_back_to_platform(monkeypatch, tmp_path):
    import builtins
    import io
    import platform

    from proglearn_supcon.experiments import run_record

    real_open = builtins.open
    cpuinfo = "processor\t: 0\nvendor_id\t: X\nmodel name\t: Example CPU 9000 @ 3GHz\nflags\t: a b\n"

    def fake_open(path, *args, **kwargs):
        if path == "/proc/cpuinfo":
            return io.StringIO(cpuinfo)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    assert run_record.cpu_name() == "Example CPU 9000 @ 3GHz"

    def no_cpuinfo(path, *args, **kwargs):
        if path == "/proc/cpuinfo":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_cpuinfo)
    assert run_record.cpu_name() == (platform.processor() or platform.machine())


def test_runs_of_one_variant_share_a_recipe_whatever_their_seed():
    args = exp.build_parser().parse_args(["--dataset", "digits", "--epochs", "3"])
    hashes = {
        v: {prov.recipe_hash(network_params(args, v, s, k)) for s in (1, 2) for k in (0, 1)} for v in "ce tcl".split()
    }
    assert len(hashes["ce"]) == len(hashes["tcl"]) == 1 and hashes["ce"] != hashes["tcl"]


def _run(config: dict) -> RunResult:
    acc = np.array([[0.8]])
    return RunResult("ce", "synthetic", 1, 0, acc, {name: np.ones(1) for name in TASK_FIELDS}, config)


def test_recipe_hash_of_files_without_provenance(tmp_path):
    old = read_run(write_run(tmp_path, _run({"network_params": PARAMS})))
    assert old.recipe_hash == prov.recipe_hash(PARAMS)
    recorded = _run({"network_params": PARAMS, "provenance": {"recipe_hash": "abc"}})
    assert recorded.recipe_hash == "abc"  # what the run recorded, not recomputed
    assert _run({}).recipe_hash is None


def test_pooling_runs_of_different_arithmetic_warns_with_two_file_names(tmp_path, recwarn):
    def write(slot: int, arithmetic: str | None) -> None:
        config = {"network_params": PARAMS, **({"arithmetic": arithmetic} if arithmetic else {})}
        run = RunResult("ce", "synthetic", 1, slot, np.array([[0.8]]), {n: np.ones(1) for n in TASK_FIELDS}, config)
        write_run(tmp_path, run)

    write(0, None)  # written before the arithmetic was recorded: not counted
    write(1, "fp32")
    write(2, "fp32")
    assert len(load_runs(tmp_path, "ce")) == 3
    assert not [w for w in recwarn if issubclass(w.category, prov.MixedArithmeticWarning)]
    write(3, "bf16 autocast")
    with pytest.warns(prov.MixedArithmeticWarning, match="different arithmetic") as caught:
        load_runs(tmp_path, "ce", allow_mixed_recipes=True)
    message = str(caught[0].message)
    assert "shift1_slot1.json in fp32" in message and "shift1_slot3.json in bf16 autocast" in message
