"""How a progressive learner answers: voter posteriors, the deciders over them, labels.

``_LearnerInference``, a base class of
:class:`~proglearn_supcon.learner.ProgressiveLearner`, holds every query of a
learner that has learned: embeddings of one transformer, the voters'
posteriors, a task's decider over them, predictions for one task or many. The
learner's own module keeps the bookkeeping of what it learned (transformers,
voters, task data, deciders) and how it learns.

Embedding is the costly step, so nothing is embedded twice:
:meth:`~proglearn_supcon.learner.ProgressiveLearner.predict_proba_tasks`
answers many tasks from one embedding of the inputs per transformer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from sklearn.exceptions import NotFittedError

from proglearn_supcon.validation import check_input_shape, check_inputs


class _LearnerInference:
    """The queries of :class:`~proglearn_supcon.learner.ProgressiveLearner`.

    Not used alone: the methods read the learner's ``transformers_``,
    ``tasks_``, ``voters_``, ``reducers_``, ``task_deciders_``, ``decider``,
    ``input_shape_`` and its ``task_ids`` and ``transformer_ids``.
    """

    @staticmethod
    def _reduced(embeddings: np.ndarray, reducer) -> np.ndarray:
        return embeddings if reducer is None else reducer.transform(embeddings)

    def _check_task(self, task_id) -> None:
        if not self.tasks_:
            raise NotFittedError("this learner has no task yet; call add_task first")
        if task_id not in self.tasks_:
            raise ValueError(f"unknown task_id {task_id!r}; known tasks: {self.task_ids}")

    def _resolve_transformers(self, task_id, transformer_ids: Iterable | None) -> list:
        if transformer_ids is None:
            return [tid for tid in self.transformers_ if (tid, task_id) in self.voters_]
        ids = list(transformer_ids)
        if not ids:
            raise ValueError("transformer_ids is empty")
        unknown = [tid for tid in ids if (tid, task_id) not in self.voters_]
        if unknown:
            raise ValueError(f"no voter for task {task_id!r} on transformers {unknown}; known: {self.transformer_ids}")
        return ids

    def transform(self, X, transformer_id) -> np.ndarray:
        """Embeddings of X by one transformer, float32 (n, embedding_dim)."""
        if transformer_id not in self.transformers_:
            raise ValueError(f"unknown transformer_id {transformer_id!r}; known: {self.transformer_ids}")
        return self.transformers_[transformer_id].transform(X)

    def voter_fit_embeddings(self, transformer_id, task_id) -> tuple[np.ndarray, np.ndarray]:
        """The encoder embeddings voter ``(transformer_id, task_id)`` was fitted on.

        Read from the voter (no forward pass) when it stores them as they
        are; when its transformer has a reducer (``voter_dim``) or the voter
        stores 16 bits (``voter_dtype``), what it holds is not the encoder's
        embedding, so the rows are embedded again.

        Parameters
        ----------
        transformer_id, task_id : hashable
            The voter's transformer and task.

        Returns
        -------
        embeddings : ndarray of shape (n_fit, embedding_dim), float32
            The transformer's embeddings of the task's rows the voter was
            fitted on: all of the task's data, or for the task's own
            transformer its voter split (``TaskData.voter_indices``), in that
            order. When read from the voter, its own array: read it, do not
            change it.
        labels : ndarray of shape (n_fit,)
            Their labels.

        Raises
        ------
        ValueError
            If there is no such voter.
        """
        voter = self.voters_.get((transformer_id, task_id))
        if voter is None:
            raise ValueError(f"no voter for task {task_id!r} on transformer {transformer_id!r}")
        labels = voter.classes_[voter.y_fit_]
        stored = voter.X_fit_
        if transformer_id not in self.reducers_ and isinstance(stored, np.ndarray) and stored.dtype == np.float32:
            return stored, labels
        data = self.tasks_[task_id]
        rows = data.voter_indices if transformer_id == task_id else slice(None)
        return self.transform(data.X[rows], transformer_id), labels

    def predict_proba_from_embeddings(self, embeddings: Mapping, task_id) -> np.ndarray:
        """Decider posteriors of task ``task_id`` from precomputed embeddings.

        ``embeddings`` maps transformer id to that transformer's embeddings of
        the same inputs; every transformer named there votes. Lets a caller
        reuse embeddings across tasks and calls.
        """
        return self.decide(self.voter_posteriors(embeddings, task_id), task_id)

    def voter_posteriors(self, embeddings: Mapping, task_id) -> dict:
        """Each named transformer's voter posteriors (n, n_classes) for task ``task_id``.

        ``embeddings`` maps transformer id to that transformer's embeddings of
        the same inputs (as :meth:`transform` gives them; a transformer's
        reducer, if any, is applied here). A voter never changes once fitted,
        so a caller may keep these and pass them to :meth:`decide` as more
        transformers come.
        """
        self._check_task(task_id)
        ids = self._resolve_transformers(task_id, list(embeddings))
        return self._posteriors({tid: self._reduced(embeddings[tid], self.reducers_.get(tid)) for tid in ids}, task_id)

    def _posteriors(self, reduced: Mapping, task_id) -> dict:
        """Voter posteriors of task ``task_id`` for every transformer of ``reduced`` (embeddings already reduced)."""
        return {tid: self.voters_[(tid, task_id)].predict_proba(embeddings) for tid, embeddings in reduced.items()}

    def decide(self, posteriors: Mapping, task_id, decider: str | None = None) -> np.ndarray:
        """Posteriors (n, n_classes) of task ``task_id``'s decider over voter posteriors keyed by transformer id.

        ``decider`` names the decider (:data:`~proglearn_supcon.deciders.DECIDERS`);
        None: this learner's ``decider``. A learned one is fitted for exactly
        the voters given (once; kept for later calls), so the single-task
        learner (``{task_id: ...}`` alone) is the own voter whatever the decider.
        """
        self._check_task(task_id)
        ids = self._resolve_transformers(task_id, list(posteriors))
        name = self.decider if decider is None else decider
        if name != "average":  # weights are fitted (and kept) per voter set, in transformer order
            given = set(ids)
            ids = [tid for tid in self.transformers_ if tid in given]
        fitted = self.task_deciders_.decider(name, task_id, ids, self.voters_, self.tasks_[task_id])
        return fitted.predict_proba([posteriors[tid] for tid in ids])

    def decider_weights(self, task_id, decider: str | None = None) -> dict:
        """Weight of each transformer's voter in task ``task_id``'s decider over all of its voters.

        Returns a dict of transformer id to weight (non-negative, summing to
        1; uniform for "average"), in transformer order.
        """
        self._check_task(task_id)
        ids = self._resolve_transformers(task_id, None)
        name = self.decider if decider is None else decider
        return self.task_deciders_.weights(name, task_id, ids, self.voters_, self.tasks_[task_id])

    def predict_proba(self, X, task_id, transformer_ids: Iterable | None = None, decider: str | None = None):
        """Posteriors (n, n_classes of the task), columns in sorted label order.

        ``transformer_ids=None`` uses every transformer that has a voter for
        the task; ``[task_id]`` is the single-task learner. ``decider``: as
        in :meth:`decide`.
        """
        return self.predict_proba_tasks(X, [task_id], transformer_ids, decider)[task_id]

    def predict(self, X, task_id, transformer_ids: Iterable | None = None, decider: str | None = None) -> np.ndarray:
        """Predicted labels (n,), in the task's original label values."""
        return self.predict_tasks(X, [task_id], transformer_ids, decider)[task_id]

    def predict_proba_tasks(
        self, X, task_ids: Iterable | None = None, transformer_ids: Iterable | None = None, decider: str | None = None
    ) -> dict:
        """Posteriors of several tasks for the same inputs, from one embedding of them per transformer.

        Calling :meth:`predict_proba` once per task would embed ``X`` once
        per task and transformer; here every transformer that votes on any of
        the tasks embeds (and reduces) ``X`` once.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C) or (n, d)
        task_ids : iterable of hashable or None, default=None
            Tasks to answer (repeats are answered once); None: every task.
        transformer_ids : iterable or None, default=None
            As in :meth:`predict_proba`, the same for every task.
        decider : str or None, default=None
            As in :meth:`decide`.

        Returns
        -------
        dict of task id to ndarray of shape (n, n_classes of the task), float64
            In the order of ``task_ids``; each equals ``predict_proba(X, task_id, transformer_ids)``.
        """
        task_ids = list(dict.fromkeys(self.task_ids if task_ids is None else task_ids))
        if not task_ids:
            raise ValueError("task_ids is empty")
        for task_id in task_ids:
            self._check_task(task_id)
        voting = {task_id: self._resolve_transformers(task_id, transformer_ids) for task_id in task_ids}
        X = check_inputs(X)
        check_input_shape(X, self.input_shape_)
        needed = dict.fromkeys(tid for ids in voting.values() for tid in ids)
        reduced = {tid: self._reduced(self.transform(X, tid), self.reducers_.get(tid)) for tid in needed}
        probas = {}
        for task_id, ids in voting.items():
            probas[task_id] = self.decide(
                self._posteriors({tid: reduced[tid] for tid in ids}, task_id), task_id, decider
            )
        return probas

    def predict_tasks(
        self, X, task_ids: Iterable | None = None, transformer_ids: Iterable | None = None, decider: str | None = None
    ) -> dict:
        """Predicted labels (n,) of several tasks, as :meth:`predict_proba_tasks` (dict of task id to labels)."""
        probas = self.predict_proba_tasks(X, task_ids, transformer_ids, decider)
        return {task_id: self.tasks_[task_id].classes[np.argmax(p, axis=1)] for task_id, p in probas.items()}
