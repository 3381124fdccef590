"""Batched data augmentations that make several random views per sample.

The contrastive transformers need ``n_views`` differently augmented copies of
every sample in a batch. Both augmenters here work on a whole batch at once,
on the batch's own device, with no per-sample Python loop, and are
reproducible under a :class:`torch.Generator`.

Randomness: every random number is drawn on the generator's device and then
moved to the data's device. A CPU generator can therefore drive an
augmentation of a CUDA batch, and gives the same random parameters as it
would for the same batch on the CPU. Without a generator the global RNG of
the data's device is used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor

from proglearn_supcon.precision import no_autocast
from proglearn_supcon.validation import check_real, is_int

__all__ = ["ImageAugmenter", "TabularAugmenter"]

_CROPS = ("pad", "resized", "none")
# ITU-R 601-2 luma weights, the ones torchvision's rgb_to_grayscale uses.
_LUMA = (0.299, 0.587, 0.114)
# Aspect-ratio range of torchvision's RandomResizedCrop, sampled log-uniformly.
_LOG_RATIO = (math.log(3 / 4), math.log(4 / 3))
# RandomResizedCrop's number of tries before falling back to the whole image.
_N_CROP_TRIES = 10


# --------------------------------------------------------------------------
# Checks of a call's arguments
# --------------------------------------------------------------------------
def _check_call_args(x: object, ndim: int, n_views: object, generator: object) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}.")
    if x.ndim != ndim:
        raise ValueError(f"x must be {ndim}-D, got shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise ValueError(f"x must have a floating-point dtype, got {x.dtype}.")
    if not is_int(n_views) or n_views < 1:
        raise ValueError(f"n_views must be an integer >= 1, got {n_views!r}.")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}.")


# --------------------------------------------------------------------------
# Random draws: made on the generator's device, then moved to the data's.
# --------------------------------------------------------------------------
def _draw_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    return device if generator is None else generator.device


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Uniform [0, 1) float32 draws of ``shape`` on ``device``."""
    src = _draw_device(generator, device)
    return torch.rand(shape, generator=generator, device=src).to(device)


def _randn(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Standard-normal float32 draws of ``shape`` on ``device``."""
    src = _draw_device(generator, device)
    return torch.randn(shape, generator=generator, device=src).to(device)


def _randint(high: int, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Integer int64 draws in ``[0, high)`` of ``shape`` on ``device``."""
    src = _draw_device(generator, device)
    return torch.randint(0, high, shape, generator=generator, device=src).to(device)


# --------------------------------------------------------------------------
# Image operations on a flat batch of views, shape (N, C, H, W)
# --------------------------------------------------------------------------
def _grayscale(v: Tensor) -> Tensor:
    """Luma of ``v`` (N, C, H, W) as (N, 1, H, W); the channel mean unless C == 3."""
    if v.shape[1] != 3:
        return v.mean(dim=1, keepdim=True)
    weights = torch.tensor(_LUMA, dtype=v.dtype, device=v.device).view(1, 3, 1, 1)
    return (v * weights).sum(dim=1, keepdim=True)


def _pad_crop(v: Tensor, padding: int, generator: torch.Generator | None) -> Tensor:
    """Random HxW crop of ``v`` zero-padded by ``padding`` on every side.

    The output is ``x[i + dy, j + dx]`` (zero outside the image) with integer
    shifts ``dy, dx`` uniform in ``[-padding, padding]``, one per view.
    """
    n, c, h, w = v.shape
    padded = F.pad(v, (padding, padding, padding, padding))
    offsets = _randint(2 * padding + 1, (2, n), generator, v.device)
    # Gather all crops at once with broadcast advanced indexing.
    rows = offsets[0, :, None] + torch.arange(h, device=v.device)  # (N, H)
    cols = offsets[1, :, None] + torch.arange(w, device=v.device)  # (N, W)
    i_n = torch.arange(n, device=v.device)[:, None, None, None]
    i_c = torch.arange(c, device=v.device)[None, :, None, None]
    return padded[i_n, i_c, rows[:, None, :, None], cols[:, None, None, :]]


def _crop_size(
    n: int,
    h: int,
    w: int,
    scale: Sequence[float],
    generator: torch.Generator | None,
    device: torch.device,
) -> tuple[Tensor, Tensor]:
    """Crop width and height as fractions of the image's, each shape (N,), float32.

    Like RandomResizedCrop: the first of ``_N_CROP_TRIES`` (area, log-ratio)
    draws that fits in the image wins; if none fits, the whole image is used.
    """
    draws = _rand((2, n, _N_CROP_TRIES), generator, device)
    area = scale[0] + (scale[1] - scale[0]) * draws[0]
    ratio = torch.exp(_LOG_RATIO[0] + (_LOG_RATIO[1] - _LOG_RATIO[0]) * draws[1])
    # A crop of area*H*W pixels and width/height ``ratio``, relative to W and H.
    crop_w = torch.sqrt(area * ratio * h / w)
    crop_h = torch.sqrt(area / ratio * w / h)
    fits = (crop_w <= 1) & (crop_h <= 1)
    first = fits.int().argmax(dim=1, keepdim=True)  # argmax returns the first max
    any_fits = fits.any(dim=1)
    crop_w = torch.where(any_fits, crop_w.gather(1, first)[:, 0], 1.0)
    crop_h = torch.where(any_fits, crop_h.gather(1, first)[:, 0], 1.0)
    return crop_w, crop_h


def _resized_crop(v: Tensor, scale: Sequence[float], generator: torch.Generator | None) -> Tensor:
    """RandomResizedCrop-like crop resized back to HxW with bilinear sampling."""
    n, c, h, w = v.shape
    crop_w, crop_h = _crop_size(n, h, w, scale, generator, v.device)
    position = _rand((2, n), generator, v.device)
    theta = torch.zeros(n, 2, 3, device=v.device)
    theta[:, 0, 0] = crop_w
    theta[:, 1, 1] = crop_h
    # Crop centre in grid_sample's [-1, 1] coordinates; keeps the crop inside.
    theta[:, 0, 2] = (2 * position[0] - 1) * (1 - crop_w)
    theta[:, 1, 2] = (2 * position[1] - 1) * (1 - crop_h)
    grid = F.affine_grid(theta.to(v.dtype), [n, c, h, w], align_corners=False)
    out = F.grid_sample(v, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.clamp_(0, 1)  # bilinear weights can overshoot [0, 1] by rounding


def _random_hflip(v: Tensor, generator: torch.Generator | None) -> Tensor:
    """Flip each view horizontally with probability 0.5."""
    flip = _rand((v.shape[0],), generator, v.device) < 0.5
    return torch.where(flip[:, None, None, None], v.flip(-1), v)


def _color_jitter(v: Tensor, strength: float, p: float, generator: torch.Generator | None) -> Tensor:
    """Brightness, contrast and saturation jitter, each view with probability ``p``.

    Factors are uniform in ``[max(0, 1 - strength), 1 + strength]`` as in
    torchvision's ColorJitter, but applied in this fixed order rather than a
    random one (a per-view order would need a per-view branch).
    """
    n = v.shape[0]
    low, high = max(0.0, 1.0 - strength), 1.0 + strength
    factors = low + (high - low) * _rand((3, n), generator, v.device)
    applied = _rand((n,), generator, v.device) < p
    # A factor of exactly 1 leaves a view bit-for-bit unchanged below.
    factors = torch.where(applied, factors, 1.0).to(v.dtype)[:, :, None, None, None]
    brightness, contrast, saturation = factors
    v = (v * brightness).clamp(0, 1)
    mean = _grayscale(v).mean(dim=(1, 2, 3), keepdim=True)
    v = (contrast * v + (1 - contrast) * mean).clamp(0, 1)
    if v.shape[1] == 3:  # saturation is undefined for other channel counts
        v = (saturation * v + (1 - saturation) * _grayscale(v)).clamp(0, 1)
    return v


def _random_grayscale(v: Tensor, p: float, generator: torch.Generator | None) -> Tensor:
    """Replace each view by its luma on all channels with probability ``p``."""
    gray = _grayscale(v).clamp(0, 1).expand_as(v)
    chosen = _rand((v.shape[0],), generator, v.device) < p
    return torch.where(chosen[:, None, None, None], gray, v)


# --------------------------------------------------------------------------
# Public augmenters
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageAugmenter:
    """SimCLR-style random views of a batch of images.

    Operations, in order, each drawn independently per sample and view:
    crop, horizontal flip, colour jitter, random grayscale.

    Parameters
    ----------
    crop : {"pad", "resized", "none"}, default="pad"
        ``"pad"``: zero-pad by ``padding`` and take a random HxW crop, i.e. an
        integer shift in ``[-padding, padding]`` per axis (CIFAR-style).
        ``"resized"``: RandomResizedCrop-like crop with area fraction uniform
        in ``scale`` and aspect ratio log-uniform in (3/4, 4/3), resized back
        to HxW bilinearly. ``"none"``: no crop.
    padding : int, default=4
        Padding in pixels for ``crop="pad"``; 0 means no shift.
    scale : tuple of (float, float), default=(0.5, 1.0)
        Range of the crop's area fraction for ``crop="resized"``,
        ``0 < scale[0] <= scale[1] <= 1``.
    flip : bool, default=True
        Flip horizontally with probability 0.5.
    color_jitter : float, default=0.4
        Strength ``s`` of brightness, contrast and saturation jitter; factors
        are uniform in ``[max(0, 1 - s), 1 + s]``. Hue is not jittered (it
        needs an RGB/HSV round trip and matters little for these
        experiments). Saturation is jittered only for 3-channel images.
        0 disables the jitter.
    color_jitter_p : float, default=0.8
        Probability of applying the colour jitter to a view.
    grayscale_p : float, default=0.2
        Probability of converting a view to grayscale (luma copied to all
        three channels). Only for 3-channel images; a no-op otherwise.

    Raises
    ------
    ValueError
        If a parameter is out of range.

    Examples
    --------
    >>> aug = ImageAugmenter(crop="pad", padding=4)
    >>> x = torch.rand(8, 3, 32, 32)
    >>> aug(x, n_views=2, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([8, 2, 3, 32, 32])
    """

    crop: str = "pad"
    padding: int = 4
    scale: tuple[float, float] = (0.5, 1.0)
    flip: bool = True
    color_jitter: float = 0.4
    color_jitter_p: float = 0.8
    grayscale_p: float = 0.2

    def __post_init__(self) -> None:
        # A frozen value object: validating once here fails at construction
        # rather than in the middle of a training loop.
        if self.crop not in _CROPS:
            raise ValueError(f"crop must be one of {_CROPS}, got {self.crop!r}.")
        if not is_int(self.padding) or self.padding < 0:
            raise ValueError(f"padding must be an integer >= 0, got {self.padding!r}.")
        self._check_scale()
        if not isinstance(self.flip, bool):
            raise ValueError(f"flip must be a bool, got {self.flip!r}.")
        check_real("color_jitter", self.color_jitter, low=0)
        check_real("color_jitter_p", self.color_jitter_p, low=0, high=1)
        check_real("grayscale_p", self.grayscale_p, low=0, high=1)

    def _check_scale(self) -> None:
        scale = self.scale
        ok = (
            isinstance(scale, Sequence)
            and len(scale) == 2
            and all(isinstance(s, Real) and not isinstance(s, bool) for s in scale)
            and 0 < scale[0] <= scale[1] <= 1
        )
        if not ok:
            raise ValueError(f"scale must be a pair (low, high) with 0 < low <= high <= 1, got {scale!r}.")

    def __call__(self, x: Tensor, n_views: int, generator: torch.Generator | None = None) -> Tensor:
        """Make ``n_views`` random views of every image in ``x``.

        Parameters
        ----------
        x : Tensor of shape (B, C, H, W), floating dtype, values in [0, 1]
            The images, on any device.
        n_views : int
            Number of views per image, >= 1.
        generator : torch.Generator or None, default=None
            Source of randomness, on any device; None uses the global RNG of
            ``x``'s device.

        Returns
        -------
        Tensor of shape (B, n_views, C, H, W), dtype and device of ``x``
            The views, values in [0, 1]; a new tensor, never a view of ``x``.

        Raises
        ------
        ValueError
            If ``x`` is not a 4-D floating tensor with values in [0, 1], or
            ``n_views`` or ``generator`` is invalid.
        """
        _check_call_args(x, 4, n_views, generator)
        if min(x.shape[1:]) < 1:
            raise ValueError(f"x must have C, H, W >= 1, got shape {tuple(x.shape)}.")
        # One device sync, worth it: un-normalised input is an easy mistake.
        if x.numel() and not bool(((x >= 0) & (x <= 1)).all()):
            raise ValueError("x must hold values in [0, 1] (and no NaN).")
        b, c, h, w = x.shape
        views = x.repeat_interleave(n_views, dim=0)  # (B * n_views, C, H, W), a copy
        if views.shape[0] > 0:
            # Keep the views in the input's dtype inside a training autocast region.
            with no_autocast(x.device):
                views = self._augment(views, generator)
        return views.reshape(b, n_views, c, h, w)

    def _augment(self, v: Tensor, generator: torch.Generator | None) -> Tensor:
        if self.crop == "pad" and self.padding > 0:
            v = _pad_crop(v, self.padding, generator)
        elif self.crop == "resized":
            v = _resized_crop(v, self.scale, generator)
        if self.flip:
            v = _random_hflip(v, generator)
        if self.color_jitter > 0 and self.color_jitter_p > 0:
            v = _color_jitter(v, self.color_jitter, self.color_jitter_p, generator)
        if self.grayscale_p > 0 and v.shape[1] == 3:
            v = _random_grayscale(v, self.grayscale_p, generator)
        return v


@dataclass(frozen=True)
class TabularAugmenter:
    """Random views of standardised feature vectors: Gaussian noise and masking.

    Each view is ``(x + noise_std * eps) * keep`` with ``eps ~ N(0, 1)`` and
    ``keep ~ Bernoulli(1 - dropout)`` drawn per sample, view and feature.
    Masked features are set to exactly 0, the mean of a standardised feature;
    unlike dropout the kept features are not rescaled, so that a view stays
    on the scale of the data.

    Parameters
    ----------
    noise_std : float, default=0.1
        Standard deviation of the additive noise, >= 0.
    dropout : float, default=0.1
        Probability of masking a feature, in [0, 1).

    Raises
    ------
    ValueError
        If a parameter is out of range.
    """

    noise_std: float = 0.1
    dropout: float = 0.1

    def __post_init__(self) -> None:
        check_real("noise_std", self.noise_std, low=0)
        check_real("dropout", self.dropout, low=0, high=1, high_open=True)

    def __call__(self, x: Tensor, n_views: int, generator: torch.Generator | None = None) -> Tensor:
        """Make ``n_views`` random views of every row of ``x``.

        Parameters
        ----------
        x : Tensor of shape (B, D), floating dtype, finite
            Standardised features, on any device.
        n_views : int
            Number of views per row, >= 1.
        generator : torch.Generator or None, default=None
            Source of randomness, on any device; None uses the global RNG of
            ``x``'s device.

        Returns
        -------
        Tensor of shape (B, n_views, D), dtype and device of ``x``
            The views; a new tensor, never a view of ``x``.

        Raises
        ------
        ValueError
            If ``x`` is not a finite 2-D floating tensor, or ``n_views`` or
            ``generator`` is invalid.
        """
        _check_call_args(x, 2, n_views, generator)
        if x.numel() and not bool(torch.isfinite(x).all()):
            raise ValueError("x must hold finite values only.")
        b, d = x.shape
        views = x.repeat_interleave(n_views, dim=0)  # (B * n_views, D), a copy
        if self.noise_std > 0:
            noise = _randn(tuple(views.shape), generator, x.device).to(x.dtype)
            views = views + self.noise_std * noise
        if self.dropout > 0:
            masked = _rand(tuple(views.shape), generator, x.device) < self.dropout
            views = views.masked_fill(masked, 0.0)
        return views.reshape(b, n_views, d)
