"""Benchmarks of proglearn-supcon: run ``python -m benchmarks.run`` (see its ``--help``)."""
