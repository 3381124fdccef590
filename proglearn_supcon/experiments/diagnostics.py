"""The ``--diagnostics`` of one run: transfer matrix, geometry in every space and split, accuracy decomposition.

For every (transformer ``i``, task ``j``) pair, :func:`run_diagnostics`
measures the geometry (:func:`proglearn_supcon.metrics.geometry.embedding_geometry`)
of four *views*, one per space and split.

Spaces (:data:`~proglearn_supcon.runs.schema.GEOMETRY_SPACES`):

* ``"encoder"``: transformer ``i``'s encoder output
  (:meth:`~proglearn_supcon.transformers.NeuralClassificationTransformer.transform`:
  2000-d for the CNN, after its last batch norm, flip-averaged for images),
  the space the kNN voters work in;
* ``"projection"``: the same embeddings through the transformer's trained head,
  L2-normalised (:meth:`~proglearn_supcon.transformers.NeuralClassificationTransformer.project`):
  for SupCon and TCL the projection head's output, the space their loss is
  computed in and where Graf et al. predict collapse to a regular simplex
  (``projection_dim`` = 128 dimensions by default); for CE the normalised
  logits of its linear classifier, the analogue (``n_classes`` dimensions, so
  its effective rank is at most ``n_classes``).

Splits (:data:`~proglearn_supcon.runs.schema.GEOMETRY_SPLITS`):

* ``"test"``: task ``j``'s test set, all of it, the embeddings the run has
  already computed for its accuracies;
* ``"train"``: task ``j``'s training data. For ``i == j``, the points the
  transformer's loss was minimised on (its share of the task, less the
  validation split that selected its epoch): Graf et al.'s statement is
  about these. For ``i != j``, the task's training data that voter
  ``(i, j)`` was fitted on (transformer ``i`` never saw any of it), read from
  the voter (:meth:`~proglearn_supcon.learner.ProgressiveLearner.voter_fit_embeddings`),
  so nothing is encoded twice. Both are a seeded class-stratified subsample
  of at most as many points as task ``j``'s test set: the two splits then
  have the same effective-rank ceiling ``min(n - 1, d)`` (recorded as
  ``effective_rank_ceiling``) and the same cost.

The encoder's test view is exactly the geometry recorded before the other
views existed. The cost is that of the test view (about 0.2 s per pair for
1000 2000-d points on one core) for each encoder view, much less for the
projection (128 or ``n_classes`` dimensions), plus one encoding per task of
at most ``n_test`` of its transformer's own training images: about 50 s
for a 10-task CIFAR-100 run (20 s for the test view alone).

After the last task each task's network accuracy is split into its own
voter, the other voters and their complementarity
(:func:`proglearn_supcon.metrics.decomposition.accuracy_decomposition`), from the
voter posteriors the run already has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from proglearn_supcon.learner import ProgressiveLearner
from proglearn_supcon.metrics.decomposition import DECOMPOSITION_FIELDS, accuracy_decomposition
from proglearn_supcon.metrics.geometry import GEOMETRY_METRICS, embedding_geometry
from proglearn_supcon.metrics.transfer import transfer_matrix
from proglearn_supcon.runs.schema import GEOMETRY_SPACES, GEOMETRY_SPLITS, Diagnostics
from proglearn_supcon.seeding import derive_seed

__all__ = ["pair_views", "run_decomposition", "run_diagnostics", "subsample_rows"]


def subsample_rows(y: np.ndarray, n_max: int, seed: int) -> np.ndarray:
    """Sorted row indices of at most ``n_max`` points of ``y``, stratified by class where it can be.

    All rows when ``len(y) <= n_max``; else a seeded subsample, stratified
    when every class has 2 points or more and ``n_max`` holds every class.
    """
    if len(y) <= n_max:
        return np.arange(len(y))
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and n_max >= len(counts) else None
    rows, _ = train_test_split(np.arange(len(y)), train_size=n_max, stratify=stratify, random_state=seed)
    return np.sort(rows)


def pair_views(transformer, splits: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[tuple[str, str], dict]:
    """The geometry of one (transformer, task) pair in both spaces, for each split given.

    Parameters
    ----------
    transformer : NeuralClassificationTransformer
        Fitted; its :meth:`project` maps the encoder embeddings to the projection space.
    splits : mapping of str to (ndarray of shape (n, embedding_dim), ndarray of shape (n,))
        Per split, the transformer's encoder embeddings of the task's points and their labels.

    Returns
    -------
    dict of (space, split) to dict of str to float
        :func:`~proglearn_supcon.metrics.geometry.embedding_geometry` of each view.
    """
    views = {}
    for split, (embeddings, labels) in splits.items():
        spaces = {"encoder": embeddings, "projection": transformer.project(embeddings)}
        for space in GEOMETRY_SPACES:
            views[(space, split)] = embedding_geometry(spaces[space], labels)
    return views


def _train_split(learner: ProgressiveLearner, i, j, n_max: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Transformer ``i``'s encoder embeddings of task ``j``'s training points of the ``"train"`` split, with labels."""
    if i == j:
        data = learner.tasks_[j]
        # The task's rows that trained its transformer (the rest fit its voter), then those
        # that the loss was minimised on (the rest selected the epoch).
        trained = np.setdiff1d(np.arange(len(data.y)), data.voter_indices)
        loss_rows = trained[learner.transformers_[i].train_indices_]
        rows = loss_rows[subsample_rows(data.y[loss_rows], n_max, seed)]
        return learner.transform(data.X[rows], i), data.y[rows]
    embeddings, labels = learner.voter_fit_embeddings(i, j)
    rows = subsample_rows(labels, n_max, seed)
    return embeddings[rows], labels[rows]


def run_diagnostics(
    learner: ProgressiveLearner,
    test_embeddings: Sequence[Mapping],
    test_posteriors: Sequence[Mapping],
    tasks: Sequence,
    random_state: int | None = None,
) -> Diagnostics:
    """Transfer matrix, geometry of every view of every pair, and each task's accuracy decomposition.

    Parameters
    ----------
    learner : ProgressiveLearner
        The run's learner after the last task; task ``t``'s transformer has id ``t``.
    test_embeddings : sequence of T mappings of int to ndarray of shape (n_j, embedding_dim)
        ``test_embeddings[j][i]``: transformer ``i``'s embeddings of task ``j``'s test set.
    test_posteriors : sequence of T mappings of int to ndarray of shape (n_j, n_classes_j)
        ``test_posteriors[j][i]``: voter ``(i, j)``'s posteriors there (for
        ``i == j`` the voter fitted on the voter split only, as for the
        single-task accuracy).
    tasks : sequence of T :class:`~proglearn_supcon.datasets.Task`
        The run's tasks (test labels and classes).
    random_state : int or None, default=None
        Seeds the subsamples of the training split (one per pair).

    Returns
    -------
    Diagnostics
        With every view of :data:`~proglearn_supcon.runs.schema.GEOMETRY_SPACES`
        x :data:`~proglearn_supcon.runs.schema.GEOMETRY_SPLITS` and the decomposition.
    """
    n_tasks = len(tasks)
    labels = [task.y_test for task in tasks]
    views = {
        (space, split): {name: np.full((n_tasks, n_tasks), np.nan) for name in GEOMETRY_METRICS}
        for space in GEOMETRY_SPACES
        for split in GEOMETRY_SPLITS
    }
    for i in range(n_tasks):
        transformer = learner.transformers_[i]
        for j in range(n_tasks):
            seed = derive_seed(random_state, "geometry", i, j)
            splits = {
                "test": (test_embeddings[j][i], labels[j]),
                "train": _train_split(learner, i, j, len(labels[j]), seed),
            }
            for view, metrics in pair_views(transformer, splits).items():
                for name, value in metrics.items():
                    views[view][name][i, j] = value
    matrix = transfer_matrix(test_posteriors, [task.classes for task in tasks], labels)
    return Diagnostics.from_views(matrix, views, run_decomposition(learner, test_posteriors, tasks))


def run_decomposition(learner: ProgressiveLearner, test_posteriors: Sequence[Mapping], tasks) -> dict[str, np.ndarray]:
    """Each task's network accuracy after the last task, decomposed: ``{field: (T,) array}``.

    The network's predictions are those of the run's accuracy
    (``learner.decide`` over every voter's posteriors), so
    ``network_accuracy`` equals the last row of the run's accuracy matrix.
    """
    parts = []
    for t, task in enumerate(tasks):
        posteriors = test_posteriors[t]
        ids = sorted(posteriors)
        voters = np.stack([task.classes[np.argmax(posteriors[i], axis=1)] for i in ids])
        network = task.classes[np.argmax(learner.decide(posteriors, t), axis=1)]
        parts.append(accuracy_decomposition(voters, network, task.y_test, own=ids.index(t)))
    return {name: np.array([getattr(p, name) for p in parts], dtype=np.float64) for name in DECOMPOSITION_FIELDS}
