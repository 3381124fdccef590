"""
Quick start: the main job on the offline digits sequence
========================================================

``proglearn-supcon run`` trains progressive networks whose transformers use
SupCon, cross-entropy (CE) and TCL over ``digits-hard``, an offline sequence of
two-class tasks made of scikit-learn's digits (rotated, shifted and noisy), and
ends with the supcon - ce comparison. This example runs the same command from
Python with two variants and three tasks, to keep it short, and writes its
results into a temporary folder.
"""

# %%
# Run the experiment
# ------------------
# :func:`proglearn_supcon.cli.main` takes the command line's arguments;
# ``--help`` lists them with their defaults.
import tempfile
from pathlib import Path

from proglearn_supcon.cli import main

out = Path(tempfile.mkdtemp()) / "digits-hard"
status = main(["run", "--variant", "supcon", "ce", "--n-tasks", "3", "--quiet", "--out", str(out)])
print("exit status:", status)

# %%
# The figure of the comparison
# ----------------------------
# The run wrote one results file per (variant, shift, slot) and the supcon - ce
# figure; :func:`~proglearn_supcon.plotting.compare_variants.compare_variants`
# draws it again from the results files. With one run of three small tasks, the
# intervals are over the tasks of that run and the differences are noise.
from proglearn_supcon.plotting.compare_variants import compare_variants

fig, summary = compare_variants(out, "supcon", "ce")
# Shown to 3 decimals, as the command prints them: a difference of 1e-17 is
# float noise, and -0.0 is 0 (adding 0.0 turns -0.0 into 0.0).
numbers = summary.select_dtypes("float").columns
summary[numbers] = summary[numbers].round(3) + 0.0
summary
