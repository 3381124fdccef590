"""Each task's deciders, fitted on its voters' held-out (leave-one-out) posteriors.

A learned decider (:mod:`proglearn_supcon.deciders`) needs posteriors that
no voter computed from the point itself, on points that are not test data.
Every voter of task ``t`` holds the task's *voter split* (the rows that did
not train task ``t``'s own transformer): its own voter is fitted on exactly
those rows, and every other transformer's voter on all of the task's data.
So every voter can give a leave-one-out posterior of each voter-split point,
and all voters are scored on the same points, with none of them having
trained on those points or voted on themselves.

Voters never change once fitted, so each voter's leave-one-out posteriors are
computed once and kept, and a decider fitted for a set of voters stays valid:
when a new transformer adds a voter to a task, the task's decider over the
new set is fitted (cheaply, from the kept posteriors); nothing is retrained.

The wall seconds spent on both are kept too (:attr:`TaskDeciders.seconds`),
so a run can record what its decider cost (:meth:`TaskDeciders.seconds_for`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import numpy as np

from proglearn_supcon.deciders import SimpleArgmaxAverage, make_decider

__all__ = ["LEAVE_ONE_OUT", "TaskDeciders", "held_out_rows"]

#: Key of :attr:`TaskDeciders.seconds` for the leave-one-out posteriors (the others are decider names).
LEAVE_ONE_OUT = "leave-one-out"


def held_out_rows(voter_indices: np.ndarray | None, n_task: int, own: bool) -> np.ndarray:
    """Rows of a voter's fit set that are the task's voter-split points, in their order.

    Parameters
    ----------
    voter_indices : ndarray of int or None
        The task's voter split (indices into its data); None: the task
        brought no transformer of its own, so all of its data is held out.
    n_task : int
        Number of samples of the task.
    own : bool
        Whether the voter is the one of the task's own transformer (fitted on
        the voter split alone) rather than on all of the task's data.
    """
    if voter_indices is None:
        return np.arange(n_task)
    return np.arange(len(voter_indices)) if own else np.asarray(voter_indices)


class TaskDeciders:
    """Fitted deciders of every task, keyed by task, voting transformers and decider name.

    Attributes
    ----------
    loo_posteriors : dict of (transformer_id, task_id) to ndarray of shape (n_held_out, n_classes)
        Each voter's leave-one-out posteriors of its task's voter-split points.
    fitted : dict of (task_id, tuple of transformer ids, name) to decider
    seconds : dict of str to float
        Wall seconds spent so far: :data:`LEAVE_ONE_OUT` on the voters'
        leave-one-out posteriors, and each decider name on its fits (without
        the leave-one-out posteriors a fit computed first).
    """

    def __init__(self) -> None:
        self.loo_posteriors: dict = {}
        self.fitted: dict = {}
        self.seconds: dict[str, float] = {}

    def __setstate__(self, state: dict) -> None:
        # Learners pickled before the seconds were kept lack them.
        self.__dict__.update({"seconds": {}, **state})

    def seconds_for(self, name: str) -> float:
        """Wall seconds a network deciding by ``name`` has spent on it: the leave-one-out posteriors and its fits.

        0 for ``"average"``, which needs neither.
        """
        if name == "average":
            return 0.0
        return self.seconds.get(LEAVE_ONE_OUT, 0.0) + self.seconds.get(name, 0.0)

    def _add_seconds(self, what: str, seconds: float) -> None:
        self.seconds[what] = self.seconds.get(what, 0.0) + seconds

    def decider(self, name: str, task_id, transformer_ids: Sequence, voters: Mapping, task) -> object:
        """The ``name`` decider of task ``task_id`` over ``transformer_ids``' voters, fitted if needed.

        Parameters
        ----------
        name : str
            A name of :data:`~proglearn_supcon.deciders.DECIDERS`.
        task_id : hashable
        transformer_ids : sequence of hashable
            The voting transformers, in the order their posteriors will come.
        voters : mapping of (transformer_id, task_id) to fitted voter
        task : TaskData
            The task's data, classes and voter split.
        """
        if name == "average":  # nothing to fit (and no leave-one-out posteriors to compute)
            return SimpleArgmaxAverage(task.classes)
        key = (task_id, tuple(transformer_ids), name)
        if key not in self.fitted:
            posteriors = [self.held_out_posteriors(tid, task_id, voters, task) for tid in transformer_ids]
            start = time.perf_counter()
            rows = held_out_rows(task.voter_indices, len(task.y), own=False)
            own = list(transformer_ids).index(task_id) if task_id in transformer_ids else None
            self.fitted[key] = make_decider(name, task.classes).fit(posteriors, task.y[rows], own=own)
            self._add_seconds(name, time.perf_counter() - start)
        return self.fitted[key]

    def held_out_posteriors(self, transformer_id, task_id, voters: Mapping, task) -> np.ndarray:
        """Voter ``(transformer_id, task_id)``'s leave-one-out posteriors of the task's voter split (computed once)."""
        key = (transformer_id, task_id)
        if key not in self.loo_posteriors:
            start = time.perf_counter()
            rows = held_out_rows(task.voter_indices, len(task.y), own=transformer_id == task_id)
            self.loo_posteriors[key] = voters[key].loo_predict_proba(rows)
            self._add_seconds(LEAVE_ONE_OUT, time.perf_counter() - start)
        return self.loo_posteriors[key]

    def weights(self, name: str, task_id, transformer_ids: Sequence, voters: Mapping, task) -> dict:
        """Each voting transformer's weight in the ``name`` decider of task ``task_id`` (uniform for "average")."""
        decider = self.decider(name, task_id, transformer_ids, voters, task)
        weights = getattr(decider, "weights_", np.full(len(transformer_ids), 1.0 / len(transformer_ids)))
        return {tid: float(w) for tid, w in zip(transformer_ids, weights)}

    def copy(self) -> "TaskDeciders":
        """A copy whose additions leave this one as it is (the cached arrays and deciders are shared)."""
        other = TaskDeciders()
        other.loo_posteriors, other.fitted = dict(self.loo_posteriors), dict(self.fitted)
        other.seconds = dict(self.seconds)
        return other
