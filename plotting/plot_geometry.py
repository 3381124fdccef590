"""Transfer matrices and embedding geometry of two variants (``proglearn-supcon geometry``).

A thin entry script: the code is :mod:`proglearn_supcon.plotting.plot_geometry`, and
``python plotting/plot_geometry.py``, ``python -m plotting.plot_geometry`` (from a checkout) and the
installed command take the same options.
"""

import sys

from proglearn_supcon.plotting.plot_geometry import main

if __name__ == "__main__":
    sys.exit(main())
