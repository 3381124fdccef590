"""How a transformer's training data is prepared and its encoder trained.

``_TransformerFitting``, a base class of the transformer, holds the steps of
:meth:`NeuralClassificationTransformer.fit <proglearn_supcon.transformers.NeuralClassificationTransformer.fit>`
below its outline: the validation split, the standardisation, the inputs as
tensors on the device (also for ``transform``), the augmenter, the whitened
first convolution (:mod:`~proglearn_supcon.training.whitening`), and the run of
the training engine (:func:`~proglearn_supcon.training.engine.train`). The
transformer's module keeps its parameters, checks, the outline of ``fit`` and
the inference.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from proglearn_supcon.precision import use_bf16
from proglearn_supcon.training.augment import ImageAugmenter, TabularAugmenter
from proglearn_supcon.training.engine import TrainingConfig, train
from proglearn_supcon.training.whitening import whiten_first_conv


class _TransformerFitting:
    """The fitting steps of :class:`~proglearn_supcon.transformers.NeuralClassificationTransformer`.

    A base class of the transformer, not an estimator of its own: the methods
    read the transformer's parameters and set its fitted attributes
    (``train_indices_``, the standardisation, ``history_``, ``best_epoch_``,
    ``n_epochs_run_``, ``head_``, ``first_conv_whitened_``), whose names saved models hold.
    """

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
        """Train ``encoder_`` and ``head`` (see :func:`.engine.train`); set the history attributes.

        With ``whiten_first_conv`` and images, the encoder's first convolution
        is first set from the very tensor it then trains on (``first_conv_whitened_``).
        """
        # The training set is small (one task); keep it on the device once.
        x_train = self._to_tensor(X[train_idx], device)
        self.first_conv_whitened_ = False
        if self.whiten_first_conv and x_train.ndim == 4:
            self.first_conv_whitened_ = whiten_first_conv(self.encoder_, x_train) is not None
        model = torch.compile(self.encoder_) if self.compile else self.encoder_
        validation = None
        if len(val_idx):
            validation = (self._to_tensor(X[val_idx], device), y_encoded[val_idx])
        result = train(
            TrainingConfig.from_params(self.get_params(deep=False)),
            self.encoder_,
            head,
            x_train,
            y_encoded[train_idx],
            embedding_dim=self.embedding_dim_,
            generator=generator,
            validation=validation,
            augmenter=self._make_augmenter(),
            bf16=use_bf16(self.precision, device),
            model=model,
        )
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.n_epochs_run_ = result.n_epochs_run
        # The head is kept only for inspection (project); voters use the encoder output.
        self.head_ = head.eval()
