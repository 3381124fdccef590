"""A first convolution fixed to whiten the task's image patches (issue 32).

With ``whiten_first_conv=True`` a transformer sets its encoder's first
:class:`~torch.nn.Conv2d`, before training, to the principal directions of
the patches that convolution sees in the task's training images, each scaled
to unit variance, and freezes those weights (its bias still trains). This is
the patch-whitening first layer of the fast CIFAR recipes (Jordan, airbench,
arXiv 2404.00498) in the shape of ProgLearn's CNN: with ``c`` output
channels and the patch covariance ``C = sum_i lambda_i v_i v_i^T``
(eigenvalues descending), the first ``h = ceil(c / 2)`` filters are

    w_i = v_i / sqrt(lambda_i + eps),    i = 1..h,

and the next ones their negatives ``-w_i`` (so the ReLU after the convolution
keeps both signs), with bias ``-w . mean patch`` (a convolution with
more than ``2 d`` filters, ``d`` values per patch, keeps its initial weights
in the rest): on the training patches the
first ``h`` responses have mean 0 and covariance ``diag(lambda_i / (lambda_i
+ eps))``, about the identity, so the layers after it start from
decorrelated inputs of equal scale.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["EPS", "conv_input", "first_conv", "patch_covariance", "whiten_first_conv", "whitening_filters"]

#: Added to each eigenvalue before the square root (patches of standardised images).
EPS = 5e-4


class _Captured(Exception):
    """Raised by the hook to stop the forward pass once the convolution's input is captured."""


def first_conv(encoder: nn.Module) -> nn.Conv2d | None:
    """The first :class:`~torch.nn.Conv2d` of ``encoder`` in module order, or None if it has none.

    None as well where that convolution groups its channels: its filters see
    a part of the channels each, so one patch covariance does not describe them.
    """
    conv = next((m for m in encoder.modules() if isinstance(m, nn.Conv2d)), None)
    return conv if conv is not None and conv.groups == 1 else None


@torch.no_grad()
def conv_input(encoder: nn.Module, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """What ``conv`` receives when ``encoder`` (in eval mode, so no statistics move) reads ``x``."""
    captured: list[torch.Tensor] = []

    def hook(_module, args):
        captured.append(args[0].detach().float())
        raise _Captured

    handle = conv.register_forward_pre_hook(hook)
    was_training = encoder.training
    encoder.eval()
    try:
        encoder(x)
    except _Captured:
        pass
    finally:
        handle.remove()
        encoder.train(was_training)
    return captured[0]


@torch.no_grad()
def patch_covariance(
    encoder: nn.Module, conv: nn.Conv2d, x: torch.Tensor, chunk: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(d,)`` and covariance ``(d, d)`` (float64) of every ``conv``-sized patch of ``x``'s inputs to ``conv``.

    ``d = in_channels * kh * kw``; patches at stride 1, without padding and
    with the convolution's dilation, so every position of every image counts
    once. Accumulated ``chunk`` images at a time to bound the memory.
    """
    d = conv.in_channels * math.prod(conv.kernel_size)
    total, first, second = 0, torch.zeros(d, dtype=torch.float64), torch.zeros((d, d), dtype=torch.float64)
    for start in range(0, len(x), chunk):
        inputs = conv_input(encoder, conv, x[start : start + chunk])
        patches = nn.functional.unfold(inputs, conv.kernel_size, dilation=conv.dilation)
        p = patches.transpose(1, 2).reshape(-1, d).double().cpu()
        total += len(p)
        first += p.sum(0)
        second += p.T @ p
    mean = first / total
    return mean, second / total - torch.outer(mean, mean)


def whitening_filters(mean: torch.Tensor, cov: torch.Tensor, out_channels: int, eps: float = EPS):
    """Weights ``(m, d)`` and bias ``(m,)`` of the whitening layer (module docstring), ``m = min(out_channels, 2 d)``.

    Each eigenvector's sign is fixed (its largest entry positive), so the
    filters do not depend on the eigensolver's choice of sign.
    """
    half = min(math.ceil(out_channels / 2), len(mean))
    values, vectors = torch.linalg.eigh(cov)
    values, vectors = values.flip(0)[:half].clamp_min(0), vectors.flip(1)[:, :half]
    signs = torch.sign(vectors.gather(0, vectors.abs().argmax(0, keepdim=True)))
    directions = (vectors * signs / torch.sqrt(values + eps)).T
    weight = torch.cat([directions, -directions])[:out_channels]
    return weight, -(weight @ mean)


@torch.no_grad()
def whiten_first_conv(encoder: nn.Module, x: torch.Tensor, eps: float = EPS) -> nn.Conv2d | None:
    """Set ``encoder``'s first convolution to whiten ``x``'s patches and freeze its weight; return it.

    An encoder without a convolution, or whose first one groups its
    channels, is left as it is, and None is returned.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps images ``(n, C, H, W)`` to embeddings; its first ``Conv2d`` in
        module order is the one set. With ``c`` output channels and ``d``
        values per patch, ``min(c, 2 d)`` filters whiten; any others keep
        their initial weights (fixed as well) and bias.
    x : torch.Tensor of shape (n, C, H, W), float
        The training images, as the encoder reads them (on its device).
    eps : float, default=EPS
        Added to the eigenvalues before the square root.
    """
    conv = first_conv(encoder)
    if conv is None:
        return None
    mean, cov = patch_covariance(encoder, conv, x)
    weight, bias = whitening_filters(mean, cov, conv.out_channels, eps)
    # A convolution with more than 2 d filters keeps its initial weights in the rest.
    m = len(weight)
    conv.weight[:m].copy_(weight.reshape(m, *conv.weight.shape[1:]).to(conv.weight.dtype))
    if conv.bias is not None:
        conv.bias[:m].copy_(bias.to(conv.bias.dtype))
    # Fixed, as in airbench: training them bought nothing on held-out runs (docs/performance.md k).
    conv.weight.requires_grad_(False)
    return conv
