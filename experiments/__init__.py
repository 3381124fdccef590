"""Entry scripts of the experiments; the code lives in :mod:`proglearn_supcon.experiments`."""
