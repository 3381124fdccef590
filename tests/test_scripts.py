"""The checkout's thin entry scripts and the console command, run as a user runs them (subprocesses)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from proglearn_supcon.runs.results import load_runs

# Every test here starts Python (and imports torch) at least once.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]

#: Thin script -> the usage line its --help starts with.
SCRIPTS = {
    "experiments/cifar_task_sequence.py": "usage: proglearn-supcon run",
    "experiments/summary.py": "usage: proglearn-supcon summary",
    "experiments/recipe_search.py": "usage: python -m proglearn_supcon.experiments.recipe_search",
    "experiments/dose_response.py": "usage: proglearn-supcon dose-response",
    "plotting/plot_variant.py": "usage: proglearn-supcon plot",
    "plotting/compare_variants.py": "usage: proglearn-supcon compare",
    "plotting/plot_geometry.py": "usage: proglearn-supcon geometry",
    "plotting/plot_adversarial.py": "usage: proglearn-supcon adversarial",
}


def run(argv: list[str], cwd: Path = REPO) -> subprocess.CompletedProcess:
    # This checkout first, whatever an installed copy says; no display, as on a cluster node.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DISPLAY", None)
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_help(script):
    done = run([sys.executable, script, "--help"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(SCRIPTS[script])


@pytest.mark.parametrize("module", ["experiments.cifar_task_sequence", "plotting.compare_variants"])
def test_script_help_as_module(module):
    done = run([sys.executable, "-m", module, "--help"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: proglearn-supcon ")


@pytest.mark.parametrize("command", ["summary", "geometry"])
def test_console_command_help(command):
    # The installed script when there is one, else the same entry point through -m.
    program = (
        [shutil.which("proglearn-supcon")]
        if shutil.which("proglearn-supcon")
        else [sys.executable, "-m", "proglearn_supcon.cli"]
    )
    done = run([*program, command, "--help"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: proglearn-supcon {command}")


def test_tiny_run_through_the_thin_script(tmp_path, tiny_run_args):
    out = tmp_path / "results"
    done = run(
        [
            sys.executable,
            str(REPO / "experiments/cifar_task_sequence.py"),
            *tiny_run_args("--variant", "ce", "--out", out, n_train_per_task=40, threads_per_run=1),
        ],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    (result,) = load_runs(out, "ce")
    assert result.n_tasks == 2 and result.config["epochs"] == 1
    assert "results:" in done.stdout
    done = run([sys.executable, str(REPO / "experiments/summary.py"), "--results", str(out), "--variants", "ce"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].startswith("| ce | ")
