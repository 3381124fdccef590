"""
SupCon against cross-entropy on CIFAR-100 10x10
===============================================

The differences supcon - ce of forward, backward and total transfer efficiency
and of accuracy, from the committed 20-run table of the CIFAR-100 study (20
runs per variant under the library's defaults, paired by shift and slot; see
:doc:`/cifar100`). Drawing it needs only the results files in
``docs/results/cifar100_20runs``, not the data.
"""

from pathlib import Path

from proglearn_supcon.plotting.compare_variants import compare_variants

try:
    here = Path(__file__).resolve().parent
except NameError:  # run interactively
    here = Path.cwd()
results = here.parent / "docs" / "results" / "cifar100_20runs"

fig, summary = compare_variants(results, "supcon", "ce")
summary
