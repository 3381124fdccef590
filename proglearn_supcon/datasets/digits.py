"""scikit-learn's bundled 8x8 digits as small RGB images, clean or distorted (no network).

* :func:`load_digits_images`: the clean digits, resized (data set "digits");
* :func:`load_hard_digits_images`: rotated, shifted and noisy once with a
  fixed seed (data set "digits-hard", the quick start's default: no task is
  learned perfectly, so the transfer efficiencies mean something).
"""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["load_digits_images", "load_hard_digits_images"]


def load_digits_images(size: int = 32, mode: str = "bilinear") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits as small RGB images (no network).

    Parameters
    ----------
    size : int, default 32
        Output height and width in pixels.
    mode : {"bilinear", "nearest"}, default "bilinear"
        Interpolation of :func:`torch.nn.functional.interpolate`.

    Returns
    -------
    X : ndarray of shape (1797, size, size, 3), uint8
        The 0..16 intensities scaled to 0..255, resized, repeated over 3
        identical channels (so CIFAR models apply unchanged).
    y : ndarray of shape (1797,), int64
        Digit labels 0..9.
    """
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    size = operator.index(size)
    if size < 1:
        raise ValueError(f"size must be a positive integer; got {size}")
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest'; got {mode!r}")
    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) * (255.0 / 16.0))[:, None]
    if size != images.shape[-1]:
        align = False if mode == "bilinear" else None  # "nearest" takes no align_corners
        images = F.interpolate(images, size=(size, size), mode=mode, align_corners=align)
    gray = images[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    X = np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=-1))
    return X, digits.target.astype(np.int64)


def load_hard_digits_images(
    max_rotation: float = 45.0,
    max_translation: float = 0.15,
    noise_std: float = 0.3,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly rotated, shifted and noisy versions of :func:`load_digits_images` (no network).

    The clean digits are easy: a small CNN classifies most pairs of them
    perfectly, so the transfer efficiencies, ratios of errors, say little. Each
    image here is rotated, translated and covered with Gaussian pixel noise
    once, with a fixed seed, so the data set is the same on every call and no
    pair of digits is trivially separable.

    Parameters
    ----------
    max_rotation : float, default 45.0
        Rotation angles are uniform in ``[-max_rotation, max_rotation]`` degrees.
    max_translation : float, default 0.15
        Horizontal and vertical offsets are uniform in
        ``[-max_translation, max_translation]`` times the image size.
    noise_std : float, default 0.3
        Standard deviation of the Gaussian noise added to intensities in
        ``[0, 1]`` (independently per pixel, the same on the 3 channels),
        before clipping back to ``[0, 1]``.
    random_state : int, default 0
        Seed of the distortions.

    Returns
    -------
    X : ndarray of shape (1797, 32, 32, 3), uint8
        Distorted digits, 3 identical channels.
    y : ndarray of shape (1797,), int64
        Digit labels 0..9, in scikit-learn's order (that of :func:`load_digits_images`).
    """
    import torch
    import torch.nn.functional as F

    for name, value in (("max_rotation", max_rotation), ("max_translation", max_translation), ("noise_std", noise_std)):
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    X, y = load_digits_images()
    rng = np.random.default_rng(random_state)
    n = len(y)
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))
    # affine_grid works in [-1, 1] coordinates, so an offset of 2 is the image size.
    offset = 2.0 * rng.uniform(-max_translation, max_translation, (n, 2))
    theta = np.zeros((n, 2, 3), dtype=np.float32)
    theta[:, 0, 0], theta[:, 0, 1] = np.cos(angle), -np.sin(angle)
    theta[:, 1, 0], theta[:, 1, 1] = np.sin(angle), np.cos(angle)
    theta[:, :, 2] = offset
    images = torch.from_numpy(X[..., 0].astype(np.float32) / 255.0)[:, None]
    grid = F.affine_grid(torch.from_numpy(theta), list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)[:, 0].numpy()
    noisy = np.clip(warped + rng.normal(0.0, noise_std, warped.shape), 0.0, 1.0)
    gray = np.round(noisy * 255.0).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=-1)), y
