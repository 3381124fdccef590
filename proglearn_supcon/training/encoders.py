"""Encoders (inputs -> flat embedding) and the heads trained on top of them.

The voters only ever see the encoder's output (the *embedding*); the heads exist
for training and are discarded afterwards, as in Khosla et al. (2020).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: An encoder factory maps the shape of one input (``(C, H, W)`` for images,
#: ``(d,)`` for feature vectors) to a module returning ``(batch, embedding_dim)``.
EncoderFactory = Callable[[tuple[int, ...]], nn.Module]


def _conv_block(in_channels: int, out_channels: int, stride: int, padding: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=padding),
        nn.ReLU(),
        nn.BatchNorm2d(out_channels),
    ]


class ProgLearnCNN(nn.Module):
    """The CIFAR network of ProgLearn (Vogelstein et al.), without its softmax layer.

    conv 16 (3x3), then conv 32, 64, 128, 254 (3x3, stride 2, padding 1), each
    followed by ReLU and BatchNorm; flatten; BatchNorm; dense 2000 + ReLU + BN;
    dense 2000 + ReLU + BN. The last BN output (2000 units) is the embedding.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)`` of one image.
    embedding_dim : int, default=2000
        Width of the two dense layers.
    """

    def __init__(self, input_shape: Sequence[int], embedding_dim: int = 2000) -> None:
        super().__init__()
        channels = input_shape[0]
        layers = _conv_block(channels, 16, stride=1, padding=0)
        widths = [16, 32, 64, 128, 254]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += _conv_block(w_in, w_out, stride=2, padding=1)
        self.features = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            n_flat = self.features(torch.zeros(2, *input_shape)).shape[1]
        self.dense = nn.Sequential(
            nn.BatchNorm1d(n_flat),
            nn.Linear(n_flat, embedding_dim),
            nn.ReLU(),
            nn.BatchNorm1d(embedding_dim),
            nn.Linear(embedding_dim, embedding_dim),
            nn.ReLU(),
            nn.BatchNorm1d(embedding_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.features(x))


class MLPEncoder(nn.Module):
    """Dense encoder for feature vectors ``(batch, d)``: (Linear, ReLU, BN) per hidden layer."""

    def __init__(self, input_shape: Sequence[int], hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_shape[0]
        for out in hidden:
            layers += [nn.Linear(width, out), nn.ReLU(), nn.BatchNorm1d(out)]
            width = out
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def default_encoder(input_shape: tuple[int, ...]) -> nn.Module:
    """ProgLearn's CNN for images ``(C, H, W)``, an MLP for feature vectors ``(d,)``."""
    if len(input_shape) == 3:
        return ProgLearnCNN(input_shape)
    if len(input_shape) == 1:
        return MLPEncoder(input_shape)
    raise ValueError(f"no default encoder for inputs of shape {input_shape}")


class Standardize(nn.Module):
    """Subtracts a stored mean and divides by a stored std (per channel or feature).

    Kept inside the model so a saved transformer carries its own preprocessing.
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ProjectionHead(nn.Module):
    """MLP projection to an L2-normalised ``out_dim`` vector (SupCon / TCL training only)."""

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(h), dim=-1)


def embedding_dim(encoder: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Width of ``encoder``'s output, found by one forward pass of two zero inputs."""
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = encoder(torch.zeros(2, *input_shape))
    encoder.train(was_training)
    if out.ndim != 2:
        raise ValueError(f"the encoder must return (batch, embedding_dim), got shape {tuple(out.shape)}")
    return int(out.shape[1])
