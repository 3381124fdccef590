"""Benchmark a: training throughput (views/s) of the library's path against a plain fp32 loop.

The plain loop is what one would write first: ProgLearn's CNN and the
projection head in fp32, contiguous tensors, ``torch.optim.Adam`` with its
defaults and a textbook masked SupCon loss. Each lever is then added to it
alone, and the library's own ``NeuralClassificationTransformer`` training
step (every lever on) is measured beside them. All configurations train on
the same augmented views, and take turns step by step so background load
falls on all of them alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from proglearn_supcon.precision import autocast, native_bf16
from proglearn_supcon.training.augment import ImageAugmenter
from proglearn_supcon.training.encoders import ProgLearnCNN, ProjectionHead
from proglearn_supcon.training.engine import TrainingConfig, batch_loss, make_optimizer
from proglearn_supcon.training.losses import SupConLoss
from proglearn_supcon.training.objectives import get_objective
from proglearn_supcon.transformers import NeuralClassificationTransformer

from .loss import plain_supcon


@dataclass
class Config:
    name: str
    bf16: bool = False
    channels_last: bool = False
    fused_adam: bool = False
    one_pass_loss: bool = False


def configs(device: torch.device) -> list[Config]:
    bf16 = native_bf16(device)
    return [
        Config("plain fp32 loop (baseline)"),
        Config("+ bf16 autocast" + ("" if bf16 else " (not native here)"), bf16=True),
        Config("+ channels_last", channels_last=True),
        Config("+ fused Adam", fused_adam=True),
        Config("+ one-pass SupCon loss", one_pass_loss=True),
        Config("all levers", bf16=bf16, channels_last=True, fused_adam=True, one_pass_loss=True),
    ]


class _Trainer:
    """One model + optimiser + loss, stepping on given views."""

    def __init__(self, config: Config, device: torch.device, temperature: float = 0.2) -> None:
        torch.manual_seed(0)
        self.config = config
        self.encoder = ProgLearnCNN((3, 32, 32)).to(device)
        self.head = ProjectionHead(2000).to(device)
        if config.channels_last:
            self.encoder = self.encoder.to(memory_format=torch.channels_last)
        params = list(self.encoder.parameters()) + list(self.head.parameters())
        extra = {"fused": True} if config.fused_adam else {}
        self.optimizer = torch.optim.Adam(params, lr=1e-3, weight_decay=1e-4, **extra)
        one_pass = SupConLoss(temperature)
        self.loss = one_pass if config.one_pass_loss else (lambda z, y: plain_supcon(z, y, temperature))
        self.device = device

    def step(self, views: torch.Tensor, labels: torch.Tensor) -> None:
        batch, n_views = views.shape[:2]
        x = views.reshape(batch * n_views, *views.shape[2:])
        if self.config.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.config.bf16, self.device):
            z = self.head(self.encoder(x)).float().reshape(batch, n_views, -1)
            loss = self.loss(z, labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


class _LibraryTrainer:
    """The library's own training step: proglearn_supcon.training.engine's batch_loss and optimiser."""

    def __init__(self, device: torch.device) -> None:
        self.transformer = NeuralClassificationTransformer(device=device, random_state=0)
        rng = torch.Generator().manual_seed(0)
        X = (torch.rand(64, 32, 32, 3, generator=rng) * 255).to(torch.uint8).numpy()
        y = torch.arange(64).remainder(10).numpy()
        # One short fit sets up the encoder exactly as training does (channels_last, Standardize).
        self.transformer.set_params(epochs=1, validation_fraction=0.0).fit(X, y)
        t = self.transformer
        self.encoder, self.head = t.encoder_.train(), t.head_.train()
        self.config = TrainingConfig.from_params(t.get_params(deep=False))
        self.objective = get_objective(self.config.loss)
        self.criterion = self.objective.criterion(self.config)
        self.optimizer = make_optimizer(list(self.encoder.parameters()) + list(self.head.parameters()), self.config)
        self.bf16 = native_bf16(device)
        self.device = device

    def step(self, views: torch.Tensor, labels: torch.Tensor) -> None:
        with autocast(self.bf16, self.device):
            loss = batch_loss(views, labels, self.encoder, self.head, self.criterion, self.objective)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()


def run(device: torch.device, batch: int = 128, n_views: int = 2, steps: int = 10, warmup: int = 2) -> list[dict]:
    """Views per second of every configuration, measured in turns."""
    g = torch.Generator().manual_seed(0)
    images = torch.rand(batch, 3, 32, 32, generator=g).to(device)
    labels = torch.randint(0, 10, (batch,), generator=g).to(device)
    augmenter = ImageAugmenter()
    trainers = {c.name: _Trainer(c, device) for c in configs(device)}
    trainers["library (NeuralClassificationTransformer)"] = _LibraryTrainer(device)
    seconds = {name: 0.0 for name in trainers}
    for i in range(warmup + steps):
        views = augmenter(images, n_views, g)  # (batch, views, C, H, W), shared by all
        for name, trainer in trainers.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            trainer.step(views, labels)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= warmup:
                seconds[name] += time.perf_counter() - start
    base = seconds[configs(device)[0].name]
    return [
        {"config": name, "views_per_s": batch * n_views * steps / s, "speedup": base / s} for name, s in seconds.items()
    ]


def report(rows: list[dict], batch: int = 128, n_views: int = 2) -> None:
    print(
        f"\na) training throughput, ProgLearn CNN + projection head + SupCon, batch {batch} x {n_views} "
        f"views, Adam (augmentation excluded; the same views for all)"
    )
    print(f"  {'configuration':<44}{'views/s':>10}{'x plain fp32':>14}")
    for row in rows:
        print(f"  {row['config']:<44}{row['views_per_s']:>10.0f}{row['speedup']:>14.2f}")
