"""Train progressive networks over a task sequence (``proglearn-supcon run``).

A thin entry script: the code is :mod:`proglearn_supcon.experiments.cifar_task_sequence`, and
``python experiments/cifar_task_sequence.py``, ``python -m experiments.cifar_task_sequence`` (from a checkout) and the
installed command take the same options.
"""

import sys

from proglearn_supcon.experiments.cifar_task_sequence import main

if __name__ == "__main__":
    sys.exit(main())
