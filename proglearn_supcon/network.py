"""scikit-learn style estimators over :class:`~proglearn_supcon.learner.ProgressiveLearner`.

:class:`LifelongClassificationNetwork` learns a sequence of tasks;
:class:`SupConKNNClassifier` is the single-task learner (one transformer and
its kNN voter) as an ordinary scikit-learn classifier.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import column_or_1d

from proglearn_supcon.hyperparams import ADDED_PARAMS, TRANSFORMER_PARAMS, check_params, store_params
from proglearn_supcon.learner import ProgressiveLearner
from proglearn_supcon.persistence import load_object, save_object
from proglearn_supcon.reduction import PrincipalProjection
from proglearn_supcon.seeding import derive_seed
from proglearn_supcon.training.encoders import EncoderFactory
from proglearn_supcon.transformers import NeuralClassificationTransformer
from proglearn_supcon.validation import check_inputs
from proglearn_supcon.voters import KNNClassificationVoter


@contextlib.contextmanager
def _deciding_with(learner: ProgressiveLearner, decider: str):
    """Refit ``learner``'s deciders as ``decider`` (a ``set_params`` since the last task applies); undone on error."""
    previous = learner.decider
    learner.decider = decider
    try:
        yield
    except BaseException:
        learner.decider = previous
        raise


class _NetworkParams(BaseEstimator):
    """Constructor parameters shared by both estimators and how they build parts.

    The parameters are declared in :mod:`proglearn_supcon.hyperparams`; the
    signature spells them out because scikit-learn reads them from it.
    """

    def __init__(
        self,
        *,
        loss: str = "supcon",
        encoder: EncoderFactory | None = None,
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        lr_schedule: str = "cosine",
        warmup_epochs: int = 5,
        ema_decay: float = 0.9,
        temperature: float = 0.2,
        tcl_k1: float = 1.0,
        tcl_k2: float = 1.0,
        label_smoothing: float = 0.0,
        projection_dim: int = 128,
        projection_hidden_dim: int = 512,
        n_views: int = 1,
        augment: bool = True,
        whiten_first_conv: bool = True,
        validation_fraction: float = 0.0,
        early_stopping: str = "knn",
        patience: int = 20,
        min_epochs: int = 10,
        validation_interval: int = 1,
        k: int | None = None,
        metric: str = "cosine",
        voter_dim: int | None = None,
        voter_dtype: str = "float32",
        flip_average: bool = True,
        transformer_split: float = 0.67,
        decider: str = "shrunk-em-brier-own-1se",
        precision: str = "auto",
        compile: bool = False,
        deterministic: bool = True,
        device: str | torch.device = "auto",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        store_params(self, locals())

    def _make_transformer(self, transformer_id) -> NeuralClassificationTransformer:
        # Every transformer parameter but the seed has a same-named one here.
        params = {name: getattr(self, name) for name in TRANSFORMER_PARAMS if name != "random_state"}
        seed = None if self.random_state is None else derive_seed(self.random_state, "transformer", transformer_id)
        return NeuralClassificationTransformer(**params, random_state=seed)

    def _make_voter(self, classes: np.ndarray) -> KNNClassificationVoter:
        return KNNClassificationVoter(k=self.k, metric=self.metric, classes=classes, storage_dtype=self.voter_dtype)

    def _make_reducer(self, n_features: int) -> PrincipalProjection | None:
        """The projection of a transformer's ``n_features``-wide embedding for its voters; None: none.

        None also when ``voter_dim`` is at least the width: the voters then
        get the embeddings themselves, not an orthogonal rotation of them
        (whose rounding could reorder near-equal distances), so their
        predictions are exactly those of ``voter_dim=None``.
        """
        if self.voter_dim is None or self.voter_dim >= n_features:
            return None
        # Uncentred for cosine, which measures angles from the origin (see PrincipalProjection).
        return PrincipalProjection(self.voter_dim, center=self.metric == "euclidean")

    def _check_params(self) -> None:
        """Check the cheap parameters before any training starts.

        Run before every add_task / add_transformer / fit, so a bad
        ``set_params`` fails before a transformer trains rather than at its
        voters; the command line checks every run's parameters the same way
        (:func:`~proglearn_supcon.hyperparams.check_params`) before the first one starts.
        """
        check_params(self.get_params(deep=False))

    def _new_learner(self) -> ProgressiveLearner:
        return ProgressiveLearner(
            self._make_transformer,
            self._make_voter,
            random_state=self.random_state,
            make_reducer=self._make_reducer,
            decider=self.decider,
        )

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted estimator to ``path`` (atomically). Load it with :meth:`load`."""
        save_object(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | torch.device | None = None):
        """Read an estimator written by :meth:`save`.

        The file is a pickle: load only files you trust. ``device`` moves the
        encoders there (e.g. "cpu" for a model trained on a GPU).
        """
        obj = load_object(path, expected_type=cls)
        # A file saved before a parameter was added lacks it; the listed value
        # is what that code did, so the loaded network predicts as it did.
        for name, value in ADDED_PARAMS.items():
            obj.__dict__.setdefault(name, value)
        learner = getattr(obj, "learner_", None)
        if device is not None and learner is not None:
            for transformer in learner.transformers_.values():
                transformer.to(device)
        return obj

    def _check_fitted(self) -> None:
        if not hasattr(self, "learner_"):
            raise NotFittedError(
                f"This {type(self).__name__} has learned nothing yet; call "
                f"{'add_task' if isinstance(self, LifelongClassificationNetwork) else 'fit'} first."
            )


class LifelongClassificationNetwork(_NetworkParams):
    """A progressive-learning network: one CNN transformer per task, kNN voters, a decider that weighs them.

    Parameters
    ----------
    loss : {"supcon", "ce", "tcl"}, default="supcon"
        Loss that trains each transformer (see :class:`NeuralClassificationTransformer`).
    encoder : callable or None, default=None
        Encoder factory; None: ProgLearn's CNN for images, an MLP for 2-D features.
    epochs, batch_size, lr, weight_decay, lr_schedule, warmup_epochs, ema_decay, temperature,
    tcl_k1, tcl_k2, label_smoothing, projection_dim, projection_hidden_dim, n_views, augment,
    whiten_first_conv, validation_fraction, early_stopping, patience, min_epochs, validation_interval,
    flip_average, precision, compile, deterministic, device, verbose
        Training and embedding options of every transformer (see
        :class:`NeuralClassificationTransformer`).
    k : int or None, default=None
        Neighbours of each kNN voter (and of the validation kNN that selects
        each transformer's epoch); None: floor(log2(n_fit)).
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance of the kNN voters (and of the validation kNN) in embedding space.
    voter_dim : int or None, default=None
        Width of the embeddings the voters store and compare. None: the full
        embedding. An int >= 1 below the embedding's width: each new
        transformer's embeddings of its own task (both shares) fit a
        :class:`~proglearn_supcon.reduction.PrincipalProjection` onto at most
        ``voter_dim`` principal directions (uncentred for the cosine metric),
        which then maps every embedding of that transformer, fit and query,
        for all of its voters. At or above the width, nothing is projected:
        exactly the voters of None. The validation kNN is not reduced.
    voter_dtype : {"float32", "float16", "bfloat16"}, default="float32"
        How the voters store their fit embeddings (after ``voter_dim``); the
        16-bit types halve the memory, distances stay float64 (see
        :class:`~proglearn_supcon.voters.KNNClassificationVoter`).
    transformer_split : float, default=0.67
        Share of a task's data that trains its transformer; the rest fits the
        transformer's own voter.
    decider : {"shrunk-em-brier-own-1se", "shrunk-em-brier-1se", "shrunk-em", "average", "em", "softmax", "best-k"}, \
default="shrunk-em-brier-own-1se"
        How each task combines its voters' posteriors
        (:mod:`proglearn_supcon.deciders`), learned from the task's
        voter-split points, each voter scoring them left out one at a time
        (no test data, no extra split). ``"shrunk-em-brier-1se"``: weights
        that maximise the likelihood of those points, shrunk towards the
        average as far as cross-validation allows (the most shrunk amount
        whose held-out Brier score is within one standard error of the
        best). ``"shrunk-em-brier-own-1se"``: the task's own voter alone
        unless those weights beat it by more than one standard error, so the
        other transformers count only where they help the task's single-task
        learner beyond the noise. ``"shrunk-em"`` picks the amount with the
        best held-out log-likelihood (the first default). All are refitted
        whenever a task gains a voter. ``"average"`` weighs every voter the
        same (ProgLearn's decider).
    random_state : int or None, default=None
        Seeds every transformer and every split (derived per id, so a network
        is reproducible task by task).

    Attributes
    ----------
    learner_ : ProgressiveLearner
        Transformers, voters and task data, created by the first :meth:`add_task`.
    decider_weights_ : dict of task id to dict of transformer id to float
        Each task's voter weights in its decider over all of its voters.
    """

    def add_task(self, X, y, task_id=None) -> "LifelongClassificationNetwork":
        """Learn a new task; see :meth:`ProgressiveLearner.add_task`.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C) uint8 or float in [0, 1], or (n, d)
        y : ndarray of shape (n,)
        task_id : hashable or None
        """
        self._check_params()
        learner = getattr(self, "learner_", None) or self._new_learner()
        with _deciding_with(learner, self.decider):
            learner.add_task(X, y, task_id=task_id, transformer_split=self.transformer_split)
        self.learner_ = learner  # set only once the first task succeeded
        return self

    def add_transformer(self, X, y, transformer_id=None) -> "LifelongClassificationNetwork":
        """Add a transformer trained on (X, y) without a task; existing tasks get voters on it."""
        self._check_params()
        learner = getattr(self, "learner_", None) or self._new_learner()
        with _deciding_with(learner, self.decider):
            learner.add_transformer(X, y, transformer_id=transformer_id)
        self.learner_ = learner
        return self

    @property
    def decider_weights_(self) -> dict:
        self._check_fitted()
        return {task_id: self.learner_.decider_weights(task_id, self.decider) for task_id in self.learner_.task_ids}

    @property
    def task_ids_(self) -> list:
        self._check_fitted()
        return self.learner_.task_ids

    @property
    def transformer_ids_(self) -> list:
        self._check_fitted()
        return self.learner_.transformer_ids

    def predict_proba(self, X, task_id, transformer_ids: Iterable | None = None) -> np.ndarray:
        """Posteriors of task ``task_id``: ndarray (n, n_classes), columns in sorted label order."""
        self._check_fitted()
        return self.learner_.predict_proba(X, task_id, transformer_ids, self.decider)

    def predict(self, X, task_id, transformer_ids: Iterable | None = None) -> np.ndarray:
        """Predicted labels (n,) of task ``task_id``; ``transformer_ids=[task_id]`` is the single-task learner."""
        self._check_fitted()
        return self.learner_.predict(X, task_id, transformer_ids, self.decider)

    def predict_proba_tasks(self, X, task_ids: Iterable | None = None, transformer_ids: Iterable | None = None) -> dict:
        """Posteriors of several tasks for the same inputs, each transformer embedding ``X`` once.

        Returns a dict of task id to ndarray (n, n_classes of the task); see
        :meth:`ProgressiveLearner.predict_proba_tasks`. ``task_ids=None``: every task.
        """
        self._check_fitted()
        return self.learner_.predict_proba_tasks(X, task_ids, transformer_ids, self.decider)

    def predict_tasks(self, X, task_ids: Iterable | None = None, transformer_ids: Iterable | None = None) -> dict:
        """Predicted labels (n,) of several tasks for the same inputs: a dict of task id to labels."""
        self._check_fitted()
        return self.learner_.predict_tasks(X, task_ids, transformer_ids, self.decider)


class SupConKNNClassifier(ClassifierMixin, _NetworkParams):
    """Single-task learner: one transformer and its kNN voter, as a scikit-learn classifier.

    Same parameters as :class:`LifelongClassificationNetwork`. ``fit`` trains
    the transformer on a ``transformer_split`` share of the data and the voter
    on the rest, exactly like the first task of a network.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Only for 2-D feature input.
    learner_ : ProgressiveLearner
    """

    def fit(self, X, y) -> "SupConKNNClassifier":
        """Fit on X (n, H, W, C) or (n, d) and labels y (n,).

        A column vector y of shape (n, 1) is raveled with a
        ``DataConversionWarning``, as scikit-learn classifiers do.
        """
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 2 and y.shape[1] == 1:
                y = column_or_1d(y, warn=True)
        self._check_params()
        learner = self._new_learner()
        learner.add_task(X, y, task_id=0, transformer_split=self.transformer_split)
        self.learner_ = learner
        self.classes_ = learner.tasks_[0].classes
        if learner.input_shape_ is not None and len(learner.input_shape_) == 1:
            self.n_features_in_ = learner.input_shape_[0]
        return self

    def _check_X(self, X) -> np.ndarray:
        self._check_fitted()
        X = check_inputs(X)
        n_features = getattr(self, "n_features_in_", None)
        if n_features is not None and X.ndim == 2 and X.shape[1] != n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {n_features} features as input."
            )
        return X

    def predict_proba(self, X) -> np.ndarray:
        """Posteriors (n, n_classes), columns following ``classes_``."""
        X = self._check_X(X)
        return self.learner_.predict_proba(X, 0)

    def predict(self, X) -> np.ndarray:
        """Predicted labels (n,)."""
        X = self._check_X(X)
        return self.learner_.predict(X, 0)

    def embed(self, X) -> np.ndarray:
        """Embeddings (n, embedding_dim) float32 of the trained encoder.

        Named ``embed``, not ``transform``, so scikit-learn does not treat the
        classifier as a transformer.
        """
        X = self._check_X(X)
        return self.learner_.transform(X, 0)
