"""The same fitted network with its voters stored another way (16-bit, fewer dimensions).

:func:`with_voter_storage` refits every voter of a fitted
:class:`~proglearn_supcon.network.LifelongClassificationNetwork` as if it had
been trained with other ``voter_dtype`` / ``voter_dim`` values, keeping its
transformers. It exists to measure what a storage option costs in accuracy:
two networks trained separately differ in their transformers as well (a
different order of floating-point work, or another seed, changes the training
path), so comparing them measures training noise; the same transformers
compared under two storages measure the storage alone.

The result is exactly the network that training with the new values would
have built from these transformers: the transformers' training does not read
``voter_dtype`` or ``voter_dim``, each voter is fitted on the same rows of
its task, and each transformer's projection (``voter_dim``) on its own
task's embeddings, both shares in the order
:meth:`~proglearn_supcon.learner.ProgressiveLearner.add_task` uses.
"""

from __future__ import annotations

import numpy as np

from proglearn_supcon.learner import ProgressiveLearner
from proglearn_supcon.network import LifelongClassificationNetwork

__all__ = ["with_voter_storage"]


def with_voter_storage(
    network: LifelongClassificationNetwork, voter_dtype: str = "float32", voter_dim: int | None = None
) -> LifelongClassificationNetwork:
    """A copy of a fitted ``network`` whose voters store ``voter_dtype``, reduced to ``voter_dim``.

    Parameters
    ----------
    network : LifelongClassificationNetwork
        Fitted with :meth:`~LifelongClassificationNetwork.add_task` only: a
        transformer added with ``add_transformer`` has no task data left to
        fit its projection on. It is not changed.
    voter_dtype : {"float32", "float16", "bfloat16"}, default="float32"
    voter_dim : int >= 1 or None, default=None
        As the network parameters of the same names.

    Returns
    -------
    LifelongClassificationNetwork
        Fitted, with ``network``'s parameters but these two. Its transformers
        and task data are ``network``'s own objects, shared and not copied:
        read them, do not train them further. Voters and projections are new.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``network`` has learned nothing.
    ValueError
        On a bad ``voter_dtype`` or ``voter_dim`` (before any work), or a
        transformer without a task.
    """
    network._check_fitted()
    stored = LifelongClassificationNetwork(
        **{**network.get_params(), "voter_dtype": voter_dtype, "voter_dim": voter_dim}
    )
    stored._check_params()
    old = network.learner_
    taskless = [tid for tid in old.transformers_ if tid not in old.tasks_]
    if taskless:
        raise ValueError(
            f"transformers {taskless} were added without a task (add_transformer); the data their "
            "projection would be fitted on is not kept, so their voters cannot be refitted"
        )
    learner = stored._new_learner()
    learner.transformers_ = dict(old.transformers_)
    learner.tasks_ = dict(old.tasks_)
    learner.input_shape_ = old.input_shape_
    for tid, transformer in old.transformers_.items():
        reducer = learner._fit_reducer(transformer, lambda tid=tid, t=transformer: _whole_task(old, tid, t))
        if reducer is not None:
            learner.reducers_[tid] = reducer
    for (tid, task_id), _ in old.voters_.items():
        embeddings, labels = old.voter_fit_embeddings(tid, task_id)
        learner.voters_[(tid, task_id)] = learner._fit_voter(
            embeddings, learner.reducers_.get(tid), labels, old.tasks_[task_id].classes
        )
    stored.learner_ = learner
    return stored


def _whole_task(learner: ProgressiveLearner, tid, transformer) -> np.ndarray:
    """Transformer ``tid``'s embeddings of its own task: its training share, then its voter's share.

    The order of ``add_task``, so the projection is fitted on the same matrix.
    """
    data = learner.tasks_[tid]
    training_share = np.setdiff1d(np.arange(len(data.y)), data.voter_indices)
    own, _ = learner.voter_fit_embeddings(tid, tid)
    return np.concatenate([transformer.transform(data.X[training_share]), own])
