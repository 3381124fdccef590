"""The analysis layer (proglearn_supcon/runs/analysis.py) and what the layers above it may not do."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from proglearn_supcon.runs.analysis import format_mean_interval

REPO = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement of ``path`` (relative imports resolved)."""
    package = "proglearn_supcon" + "".join(f".{p}" for p in path.relative_to(REPO / "proglearn_supcon").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_analysis_imports_no_plotting_nor_experiments():
    names = imported_modules(REPO / "proglearn_supcon" / "runs" / "analysis.py")
    upper = [n for n in names if n.startswith(("proglearn_supcon.plotting", "proglearn_supcon.experiments"))]
    assert not upper, upper
    assert not [n for n in names if n.split(".")[0] in ("matplotlib", "seaborn")]


def test_format_mean_interval():
    assert format_mean_interval(0.5, 0.4, 0.7) == "0.500 ± 0.150"
    assert format_mean_interval(0.5, np.nan, np.nan) == "0.500"  # one run: no interval
    assert format_mean_interval(7.25, 7.0, 7.5, digits=1) == "7.2 ± 0.2"


SUMMARIZE = textwrap.dedent("""
    import sys
    import matplotlib
    import numpy as np

    before = matplotlib.get_backend()
    from proglearn_supcon.experiments.summary import summarize
    from proglearn_supcon.runs.results import write_run
    from proglearn_supcon.runs.schema import TASK_FIELDS, RunResult

    root = sys.argv[1]
    for variant, acc0 in (("supcon", 1.0), ("ce", 0.8)):
        for shift in (1, 2):
            acc = np.array([[acc0, np.nan], [acc0, 0.7 + 0.01 * shift]])
            tasks = {name: np.full(2, 1.0) for name in TASK_FIELDS}
            write_run(root, RunResult(variant, "synthetic", shift, 0, acc, tasks, {"n_test_per_task": 50}))
    print(summarize(root, ["supcon", "ce"]))
    print("backend", before, matplotlib.get_backend())
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["svg", "agg"])
def test_summarize_keeps_the_backend_and_runs_headless(backend, tmp_path):
    """A notebook's backend stays as it was; with no display the figure is still written."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": backend}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "-c", SUMMARIZE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"backend {backend} {backend}" in done.stdout
    assert (tmp_path / "supcon_vs_ce.png").stat().st_size > 0
    assert (tmp_path / "supcon_vs_ce_summary.csv").exists()


def test_signed_differences_print_float_noise_and_negative_zero_as_zero():
    from proglearn_supcon.experiments.summary import _signed

    assert _signed(-3.700743e-17) == "+0.000"
    assert _signed(-0.0) == "+0.000"
    assert _signed(-0.0004) == "+0.000"
    assert _signed(-0.0006) == "-0.001"
    assert _signed(0.028) == "+0.028"
    assert _signed(float("nan")) == "n/a"
