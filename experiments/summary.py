"""The table of each variant's means over its finished runs (``proglearn-supcon summary``).

A thin entry script: the code is :mod:`proglearn_supcon.experiments.summary`, and
``python experiments/summary.py``, ``python -m experiments.summary`` (from a checkout) and the
installed command take the same options.
"""

import sys

from proglearn_supcon.experiments.summary import main

if __name__ == "__main__":
    sys.exit(main())
