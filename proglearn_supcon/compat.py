"""Network parameters added after results files and saved models were written.

A results file records its run's network parameters and hashes them into its
recipe (:mod:`proglearn_supcon.runs.provenance`); a saved model holds the estimator
with the parameters it had then. A parameter added to the networks later is in
neither. :data:`ADDED_PARAMS` maps each such parameter to the value that does
exactly what the code did before the parameter existed, so that

* a recipe with the parameter at that value hashes like the same recipe
  without it: files written before keep their recipe hash and pool with new
  runs of the same recipe, and only a run that sets another value is a new
  recipe;
* a model saved before the parameter existed loads with that value.

Only a parameter whose earlier behaviour one value reproduces exactly may be
listed here; the value is that behaviour, not necessarily the default.
"""

from __future__ import annotations

__all__ = ["ADDED_PARAMS"]

#: Parameter name -> the value that reproduces the code from before the parameter.
#: voter_dim, voter_dtype: voters on the full float32 embedding (issue 19).
#: decider: every voter weighed the same (issue 31).
#: deterministic: torch's default kernels (issue 34).
ADDED_PARAMS: dict[str, object] = {
    "voter_dim": None,
    "voter_dtype": "float32",
    "decider": "average",
    "deterministic": False,
}
