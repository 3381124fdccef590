"""The training engine behind :class:`~proglearn_supcon.transformers.NeuralClassificationTransformer`.

The estimator prepares the data (validation split, standardisation, tensors
on the device) and builds the encoder and head; everything that happens
after that lives here, as functions of modules and prepared tensors:

* :func:`make_optimizer`: the optimiser of a :class:`TrainingConfig`, its
  learning rate following :func:`~proglearn_supcon.training.schedule.lr_factor`
  (the loss's head, criterion and batch layout come from its objective,
  :mod:`proglearn_supcon.training.objectives`);
* :func:`shuffled_batches`, :func:`make_views`, :func:`batch_loss`: one
  training step's indices, augmented views and loss;
* :func:`embed`, :func:`evaluate`: the encoder's output in batches, and the
  validation loss and kNN accuracy it gives;
* :func:`train`: the epoch loop with early stopping, returning a
  :class:`TrainingResult`.

The benchmarks time the library's own step through these same functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from proglearn_supcon.precision import autocast
from proglearn_supcon.training.early_stopping import EarlyStopping, knn_accuracy
from proglearn_supcon.training.objectives import Objective, get_objective
from proglearn_supcon.training.schedule import lr_factor
from proglearn_supcon.training.weight_average import ExponentialWeightAverage

__all__ = [
    "TrainingConfig",
    "TrainingResult",
    "batch_loss",
    "channels_last",
    "embed",
    "evaluate",
    "first_candidate_epoch",
    "is_candidate",
    "make_optimizer",
    "make_views",
    "shuffled_batches",
    "train",
]


@dataclass(frozen=True)
class TrainingConfig:
    """The hyper-parameters the training engine reads.

    The fields have the names, meanings and (checked) values of the
    :class:`~proglearn_supcon.transformers.NeuralClassificationTransformer`
    parameters of the same names, declared in :mod:`proglearn_supcon.hyperparams`
    (which imports this module, so the fields are spelled out here and a test
    holds them to the declaration); they carry no defaults of their own, so
    the declared ones stay the only ones. Build one with :meth:`from_params`.
    """

    loss: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    lr_schedule: str
    warmup_epochs: int
    ema_decay: float
    temperature: float
    tcl_k1: float
    tcl_k2: float
    label_smoothing: float
    n_views: int
    early_stopping: str
    patience: int
    min_epochs: int
    validation_interval: int
    k: int | None
    metric: str
    flip_average: bool
    verbose: bool

    @classmethod
    def from_params(cls, params: Mapping[str, object]) -> "TrainingConfig":
        """The config of an estimator's ``get_params()`` (extra keys are ignored)."""
        return cls(**{f.name: params[f.name] for f in dataclasses.fields(cls)})


@dataclass
class TrainingResult:
    """What :func:`train` reports.

    Attributes
    ----------
    history : dict of str to list
        "train_loss": mean training loss of every epoch run; "epoch"
        (0-based), "val_loss" and "val_accuracy": one entry per evaluated epoch.
    best_epoch : int
        Epoch (0-based) whose weights the modules hold on return.
    n_epochs_run : int
        Epochs trained before stopping.
    """

    history: dict[str, list]
    best_epoch: int
    n_epochs_run: int


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """Image batches in channels-last memory order (faster convolutions on CPU and GPU)."""
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def make_optimizer(params: list, config: TrainingConfig) -> torch.optim.Optimizer:
    """Adam with ``config.lr`` and ``config.weight_decay``, fused where torch supports it."""
    try:
        # One fused kernel for all parameters; Adam's per-tensor path was
        # a third of a training step on CPU.
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch or unsupported device
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def first_candidate_epoch(config: TrainingConfig) -> int:
    """The first epoch (0-based) model selection may keep: ``min(min_epochs, epochs - 1)``.

    Earlier epochs are neither evaluated nor counted for patience. The
    validation split of a task is small (about 110 images for CIFAR-100
    10x10), so an epoch inside the warm-up, whose embedding is still poor,
    can score best by chance and then be kept for good when no later epoch
    beats it within the patience.
    """
    return min(config.min_epochs, config.epochs - 1)


def is_candidate(epoch: int, config: TrainingConfig) -> bool:
    """Whether ``epoch`` (0-based) is evaluated for model selection.

    Every ``validation_interval``-th epoch (epochs ``interval - 1``,
    ``2 * interval - 1``, ...) from :func:`first_candidate_epoch` on; the
    last epoch is always evaluated by :func:`train`.
    """
    return epoch >= first_candidate_epoch(config) and (epoch + 1) % config.validation_interval == 0


def shuffled_batches(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device
) -> Iterator[torch.Tensor]:
    """Indices (int64, on ``device``) of one epoch's batches in a random order.

    A last batch of one is skipped: it breaks BatchNorm and has no contrastive pair.
    """
    order = torch.randperm(n, generator=generator).to(device)
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if len(idx) >= 2:
            yield idx


def make_views(x: torch.Tensor, augmenter, n_views: int, generator: torch.Generator) -> torch.Tensor:
    """(B, ...) -> (B, n_views, ...): augmented views, or copies when ``augmenter`` is None."""
    if augmenter is None:
        return x.unsqueeze(1).expand(x.shape[0], n_views, *x.shape[1:])
    return augmenter(x, n_views, generator)


def batch_loss(
    views: torch.Tensor,
    labels: torch.Tensor,
    model: nn.Module,
    head: nn.Module,
    criterion: nn.Module,
    objective: Objective,
) -> torch.Tensor:
    """Loss of one batch of views.

    Parameters
    ----------
    views : Tensor of shape (B, V, ...)
        V views of each of B samples.
    labels : Tensor of shape (B,), int64
    model, head : nn.Module
        Encoder (possibly compiled) and ``objective``'s head.
    criterion : nn.Module
        ``objective.criterion(config)``.
    objective : Objective
        Says how the views' head outputs and the labels are fed to ``criterion``.

    Returns
    -------
    Tensor of shape (), float32
        Computed from float32 head outputs, also under autocast.
    """
    batch, n_views = views.shape[:2]
    embeddings = model(channels_last(views.reshape(batch * n_views, *views.shape[2:])))
    return criterion(*objective.feed(head(embeddings).float(), labels, n_views))


@torch.no_grad()
def embed(
    encoder: nn.Module, x: torch.Tensor, embedding_dim: int, bf16: bool, flip_average: bool, batch_size: int = 1024
) -> np.ndarray:
    """Encoder output of a prepared tensor, in batches.

    Parameters
    ----------
    encoder : nn.Module
        Called as it is: put it in eval mode first.
    x : Tensor of shape (n, C, H, W) or (n, d), float
    embedding_dim : int
        Width of the encoder's output.
    bf16 : bool
        Encode under bf16 autocast.
    flip_average : bool
        Images only: average each image's embedding with its mirror's.
    batch_size : int, default=1024

    Returns
    -------
    ndarray of shape (n, embedding_dim), float32
    """
    out = np.empty((len(x), embedding_dim), dtype=np.float32)
    for start in range(0, len(x), batch_size):
        xb = channels_last(x[start : start + batch_size])
        with autocast(bf16, xb.device):
            emb = encoder(xb).float()
            if flip_average and xb.ndim == 4:
                emb = (emb + encoder(xb.flip(-1)).float()) / 2
        out[start : start + len(xb)] = emb.cpu().numpy()
    return out


@torch.no_grad()
def evaluate(
    encoder: nn.Module,
    head: nn.Module,
    criterion: nn.Module,
    config: TrainingConfig,
    x_train: torch.Tensor,
    y_train: np.ndarray,
    x_val: torch.Tensor,
    y_val: np.ndarray,
    embedding_dim: int,
    bf16: bool,
) -> tuple[float, float]:
    """(validation loss, validation kNN accuracy), from one pass over un-augmented inputs.

    The loss is the training loss of the validation inputs' embeddings, one
    un-augmented view each (for SupCon / TCL the positives are the other
    validation inputs of the class). The kNN voter (``config.k``,
    ``config.metric``) is fitted on the training split's embeddings. Leaves
    ``encoder`` and ``head`` in eval mode.

    Parameters
    ----------
    x_train, x_val : Tensor of shape (n, ...), float
        Prepared inputs, on the encoder's device.
    y_train, y_val : ndarray of shape (n,), int64
        Encoded labels.
    """
    encoder.eval()
    head.eval()
    val_emb = embed(encoder, x_val, embedding_dim, bf16, config.flip_average)
    with autocast(bf16, x_val.device):
        out = head(torch.from_numpy(val_emb).to(x_val.device)).float()
    labels = torch.from_numpy(y_val).to(x_val.device)
    val_loss = float(criterion(*get_objective(config.loss).feed(out, labels, 1)))
    train_emb = embed(encoder, x_train, embedding_dim, bf16, config.flip_average)
    return val_loss, knn_accuracy(train_emb, y_train, val_emb, y_val, config.k, config.metric)


def train(
    config: TrainingConfig,
    encoder: nn.Module,
    head: nn.Module,
    x_train: torch.Tensor,
    y_train: np.ndarray,
    *,
    embedding_dim: int,
    generator: torch.Generator,
    validation: tuple[torch.Tensor, np.ndarray] | None = None,
    augmenter=None,
    bf16: bool = False,
    model: nn.Module | None = None,
) -> TrainingResult:
    """Train ``encoder`` and ``head`` for up to ``config.epochs`` epochs, keeping the best weights.

    With ``config.ema_decay > 0`` the weights evaluated, selected and kept
    are those of an exponential moving average of the trained ones
    (:class:`~proglearn_supcon.training.weight_average.ExponentialWeightAverage`),
    updated after every step.

    Parameters
    ----------
    config : TrainingConfig
    encoder, head : nn.Module
        Trained in place, on ``x_train``'s device; on return they hold the
        weights of the selected epoch (see ``config.early_stopping``).
    x_train : Tensor of shape (n, C, H, W) or (n, d), float
        Prepared training inputs, on the device.
    y_train : ndarray of shape (n,), int64
        Encoded labels 0..n_classes-1.
    embedding_dim : int
        Width of the encoder's output.
    generator : torch.Generator
        Drives the shuffling and the augmentation (the only randomness here).
    validation : (Tensor, ndarray) or None, default=None
        Prepared validation inputs and their encoded labels; None trains all
        epochs and keeps the last weights.
    augmenter : callable or None, default=None
        ``augmenter(x, n_views, generator)`` -> (B, n_views, ...); None uses
        copies of the inputs.
    bf16 : bool, default=False
        Forward passes under bf16 autocast.
    model : nn.Module or None, default=None
        What the training steps call instead of ``encoder`` (e.g.
        ``torch.compile(encoder)``, sharing its parameters).

    Returns
    -------
    TrainingResult
    """
    device = x_train.device
    model = encoder if model is None else model
    objective = get_objective(config.loss)
    criterion = objective.criterion(config)
    optimizer = make_optimizer(list(encoder.parameters()) + list(head.parameters()), config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lr_factor(epoch, config))
    labels = torch.from_numpy(y_train).to(device)
    stopper = EarlyStopping(config.early_stopping, config.patience)
    average = ExponentialWeightAverage([encoder, head], config.ema_decay) if config.ema_decay > 0 else None
    evaluated = [encoder, head] if average is None else average.averaged

    history = {"train_loss": [], "epoch": [], "val_loss": [], "val_accuracy": []}
    n_epochs_run = 0
    epochs = tqdm(range(config.epochs), desc=f"train {config.loss}", disable=not config.verbose, leave=False)
    for epoch in epochs:
        encoder.train()
        head.train()
        losses = []
        for idx in shuffled_batches(len(x_train), config.batch_size, generator, device):
            views = make_views(x_train[idx], augmenter, config.n_views, generator)
            with autocast(bf16, device):
                loss = batch_loss(views, labels[idx], model, head, criterion, objective)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if average is not None:
                average.update([encoder, head])
            losses.append(loss.detach())
        scheduler.step()
        history["train_loss"].append(float(torch.stack(losses).mean()))
        n_epochs_run = epoch + 1
        last = epoch == config.epochs - 1
        if validation is None or not (is_candidate(epoch, config) or last):
            continue
        x_val, y_val = validation
        val_loss, val_accuracy = evaluate(
            *evaluated, criterion, config, x_train, y_train, x_val, y_val, embedding_dim, bf16
        )
        for key, value in (("epoch", epoch), ("val_loss", val_loss), ("val_accuracy", val_accuracy)):
            history[key].append(value)
        epochs.set_postfix(val_loss=f"{val_loss:.4f}", val_acc=f"{val_accuracy:.3f}")
        stopper.update(epoch, val_loss, val_accuracy, evaluated)
        if stopper.should_stop(epoch):
            break
    if stopper.best_state is None and average is not None:
        average.copy_to([encoder, head])  # no selected epoch: the last average
    stopper.restore([encoder, head])
    best_epoch = n_epochs_run - 1 if stopper.best_epoch is None else stopper.best_epoch
    return TrainingResult(history=history, best_epoch=best_epoch, n_epochs_run=n_epochs_run)
