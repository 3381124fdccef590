"""The difference figure of two variants (``proglearn-supcon compare``).

A thin entry script: the code is :mod:`proglearn_supcon.plotting.compare_variants`, and
``python plotting/compare_variants.py``, ``python -m plotting.compare_variants`` (from a checkout) and the
installed command take the same options.
"""

import sys

from proglearn_supcon.plotting.compare_variants import main

if __name__ == "__main__":
    sys.exit(main())
