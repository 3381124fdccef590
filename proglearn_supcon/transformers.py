"""The transformer: a neural encoder trained on one task, then frozen.

In ProgLearn's vocabulary a *transformer* maps inputs to a representation; the
voters of every task are fitted on that representation. Here it is a CNN (or an
MLP for feature vectors) trained with SupCon, TCL or cross-entropy; after
training only the encoder is kept in use and :meth:`transform` returns its
output (the penultimate layer of the classification network).

This module holds the estimator: its parameters (declared in
:mod:`proglearn_supcon.hyperparams`), the outline of ``fit`` (checks, the
encoder and head) and the inference (:meth:`~NeuralClassificationTransformer.transform`,
:meth:`~NeuralClassificationTransformer.project`). The data preparation and
the call into the training engine are in :mod:`proglearn_supcon.training.fitting`,
the training loop in :mod:`proglearn_supcon.training.engine`.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted
from torch import nn
from torch.nn import functional as F

from proglearn_supcon.determinism import deterministic_algorithms
from proglearn_supcon.hyperparams import ADDED_PARAMS, TRANSFORMER_PARAMS, check_params, store_params
from proglearn_supcon.precision import use_bf16
from proglearn_supcon.training.encoders import (
    EncoderFactory,
    Standardize,
    default_encoder,
    embedding_dim,
)
from proglearn_supcon.training.engine import embed
from proglearn_supcon.training.fitting import _TransformerFitting
from proglearn_supcon.training.objectives import get_objective
from proglearn_supcon.training.schedule import LR_SCHEDULES
from proglearn_supcon.validation import check_input_shape, check_inputs, check_labels

__all__ = ["LR_SCHEDULES", "NeuralClassificationTransformer", "resolve_device"]


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was requested but CUDA is not available")
    return device


class NeuralClassificationTransformer(_TransformerFitting, BaseEstimator):
    """Train an encoder on one task; map inputs to its embedding.

    Parameters
    ----------
    loss : {"supcon", "ce", "tcl"}, default="supcon"
        Supervised contrastive loss (L_out) on a projection head, cross-entropy
        on a linear head, or the Tuned Contrastive loss: a name registered in
        :data:`~proglearn_supcon.training.objectives.OBJECTIVES`.
    encoder : callable or None, default=None
        Encoder factory ``f(input_shape) -> nn.Module`` whose module maps a
        batch to ``(batch, embedding_dim)``. None: ProgLearn's CNN for images,
        an MLP for feature vectors.
    epochs : int, default=30
        Training budget: the most epochs run, and the length of the
        learning-rate schedule. The defaults are the ``"whitened"`` recipe;
        ``"early-stopping"`` (the defaults before issue 32) and
        ``"fixed-budget"`` are the others
        (:mod:`~proglearn_supcon.training.recipes`).
    batch_size : int, default=128
    lr : float, default=2e-3
        Adam learning rate (peak, after the warm-up).
    weight_decay : float, default=1e-4
    lr_schedule : {"cosine", "constant", "linear"}, default="cosine"
        After the warm-up: cosine annealing or linear decay to 0 at the end of
        ``epochs``, or a constant rate.
    warmup_epochs : int, default=5
        Epochs of linear warm-up from ``lr / (w + 1)`` to ``lr``, with
        ``w = min(warmup_epochs, epochs - 1)`` so a short budget still
        reaches ``lr``.
    ema_decay : float, default=0.9
        In [0, 1). Above 0, the weights evaluated for model selection and
        kept are an exponential moving average of the trained ones, updated
        after every step (:mod:`~proglearn_supcon.training.weight_average`);
        0 keeps the trained weights.
    temperature : float, default=0.2
        Temperature of SupCon / TCL.
    tcl_k1, tcl_k2 : float, default=1.0
        TCL's weights of the positive-repulsion and negative terms.
    label_smoothing : float, default=0.0
        Cross-entropy only: label smoothing in [0, 1).
    projection_dim : int, default=128
        Output width of the projection head (SupCon / TCL).
    projection_hidden_dim : int, default=512
        Hidden width of the projection head (SupCon / TCL).
    n_views : int, default=1
        Augmented views per image and step, for every loss (so all variants
        see the same augmentation and budget).
    augment : bool, default=True
        Use the data augmentation at all.
    whiten_first_conv : bool, default=True
        Images only: before training, set the encoder's first ``Conv2d`` to
        the whitened principal directions of the training images' patches
        and their negatives, and keep those weights fixed
        (:mod:`~proglearn_supcon.training.whitening`). No effect on feature
        vectors, on encoders without a ``Conv2d`` or whose first one groups
        its channels; ``first_conv_whitened_`` says whether it took effect.
    validation_fraction : float, default=0.0
        Share of the data held out to select the epoch (0: no validation,
        all ``epochs`` run and the last weights are kept; the four
        parameters below then have no effect).
    early_stopping : {"knn", "loss", "none"}, default="knn"
        Which evaluated epoch's weights are kept. ``"knn"``: the best
        validation accuracy of a kNN voter (``k``, ``metric``) fitted on the
        un-augmented training split's embeddings, i.e. the epoch whose
        embedding serves the voters best. ``"loss"``: the lowest validation
        loss. ``"none"``: run all ``epochs``, keep the last weights.
    patience : int, default=20
        Stop once this many epochs have passed without a better evaluated
        epoch; the best weights are restored.
    min_epochs : int, default=10
        Model selection starts at epoch ``min(min_epochs, epochs - 1)``
        (0-based): earlier epochs are not evaluated, cannot be kept and do not
        count for ``patience``. A task's validation split is small, and an
        epoch inside the warm-up can otherwise score best by chance and be
        kept for good (:func:`~proglearn_supcon.training.engine.first_candidate_epoch`).
    validation_interval : int, default=1
        Evaluate the validation split every this many epochs (and after the
        last one).
    k : int or None, default=None
        Neighbours of the validation kNN (None: floor(log2(n_train))); the
        networks pass their voters' ``k``.
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance of the validation kNN; the networks pass their voters'.
    flip_average : bool, default=True
        Images only: :meth:`transform` returns the mean of the embeddings of
        each image and of its mirror image (test-time flip averaging).
    precision : {"auto", "bf16", "fp32"}, default="auto"
        Arithmetic of the encoder in training and :meth:`transform`.
        ``"auto"``: bf16 autocast on CUDA and on CPUs with native bf16
        (AVX512-BF16 or AMX), fp32 elsewhere. Losses, voters and the returned
        embeddings are float32 either way.
    compile : bool, default=False
        Train through ``torch.compile(encoder)`` (compile time is part of
        ``fit_time_``).
    deterministic : bool, default=True
        Train and embed with torch's deterministic algorithms (and cuDNN's),
        so that the same seed, device and thread count give the same numbers
        bit for bit (:mod:`~proglearn_supcon.determinism`). False: torch's
        defaults, which may accumulate in a varying order on a GPU.
    device : str or torch.device, default="auto"
        "auto" uses CUDA when available.
    random_state : int or None, default=None
        Seeds initialisation, splits, shuffling and augmentation.
    verbose : bool, default=False
        Progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    input_shape_ : tuple of int
        Per-sample shape of the training inputs (H, W, C) or (d,).
    embedding_dim_ : int
    encoder_ : nn.Module
        The trained encoder (standardisation included), in eval mode, on the CPU
        or ``device``.
    first_conv_whitened_ : bool
        Whether ``whiten_first_conv`` set the first convolution (False for
        feature vectors and for encoders it leaves alone).
    history_ : dict of str to list
        "train_loss": mean training loss of every epoch run; "epoch" (0-based),
        "val_loss" and "val_accuracy" (validation kNN accuracy): one entry
        per evaluated epoch.
    head_ : nn.Module
        The trained head, in eval mode: the projection head (SupCon / TCL) or
        the linear classifier (CE); see :meth:`project`.
    train_indices_ : ndarray of shape (n_train,), int64
        Rows of the data given to :meth:`fit` that the loss was minimised on
        (sorted); the others were the validation split that selected the epoch.
    best_epoch_ : int
        Epoch (0-based) whose weights were kept.
    n_epochs_run_ : int
        Epochs trained before stopping.
    fit_time_ : float
        Seconds spent in :meth:`fit`.
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
        flip_average: bool = True,
        precision: str = "auto",
        compile: bool = False,
        deterministic: bool = True,
        device: str | torch.device = "auto",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        store_params(self, locals())

    def __setstate__(self, state: dict) -> None:
        # A transformer pickled before a parameter existed lacks it: give it the
        # value that does what that code did (hyperparams.ADDED_PARAMS).
        self.__dict__.update({**_ADDED_TRANSFORMER_PARAMS, **state})
        if "encoder_" in state:  # fitted before whiten_first_conv existed
            self.__dict__.setdefault("first_conv_whitened_", False)

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        """Raise ValueError naming the parameter and its value if one is invalid (trains nothing)."""
        check_params(self.get_params(deep=False))

    # -------------------------------------------------------------------- fit
    def fit(self, X, y) -> "NeuralClassificationTransformer":
        """Train the encoder on (X, y).

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C) uint8/float, or (n, d) float
        y : ndarray of shape (n,)
            Labels of any hashable dtype; at least 2 classes.
        """
        start = time.perf_counter()
        self._check_params()
        X = check_inputs(X)
        y = check_labels(y, len(X))
        if len(X) < 2:
            raise ValueError("at least 2 samples are needed to train a transformer")
        device = resolve_device(self.device)
        seed = np.random.SeedSequence(self.random_state).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(seed))

        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        self.input_shape_ = tuple(X.shape[1:])
        train_idx, val_idx = self._split(y_encoded, seed)
        self.train_indices_ = train_idx.astype(np.int64)
        self._fit_standardization(X[train_idx])

        model_shape = self._model_input_shape()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            encoder = (self.encoder or default_encoder)(model_shape)
            if len(self.input_shape_) == 3:
                encoder = nn.Sequential(Standardize(self.channel_mean_, self.channel_std_), encoder)
            self.embedding_dim_ = embedding_dim(encoder, model_shape)
            head = get_objective(self.loss).head(
                self.embedding_dim_, len(self.classes_), self.projection_hidden_dim, self.projection_dim
            )
        if len(self.input_shape_) == 3:
            encoder = encoder.to(memory_format=torch.channels_last)
        self.encoder_ = encoder.to(device)
        head = head.to(device)
        with deterministic_algorithms(self.deterministic):
            self._train(X, y_encoded, train_idx, val_idx, head, device, generator)
        self.encoder_.eval()
        self.fit_time_ = time.perf_counter() - start
        return self

    # -------------------------------------------------------------- transform
    @torch.no_grad()
    def transform(self, X, batch_size: int = 1024) -> np.ndarray:
        """Embeddings of X from the trained encoder.

        Parameters
        ----------
        X : ndarray of shape (n, H, W, C) or (n, d)
            Same per-sample shape as the training data.
        batch_size : int, default=1024
            Inputs are moved to the device and encoded this many at a time.

        Returns
        -------
        embeddings : ndarray of shape (n, ``embedding_dim_``), float32
            With ``flip_average``, the mean of each image's and its mirror's.
        """
        check_is_fitted(self, "encoder_")
        X = check_inputs(X)
        check_input_shape(X, self.input_shape_)
        device = next(self.encoder_.parameters()).device
        bf16 = use_bf16(self.precision, device)
        self.encoder_.eval()
        out = np.empty((len(X), self.embedding_dim_), dtype=np.float32)
        with deterministic_algorithms(self.deterministic):
            for start in range(0, len(X), batch_size):
                xb = self._to_tensor(X[start : start + batch_size], device)
                out[start : start + len(xb)] = embed(
                    self.encoder_, xb, self.embedding_dim_, bf16, self.flip_average, batch_size
                )
        return out

    @torch.no_grad()
    def project(self, embeddings, batch_size: int = 4096) -> np.ndarray:
        """The trained head's L2-normalised output on encoder embeddings: the space the loss optimised.

        SupCon and TCL are computed on the projection head's normalised
        output, so for them this is exactly the loss's space. For CE it is the
        linear classifier's logits (bias included), L2-normalised: the
        analogue of the projection, on which cross-entropy acts; at neural
        collapse they too form a regular simplex. The head is applied to the
        embeddings as given (from :meth:`transform`: with ``flip_average`` the
        projection of the flip-averaged embedding, as the validation loss of
        training computes it, not the mean of two projections), in float32,
        so no image is encoded again.

        Parameters
        ----------
        embeddings : array-like of shape (n, ``embedding_dim_``), real, finite
            Encoder outputs, e.g. from :meth:`transform`.
        batch_size : int, default=4096
            Rows moved to the device and projected at a time.

        Returns
        -------
        ndarray of shape (n, projection_dim) (SupCon, TCL) or (n, n_classes) (CE), float32
            Rows of unit L2 norm (a zero row stays zero).

        Raises
        ------
        ValueError
            If ``embeddings`` is not finite and 2-D with ``embedding_dim_`` columns.
        """
        check_is_fitted(self, "head_")
        embeddings = check_array(embeddings, dtype=np.float32)
        if embeddings.shape[1] != self.embedding_dim_:
            raise ValueError(
                f"embeddings have {embeddings.shape[1]} columns, but this transformer's encoder outputs "
                f"{self.embedding_dim_}."
            )
        device = next(self.head_.parameters()).device
        self.head_.eval()
        parts = [
            F.normalize(self.head_(torch.from_numpy(batch).to(device)).float(), dim=-1).cpu().numpy()
            for batch in np.array_split(embeddings, max(1, -(-len(embeddings) // batch_size)))
        ]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def to(self, device: str | torch.device) -> "NeuralClassificationTransformer":
        """Move the trained encoder to ``device`` (e.g. after loading on a CPU-only machine)."""
        check_is_fitted(self, "encoder_")
        device = resolve_device(device)
        self.encoder_.to(device)
        self.head_.to(device)
        return self


#: The transformer parameters among :data:`~proglearn_supcon.hyperparams.ADDED_PARAMS` (for unpickling older ones).
_ADDED_TRANSFORMER_PARAMS = {name: value for name, value in ADDED_PARAMS.items() if name in TRANSFORMER_PARAMS}
