"""Task bookkeeping of a progressive learner: transformers, voters, deciders.

Every task adds one transformer. Task ``t`` keeps one voter per transformer,
fitted on that transformer's embeddings of task ``t``'s data; its decider
combines the voters' posteriors (averages them, or weighs them by how well
each voter predicts the task's held-out points, :mod:`.task_deciders`).
Adding a transformer gives every earlier task a voter on it (backward
transfer); adding a task gives it a voter on every earlier transformer
(forward transfer).

Embedding is the costly step around training, so nothing is embedded twice:
fitting embeds each task's data once per transformer (each sample once), and
:meth:`ProgressiveLearner.predict_proba_tasks` answers many tasks from one
embedding of the inputs per transformer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split

from proglearn_supcon.deciders import DECIDERS
from proglearn_supcon.seeding import derive_seed
from proglearn_supcon.task_deciders import TaskDeciders
from proglearn_supcon.transformers import NeuralClassificationTransformer
from proglearn_supcon.validation import check_input_shape, check_inputs, check_labels
from proglearn_supcon.voters import KNNClassificationVoter

TransformerFactory = Callable[[int], NeuralClassificationTransformer]
VoterFactory = Callable[[np.ndarray], KNNClassificationVoter]
#: ``make_reducer(n_features)``: an unfitted reducer (``fit(X)``, ``transform(X)``) or None for none.
ReducerFactory = Callable[[int], object]


@dataclass(frozen=True)
class TaskData:
    """What the learner keeps of one task.

    Attributes
    ----------
    X, y : ndarray
        The task's data, kept so later transformers can fit voters on it.
    classes : ndarray
        Sorted class labels of the task.
    voter_indices : ndarray of int or None
        Rows fitting the voter of the task's own transformer (the share not
        used to train it); None when the task brought no transformer.
    """

    X: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    voter_indices: np.ndarray | None


class ProgressiveLearner:
    """Transformers, per-task voters and deciders of a progressive network.

    Parameters
    ----------
    make_transformer : callable
        ``make_transformer(transformer_id)`` returns an unfitted
        :class:`NeuralClassificationTransformer` (the id lets it derive a seed).
    make_voter : callable
        ``make_voter(classes)`` returns an unfitted voter whose
        ``predict_proba`` columns follow ``classes``.
    random_state : int or None
        Seeds the transformer/voter split of each task.
    make_reducer : callable or None, default=None
        ``make_reducer(embedding_dim)`` returns an unfitted reducer
        (``fit(X)``, ``transform(X)``, e.g.
        :class:`~proglearn_supcon.reduction.PrincipalProjection`) for a new
        transformer of that embedding width, or None to keep its embeddings
        as they are. A reducer is fitted on the new transformer's embeddings
        of the data it came with (for a task, both its transformer and voter
        shares) and maps every embedding of that transformer before its
        voters see it. None: no reduction.
    decider : str, default="average"
        Name of the decider of every task (:data:`~proglearn_supcon.deciders.DECIDERS`).
        A learned one is refitted on the voters' held-out posteriors each
        time a task gains a voter.

    Attributes
    ----------
    transformers_ : dict of int to NeuralClassificationTransformer
    tasks_ : dict of hashable to TaskData
    voters_ : dict of (transformer_id, task_id) to voter
    reducers_ : dict of transformer_id to fitted reducer
        Only the transformers that have one.
    task_deciders_ : TaskDeciders
        The voters' held-out posteriors and the deciders fitted on them.
    """

    def __init__(
        self,
        make_transformer: TransformerFactory,
        make_voter: VoterFactory,
        random_state=None,
        make_reducer: ReducerFactory | None = None,
        decider: str = "average",
    ):
        if decider not in DECIDERS:
            raise ValueError(f"decider must be one of {tuple(DECIDERS)}, got {decider!r}")
        self.make_transformer = make_transformer
        self.make_voter = make_voter
        self.random_state = random_state
        self.make_reducer = make_reducer
        self.decider = decider
        self.task_deciders_ = TaskDeciders()
        self.transformers_: dict = {}
        self.tasks_: dict = {}
        self.voters_: dict = {}
        self.reducers_: dict = {}
        self.input_shape_: tuple[int, ...] | None = None

    def __setstate__(self, state: dict) -> None:
        # Learners pickled before reducers (or deciders) existed lack these attributes.
        defaults = {"make_reducer": None, "reducers_": {}, "decider": "average", "task_deciders_": TaskDeciders()}
        self.__dict__.update({**defaults, **state})

    # ----------------------------------------------------------- bookkeeping
    @property
    def task_ids(self) -> list:
        return list(self.tasks_)

    @property
    def transformer_ids(self) -> list:
        return list(self.transformers_)

    def _next_id(self) -> int:
        ints = [i for i in (*self.tasks_, *self.transformers_) if isinstance(i, (int, np.integer))]
        return int(max(ints)) + 1 if ints else 0

    def _check_new_data(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        X = check_inputs(X)
        y = check_labels(y, len(X))
        check_input_shape(X, self.input_shape_)
        return X, y

    # --------------------------------------------------------------- learning
    def add_task(self, X, y, task_id=None, transformer_split: float = 0.67) -> "ProgressiveLearner":
        """Learn a new task: a new transformer plus voters in both directions.

        A random ``transformer_split`` share of the task (stratified by class)
        trains the new transformer; the rest fits that transformer's voter for
        this task. Every earlier transformer gets a voter on all of the task's
        data (forward transfer) and the new transformer gets a voter on all
        data of every earlier task (backward transfer).

        If anything fails, the learner is left exactly as it was.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C) or (n, d)
        y : ndarray of shape (n,)
        task_id : hashable, default=None
            New id (also the id of the new transformer); None: the next integer.
        transformer_split : float in (0, 1), default=0.67
        """
        if not 0 < transformer_split < 1:
            raise ValueError(f"transformer_split must be in (0, 1), got {transformer_split}")
        task_id = self._next_id() if task_id is None else task_id
        if task_id in self.tasks_:
            raise ValueError(f"task_id {task_id!r} already exists; task ids must be unique")
        if task_id in self.transformers_:
            raise ValueError(f"a transformer with id {task_id!r} already exists; pick another task_id")
        X, y = self._check_new_data(X, y)
        transformer_idx, voter_idx = self._split_task(y, transformer_split, task_id)
        classes = np.unique(y)

        transformer = self.make_transformer(task_id).fit(X[transformer_idx], y[transformer_idx])
        own = transformer.transform(X[voter_idx])

        def whole_task() -> np.ndarray:  # only a reducer needs the transformer share embedded: each sample once
            return np.concatenate([transformer.transform(X[transformer_idx]), own])

        reducer = self._fit_reducer(transformer, whole_task)
        new_voters = {(task_id, task_id): self._fit_voter(own, reducer, y[voter_idx], classes)}
        for tid, old in self.transformers_.items():
            new_voters[(tid, task_id)] = self._fit_voter(old.transform(X), self.reducers_.get(tid), y, classes)
        for old_task, data in self.tasks_.items():
            new_voters[(task_id, old_task)] = self._fit_voter(
                transformer.transform(data.X), reducer, data.y, data.classes
            )

        task = TaskData(X, y, classes, voter_idx)
        deciders = self._refit_deciders(new_voters, {task_id: task})

        # Commit only once everything has succeeded.
        self.input_shape_ = tuple(X.shape[1:])
        self.transformers_[task_id] = transformer
        if reducer is not None:
            self.reducers_[task_id] = reducer
        self.tasks_[task_id] = task
        self.voters_.update(new_voters)
        self.task_deciders_ = deciders
        return self

    def add_transformer(self, X, y, transformer_id=None) -> "ProgressiveLearner":
        """Train a transformer on (X, y) without adding a task; every task gets a voter on it."""
        transformer_id = self._next_id() if transformer_id is None else transformer_id
        if transformer_id in self.transformers_:
            raise ValueError(f"transformer_id {transformer_id!r} already exists")
        X, y = self._check_new_data(X, y)
        transformer = self.make_transformer(transformer_id).fit(X, y)
        reducer = self._fit_reducer(transformer, lambda: transformer.transform(X))
        new_voters = {
            (transformer_id, task_id): self._fit_voter(transformer.transform(data.X), reducer, data.y, data.classes)
            for task_id, data in self.tasks_.items()
        }
        deciders = self._refit_deciders(new_voters, {})
        self.input_shape_ = tuple(X.shape[1:])
        self.transformers_[transformer_id] = transformer
        if reducer is not None:
            self.reducers_[transformer_id] = reducer
        self.voters_.update(new_voters)
        self.task_deciders_ = deciders
        return self

    def _refit_deciders(self, new_voters: Mapping, new_tasks: Mapping) -> TaskDeciders:
        """The deciders after adding ``new_voters`` (and ``new_tasks``), fitted now; changes nothing here.

        Every task that gains a voter gets its decider over all of its voters
        refitted (from the kept held-out posteriors plus the new voters').
        """
        deciders = self.task_deciders_.copy()
        voters = {**self.voters_, **new_voters}
        tasks = {**self.tasks_, **new_tasks}
        order = list(dict.fromkeys([*self.transformers_, *(tid for tid, _ in new_voters)]))
        for task_id in dict.fromkeys(task for _, task in new_voters):
            ids = [tid for tid in order if (tid, task_id) in voters]
            deciders.decider(self.decider, task_id, ids, voters, tasks[task_id])
        return deciders

    def _split_task(self, y: np.ndarray, transformer_split: float, task_id) -> tuple[np.ndarray, np.ndarray]:
        indices = np.arange(len(y))
        n_voter = len(y) - int(round(transformer_split * len(y)))
        if n_voter < 1 or n_voter >= len(y) - 1:
            raise ValueError(
                f"a task of {len(y)} samples is too small to split {transformer_split:.2f} / "
                f"{1 - transformer_split:.2f} between the transformer and its voter"
            )
        _, counts = np.unique(y, return_counts=True)
        stratify = y if counts.min() >= 2 and min(n_voter, len(y) - n_voter) >= len(counts) else None
        seed = derive_seed(self.random_state, "split", task_id)
        t_idx, v_idx = train_test_split(indices, test_size=n_voter, stratify=stratify, random_state=seed)
        return np.sort(t_idx), np.sort(v_idx)

    def _fit_reducer(self, transformer, own_embeddings: Callable[[], np.ndarray]):
        """A reducer fitted on ``own_embeddings()`` (called only when there is one to fit), or None."""
        if self.make_reducer is None:
            return None
        reducer = self.make_reducer(transformer.embedding_dim_)
        return None if reducer is None else reducer.fit(own_embeddings())

    def _fit_voter(self, embeddings: np.ndarray, reducer, y, classes):
        return self.make_voter(classes).fit(self._reduced(embeddings, reducer), y)

    @staticmethod
    def _reduced(embeddings: np.ndarray, reducer) -> np.ndarray:
        return embeddings if reducer is None else reducer.transform(embeddings)

    # -------------------------------------------------------------- inference
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
