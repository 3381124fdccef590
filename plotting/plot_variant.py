"""The transfer and timing figures of one variant (``proglearn-supcon plot``).

A thin entry script: the code is :mod:`proglearn_supcon.plotting.plot_variant`, and
``python plotting/plot_variant.py``, ``python -m plotting.plot_variant`` (from a checkout) and the
installed command take the same options.
"""

import sys

from proglearn_supcon.plotting.plot_variant import main

if __name__ == "__main__":
    sys.exit(main())
