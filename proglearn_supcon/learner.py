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

This module holds the bookkeeping and the learning; the queries of a learner
(embeddings, posteriors, deciders, predictions) are in
:mod:`proglearn_supcon.inference`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from proglearn_supcon.deciders import DECIDERS
from proglearn_supcon.inference import _LearnerInference
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


class ProgressiveLearner(_LearnerInference):
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
