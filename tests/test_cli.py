"""Tests of the ``proglearn-supcon`` console command (proglearn_supcon/cli.py)."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from proglearn_supcon import cli  # noqa: E402
from proglearn_supcon.runs.results import load_runs, write_run  # noqa: E402
from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def declared_entry_point():
    """The console script declared in setup.py, resolved to the function it names."""
    text = (REPO / "setup.py").read_text()
    (spec,) = re.findall(r'"proglearn-supcon\s*=\s*([\w.]+):(\w+)"', text)
    module, function = spec if isinstance(spec, tuple) else (spec, None)
    return getattr(importlib.import_module(module), function)


def write_synthetic(root: Path) -> Path:
    """Two variants, two shifts, 2 tasks each; supcon is perfect on task 1."""
    for variant, acc0 in (("supcon", 1.0), ("ce", 0.8)):
        for shift in (1, 2):
            acc = np.array([[acc0, np.nan], [acc0, 0.7 + 0.01 * shift]])
            tasks = {name: np.full(2, 1.0) for name in TASK_FIELDS}
            tasks["single_task_accuracy"] = np.array([0.8, 0.6])
            write_run(root, RunResult(variant, "synthetic", shift, 0, acc, tasks, {"n_test_per_task": 50}))
    return root


def test_setup_declares_cli_main():
    assert declared_entry_point() is cli.main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: proglearn-supcon")
    for command in ("run", "summary", "plot", "compare", "geometry", "adversarial"):
        assert re.search(rf"^    {command}\s", out, re.MULTILINE), command  # a long name wraps its line


@pytest.mark.parametrize(
    "command, shown",
    [
        (
            "run",
            [
                "--variant",
                "(default: supcon ce tcl)",
                "(default: digits-",
                "--shifts",
                "(default: 1)",
                "(default: the library's, 30)",
                "--seed",
                "(default: 0)",
                "--n-jobs",
                "--out",
            ],
        ),
        ("plot", ["--results", "--variant", "--out", "--png", "(default: 0.95)"]),
        ("compare", ["--results", "--a", "--b", "--out", "(default: 0.95)"]),
        ("summary", ["--results", "--variants"]),
        ("geometry", ["--results", "--a", "--b", "--out", "--png", "(default: 0.95)"]),
        ("adversarial", ["--results", "--variants", "--a", "(default: supcon)", "--out", "(default: 0.95)"]),
    ],
)
def test_command_help_shows_options_and_defaults(command, shown, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # undo the help's line wrapping
    assert out.startswith(f"usage: proglearn-supcon {command}")
    for text in shown:
        assert text in out, text


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "proglearn-supcon: error: the following arguments are required: COMMAND"),
        (["train"], "proglearn-supcon: error: argument COMMAND: invalid choice: 'train'"),
        (["run", "--shifts", "x"], "proglearn-supcon run: error: argument --shifts: expected numbers"),
        (["run", "--variant", "mse"], "proglearn-supcon run: error: argument --variant: invalid choice"),
        (["plot", "--results", "r"], "proglearn-supcon plot: error: the following arguments are required"),
        (
            ["compare", "--results", "r", "--a", "x", "--b", "y", "--out", "f.pdf", "--confidence", "2"],
            "proglearn-supcon compare: error: argument --confidence",
        ),
        (["summary", "--results", "r"], "proglearn-supcon summary: error: the following arguments are required"),
        (["geometry", "--a", "x"], "proglearn-supcon geometry: error: the following arguments are required"),
        (
            ["adversarial", "--out", "f.png"],
            "proglearn-supcon adversarial: error: the following arguments are required",
        ),
        (["run", "--protocol", "spiral"], "proglearn-supcon run: error: argument --protocol: invalid choice: 'spiral'"),
        (["run", "--angles", "0-400:15"], "proglearn-supcon run: error: argument --angles: angle must be a number"),
        (["run", "--repetitions", "0"], "proglearn-supcon run: error: argument --repetitions: no repetitions"),
    ],
)
def test_bad_arguments_are_one_line_and_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(message) and captured.err.count("\n") == 1 and captured.out == ""


@pytest.mark.slow
def test_tiny_run(tmp_path, capsys, tiny_run_args):
    assert cli.main(["run", *tiny_run_args("--variant", "ce", "--out", tmp_path, epochs=2)]) == 0
    (run,) = load_runs(tmp_path, "ce")
    assert run.n_tasks == 2 and run.config["epochs"] == 2
    assert "results:" in capsys.readouterr().out


@pytest.mark.slow
def test_plot_and_compare_with_a_perfect_task(tmp_path, capsys):
    root = write_synthetic(tmp_path / "results")
    assert cli.main(["plot", "--results", str(root), "--variant", "supcon", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file() and (tmp_path / "s_timing.png").is_file()
    argv = ["compare", "--results", str(root), "--a", "supcon", "--b", "ce", "--out", str(tmp_path / "d.svg")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "d.svg").is_file() and (tmp_path / "d_summary.csv").is_file()
    assert "inf" not in out and "nan" not in out.lower()


def test_runtime_errors_are_status_2(tmp_path, capsys):
    argv = ["compare", "--results", str(tmp_path / "missing"), "--a", "supcon", "--b", "ce", "--out", "d.pdf"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("proglearn-supcon compare: error: ") and "does not exist" in err
    assert cli.main(["summary", "--results", str(tmp_path / "missing"), "--variants", "ce"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("proglearn-supcon summary: error: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    "command, target, args",
    [
        ("plot", "plot_variant", ["--variant", "ce"]),
        ("compare", "compare_variants", ["--a", "supcon", "--b", "ce"]),
        ("geometry", "plot_geometry_comparison", ["--a", "supcon", "--b", "ce"]),
        ("adversarial", "load_curves", []),
    ],
)
def test_figure_commands_report_errors_on_one_line_under_their_subcommand(
    command, target, args, tmp_path, monkeypatch, capsys
):
    module, _ = cli.COMMANDS[command]
    assert module.COMMAND == command

    def broken(*args, **kwargs):
        raise ValueError("bad\nresults")

    monkeypatch.setattr(module, target, broken)
    assert cli.main([command, "--results", str(tmp_path), *args, "--out", str(tmp_path / "f.png")]) == 2
    assert capsys.readouterr().err == f"proglearn-supcon {command}: error: bad results\n"


def test_commands_are_the_modules_themselves():
    """Each subcommand names its module object (imported directly, no module names as strings)."""
    from proglearn_supcon.experiments import cifar_task_sequence, dose_response, summary
    from proglearn_supcon.plotting import compare_variants, plot_adversarial, plot_geometry, plot_variant

    modules = {name: module for name, (module, _) in cli.COMMANDS.items()}
    assert modules == {
        "run": cifar_task_sequence,
        "summary": summary,
        "plot": plot_variant,
        "compare": compare_variants,
        "geometry": plot_geometry,
        "dose-response": dose_response,
        "adversarial": plot_adversarial,
    }
    # The experiment commands name themselves in their error lines as cli.py does.
    for module in (cifar_task_sequence, dose_response):
        assert modules[module.COMMAND] is module


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--dataset", "digits", "--n-jobs", "0"],
        ["run", "--dataset", "digits", "--protocol", "label-shuffle", "--n-tasks", "1"],
        ["dose-response", "--confidence", "1.5", "--no-run"],
        ["summary", "--results", "no/such/folder", "--variants", "ce"],
    ],
)
def test_experiment_commands_report_bad_input_in_the_one_error_format(argv, tmp_path, capsys):
    assert cli.main([*argv, "--out", str(tmp_path)] if argv[0] != "summary" else argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"proglearn-supcon {argv[0]}: error: ") and captured.err.count("\n") == 1
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("proglearn-supcon") is None,
    reason="the proglearn-supcon script is not installed (pip install -e . installs it)",
)
def test_installed_script(tmp_path):
    done = subprocess.run(["proglearn-supcon", "compare", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "usage: proglearn-supcon compare" in done.stdout
    done = subprocess.run(["proglearn-supcon", "run", "--n-jobs"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
