"""The transformer: a neural encoder trained on one task, then frozen.

In ProgLearn's vocabulary a *transformer* maps inputs to a representation; the
voters of every task are fitted on that representation. Here it is a CNN (or an
MLP for feature vectors) trained with SupCon, TCL or cross-entropy; after
training only the encoder is kept in use and :meth:`transform` returns its
output (the penultimate layer of the classification network).
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted
from torch import nn
from tqdm.auto import tqdm

from .augment import ImageAugmenter, TabularAugmenter
from .losses import SupConLoss, TunedContrastiveLoss
from .networks import EncoderFactory, ProjectionHead, Standardize, default_encoder, embedding_dim
from .validation import check_input_shape, check_inputs, check_labels

LOSSES = ("supcon", "ce", "tcl")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was requested but CUDA is not available")
    return device


def _is_images(X: np.ndarray) -> bool:
    return X.ndim == 4


class NeuralClassificationTransformer(BaseEstimator):
    """Train an encoder on one task; map inputs to its embedding.

    Parameters
    ----------
    loss : {"supcon", "ce", "tcl"}, default="supcon"
        Supervised contrastive loss (L_out) on a projection head, cross-entropy
        on a linear head, or the Tuned Contrastive loss.
    encoder : callable or None, default=None
        Encoder factory ``f(input_shape) -> nn.Module`` whose module maps a
        batch to ``(batch, embedding_dim)``. None: ProgLearn's CNN for images,
        an MLP for feature vectors.
    epochs : int, default=100
        Maximum number of epochs.
    batch_size : int, default=128
    lr : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=1e-4
    lr_schedule : {"cosine", "constant"}, default="cosine"
        Cosine annealing over ``epochs`` or a constant rate.
    temperature : float, default=0.2
        Temperature of SupCon / TCL (0.2 was better than Khosla et al.'s 0.1
        with this network and 224 training images per task; see the README).
    tcl_k1, tcl_k2 : float, default=1.0
        TCL's weights of the positive-repulsion and negative terms.
    projection_dim : int, default=128
        Output width of the projection head (SupCon / TCL).
    n_views : int, default=2
        Augmented views per image and step, for every loss (so all variants
        see the same augmentation and budget).
    augment : bool, default=True
        Use the data augmentation at all.
    validation_fraction : float, default=0.33
        Share of the data held out for early stopping on the validation loss
        (0 disables early stopping: all ``epochs`` are run).
    patience : int, default=20
        Epochs without a lower validation loss before stopping; the best
        weights are restored.
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
    history_ : dict of str to list of float
        "train_loss" and "val_loss" per epoch.
    best_epoch_ : int
        Epoch (0-based) whose weights were kept.
    fit_time_ : float
        Seconds spent in :meth:`fit`.
    """

    def __init__(
        self,
        loss: str = "supcon",
        encoder: EncoderFactory | None = None,
        epochs: int = 100,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        lr_schedule: str = "cosine",
        temperature: float = 0.2,
        tcl_k1: float = 1.0,
        tcl_k2: float = 1.0,
        projection_dim: int = 128,
        n_views: int = 2,
        augment: bool = True,
        validation_fraction: float = 0.33,
        patience: int = 20,
        device: str | torch.device = "auto",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.loss = loss
        self.encoder = encoder
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.temperature = temperature
        self.tcl_k1 = tcl_k1
        self.tcl_k2 = tcl_k2
        self.projection_dim = projection_dim
        self.n_views = n_views
        self.augment = augment
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("epochs", "batch_size", "n_views", "projection_dim"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2 (BatchNorm and contrastive pairs need it)")
        if not 0 <= self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if not self.lr > 0 or self.weight_decay < 0 or not self.temperature > 0:
            raise ValueError("lr and temperature must be > 0 and weight_decay >= 0")
        if not isinstance(self.patience, (int, np.integer)) or self.patience < 1:
            raise ValueError(f"patience must be a positive integer, got {self.patience!r}")

    # -------------------------------------------------------------- data prep
    def _to_tensor(self, X: np.ndarray, device: torch.device) -> torch.Tensor:
        """Images -> float (n, C, H, W) in [0, 1]; features -> standardised float (n, d)."""
        x = torch.from_numpy(np.ascontiguousarray(X)).to(device)
        if x.ndim == 4:
            x = x.permute(0, 3, 1, 2)
            return x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
        return (x.float() - self.feature_mean_.to(device)) / self.feature_std_.to(device)

    def _make_augmenter(self):
        if not self.augment:
            return None
        return ImageAugmenter() if len(self.input_shape_) == 3 else TabularAugmenter()

    def _views(self, x: torch.Tensor, augmenter, generator: torch.Generator) -> torch.Tensor:
        """(B, ...) -> (B, V, ...): augmented views, or copies when augmentation is off."""
        if augmenter is None:
            return x.unsqueeze(1).expand(x.shape[0], self.n_views, *x.shape[1:])
        return augmenter(x, self.n_views, generator)

    # ----------------------------------------------------------------- losses
    def _criterion(self) -> nn.Module:
        if self.loss == "supcon":
            return SupConLoss(temperature=self.temperature)
        if self.loss == "tcl":
            return TunedContrastiveLoss(temperature=self.temperature, k1=self.tcl_k1, k2=self.tcl_k2)
        return nn.CrossEntropyLoss()

    def _batch_loss(self, views: torch.Tensor, labels: torch.Tensor, head: nn.Module, criterion) -> torch.Tensor:
        batch, n_views = views.shape[:2]
        embeddings = self.encoder_(views.reshape(batch * n_views, *views.shape[2:]))
        if self.loss == "ce":
            logits = head(embeddings)
            return criterion(logits.float(), labels.repeat_interleave(n_views))
        z = head(embeddings).float().reshape(batch, n_views, -1)
        return criterion(z, labels)

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
        self._fit_standardization(X[train_idx])

        model_shape = self._model_input_shape()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            encoder = (self.encoder or default_encoder)(model_shape)
            if len(self.input_shape_) == 3:
                encoder = nn.Sequential(Standardize(self.channel_mean_, self.channel_std_), encoder)
            self.embedding_dim_ = embedding_dim(encoder, model_shape)
            head = (
                nn.Linear(self.embedding_dim_, len(self.classes_))
                if self.loss == "ce"
                else ProjectionHead(self.embedding_dim_, out_dim=self.projection_dim)
            )
        self.encoder_ = encoder.to(device)
        head = head.to(device)
        self._train(X, y_encoded, train_idx, val_idx, head, device, generator)
        self.encoder_.eval()
        self.fit_time_ = time.perf_counter() - start
        return self

    def _split(self, y_encoded: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        indices = np.arange(len(y_encoded))
        n_val = int(math.floor(self.validation_fraction * len(indices)))
        if n_val < 2 or len(indices) - n_val < 2:
            return indices, indices[:0]
        counts = np.bincount(y_encoded)
        stratify = y_encoded if counts.min() >= 2 and n_val >= len(counts) else None
        train_idx, val_idx = train_test_split(
            indices, test_size=n_val, stratify=stratify, random_state=int(seed % (2**32 - 1))
        )
        return np.sort(train_idx), np.sort(val_idx)

    def _fit_standardization(self, X_train: np.ndarray) -> None:
        if X_train.ndim == 4:
            x = X_train.astype(np.float64) / (255.0 if X_train.dtype == np.uint8 else 1.0)
            mean, std = x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))
            shape = (len(mean), 1, 1)
            self.channel_mean_ = torch.tensor(mean, dtype=torch.float32).reshape(shape)
            self.channel_std_ = torch.tensor(np.maximum(std, 1e-6), dtype=torch.float32).reshape(shape)
        else:
            self.feature_mean_ = torch.tensor(X_train.mean(axis=0), dtype=torch.float32)
            self.feature_std_ = torch.tensor(np.maximum(X_train.std(axis=0), 1e-6), dtype=torch.float32)

    def _model_input_shape(self) -> tuple[int, ...]:
        if len(self.input_shape_) == 3:
            height, width, channels = self.input_shape_
            return (channels, height, width)
        return self.input_shape_

    def _train(self, X, y_encoded, train_idx, val_idx, head, device, generator) -> None:
        criterion = self._criterion()
        augmenter = self._make_augmenter()
        params = list(self.encoder_.parameters()) + list(head.parameters())
        optimizer = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        scheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.epochs)
            if self.lr_schedule == "cosine"
            else None
        )
        # The training set is small (one task); keep it on the device once.
        x_train = self._to_tensor(X[train_idx], device)
        y_train = torch.from_numpy(y_encoded[train_idx]).to(device)
        x_val = self._to_tensor(X[val_idx], device) if len(val_idx) else None
        y_val = torch.from_numpy(y_encoded[val_idx]).to(device) if len(val_idx) else None
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

        self.history_ = {"train_loss": [], "val_loss": []}
        best = (math.inf, 0, None)
        epochs = tqdm(range(self.epochs), desc=f"train {self.loss}", disable=not self.verbose, leave=False)
        for epoch in epochs:
            self.encoder_.train()
            head.train()
            losses = []
            for idx in self._batches(len(x_train), generator, device):
                with autocast:
                    loss = self._batch_loss(self._views(x_train[idx], augmenter, generator), y_train[idx], head, criterion)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
            if scheduler is not None:
                scheduler.step()
            self.history_["train_loss"].append(float(np.mean(losses)))
            if x_val is None:
                continue
            val_loss = self._validation_loss(x_val, y_val, head, criterion, augmenter, autocast)
            self.history_["val_loss"].append(val_loss)
            epochs.set_postfix(val_loss=f"{val_loss:.4f}")
            if val_loss < best[0]:
                state = (copy.deepcopy(self.encoder_.state_dict()), copy.deepcopy(head.state_dict()))
                best = (val_loss, epoch, state)
            elif epoch - best[1] >= self.patience:
                break
        if best[2] is not None:
            self.encoder_.load_state_dict(best[2][0])
            head.load_state_dict(best[2][1])
        self.best_epoch_ = best[1] if best[2] is not None else len(self.history_["train_loss"]) - 1
        # The head is kept only for inspection; voters use the encoder output.
        self.head_ = head.eval()

    def _batches(self, n: int, generator: torch.Generator, device: torch.device):
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            # A batch of one breaks BatchNorm and has no contrastive pair; skip it.
            if len(idx) >= 2:
                yield idx

    @torch.no_grad()
    def _validation_loss(self, x_val, y_val, head, criterion, augmenter, autocast) -> float:
        """Loss on fixed augmented views of the validation set (same draw every epoch)."""
        self.encoder_.eval()
        head.eval()
        generator = torch.Generator().manual_seed(0)
        total, count = 0.0, 0
        for start in range(0, len(x_val), self.batch_size):
            xb, yb = x_val[start : start + self.batch_size], y_val[start : start + self.batch_size]
            if len(xb) < 2:
                continue
            with autocast:
                loss = self._batch_loss(self._views(xb, augmenter, generator), yb, head, criterion)
            total += float(loss) * len(xb)
            count += len(xb)
        return total / max(count, 1)

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
        embeddings : ndarray of shape (n, embedding_dim_), float32
        """
        check_is_fitted(self, "encoder_")
        X = check_inputs(X)
        check_input_shape(X, self.input_shape_)
        device = next(self.encoder_.parameters()).device
        self.encoder_.eval()
        out = np.empty((len(X), self.embedding_dim_), dtype=np.float32)
        for start in range(0, len(X), batch_size):
            xb = self._to_tensor(X[start : start + batch_size], device)
            out[start : start + len(xb)] = self.encoder_(xb).float().cpu().numpy()
        return out

    def to(self, device: str | torch.device) -> "NeuralClassificationTransformer":
        """Move the trained encoder to ``device`` (e.g. after loading on a CPU-only machine)."""
        check_is_fitted(self, "encoder_")
        device = resolve_device(device)
        self.encoder_.to(device)
        self.head_.to(device)
        return self
