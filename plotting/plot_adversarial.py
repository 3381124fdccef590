"""Task 1's backward transfer in the label-shuffle and rotation sequences (``proglearn-supcon adversarial``).

A thin entry script: the code is :mod:`proglearn_supcon.plotting.plot_adversarial`, and
``python plotting/plot_adversarial.py``, ``python -m plotting.plot_adversarial`` (from a checkout) and the
installed command take the same options.
"""

import sys

from proglearn_supcon.plotting.plot_adversarial import main

if __name__ == "__main__":
    sys.exit(main())
