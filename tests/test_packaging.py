"""What pip installs: one top-level name, proglearn_supcon (the checkout's experiments/ and plotting/ are scripts)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_only_proglearn_supcon(tmp_path):
    # Built from a copy, so the checkout gets no build/ or egg-info; offline:
    # no build isolation, so the setuptools already installed builds it.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("proglearn_supcon", "experiments", "plotting", "benchmarks"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("proglearn_supcon-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        assert archive.read(top_level).decode().split() == ["proglearn_supcon"]
    roots = {name.split("/")[0] for name in names}
    assert {root for root in roots if not root.endswith(".dist-info")} == {"proglearn_supcon"}
    # The subpackages the scripts and the console command need are in it.
    for module in (
        "runs/analysis",
        "cli",
        "experiments/driver",
        "experiments/arguments",
        "plotting/figures",
        "plotting/arguments",
    ):
        assert f"proglearn_supcon/{module}.py" in names
