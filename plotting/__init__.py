"""Entry scripts of the figures; the code lives in :mod:`proglearn_supcon.plotting`."""
