"""The recipe search on the held-out shift 6.

A thin entry script: the code is :mod:`proglearn_supcon.experiments.recipe_search`, and
``python experiments/recipe_search.py``, ``python -m experiments.recipe_search`` (from a checkout) and
``python -m proglearn_supcon.experiments.recipe_search`` take the same options.
"""

import sys

from proglearn_supcon.experiments.recipe_search import main

if __name__ == "__main__":
    sys.exit(main())
