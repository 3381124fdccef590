"""The dose-response on the held-out shift 6 (``proglearn-supcon dose-response``).

A thin entry script: the code is :mod:`proglearn_supcon.experiments.dose_response`, and
``python experiments/dose_response.py``, ``python -m experiments.dose_response`` (from a checkout) and the
installed command take the same options.
"""

import sys

from proglearn_supcon.experiments.dose_response import main

if __name__ == "__main__":
    sys.exit(main())
