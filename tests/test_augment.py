"""Tests of the batched image and tabular augmenters."""

from __future__ import annotations

import pytest
import torch

from proglearn_supcon.training.augment import ImageAugmenter, TabularAugmenter

OFF = dict(crop="none", flip=False, color_jitter=0.0, grayscale_p=0.0)
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(b: int = 6, c: int = 3, h: int = 12, w: int = 10, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, c, h, w, generator=gen(seed))


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[..., i, j] = x[..., i + dy, j + dx]``, zero outside ``x``."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    out[..., max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)] = x[
        ..., max(0, dy) : h - max(0, -dy), max(0, dx) : w - max(0, -dx)
    ]
    return out


# ------------------------------------------------------------------ images
@pytest.mark.parametrize("crop", ["pad", "resized", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_views", [1, 3])
def test_image_shape_dtype_range(crop, dtype, n_views):
    x = images().to(dtype)
    out = ImageAugmenter(crop=crop)(x, n_views, gen())
    assert out.shape == (6, n_views, 3, 12, 10)
    assert out.dtype == dtype and out.device == x.device
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("crop", ["pad", "resized"])
def test_image_reproducible_under_generator(crop):
    aug, x = ImageAugmenter(crop=crop), images()
    assert torch.equal(aug(x, 2, gen(1)), aug(x, 2, gen(1)))
    assert not torch.equal(aug(x, 2, gen(1)), aug(x, 2, gen(2)))


def test_image_global_rng_when_no_generator():
    aug, x = ImageAugmenter(), images()
    torch.manual_seed(5)
    first = aug(x, 2)
    torch.manual_seed(5)
    assert torch.equal(first, aug(x, 2))


def test_image_views_differ():
    out = ImageAugmenter()(images(b=16), 2, gen())
    differs = (out[:, 0] != out[:, 1]).flatten(1).any(dim=1)
    assert differs.all()


def test_identity_when_everything_off():
    x = images()
    for n_views in (1, 3):
        out = ImageAugmenter(**OFF)(x, n_views, gen())
        assert torch.equal(out, x[:, None].expand(-1, n_views, -1, -1, -1))
        out.fill_(0.5)  # the output is a copy, never a view of x
        assert torch.equal(x, images())


def test_flip_only_gives_x_or_its_mirror():
    x = images(b=32)
    out = ImageAugmenter(**{**OFF, "flip": True})(x, 2, gen())
    same = (out == x[:, None]).flatten(2).all(dim=2)
    mirrored = (out == x.flip(-1)[:, None]).flatten(2).all(dim=2)
    assert (same ^ mirrored).all()
    assert same.any() and mirrored.any()


def test_pad_crop_is_a_zero_filled_shift():
    padding = 3
    # Distinct positive pixels, so each shift gives a different image.
    x = (torch.arange(2 * 3 * 12 * 10, dtype=torch.float32).reshape(2, 3, 12, 10) + 1) / 1000
    out = ImageAugmenter(**{**OFF, "crop": "pad", "padding": padding})(x, 8, gen())
    seen = set()
    for b in range(2):
        for v in range(8):
            matches = [
                (dy, dx)
                for dy in range(-padding, padding + 1)
                for dx in range(-padding, padding + 1)
                if torch.equal(out[b, v], shift(x[b], dy, dx))
            ]
            assert len(matches) == 1
            seen.add(matches[0])
    assert len(seen) > 1


def test_pad_crop_with_zero_padding_is_identity():
    x = images()
    out = ImageAugmenter(**{**OFF, "crop": "pad", "padding": 0})(x, 2, gen())
    assert torch.equal(out, x[:, None].expand(-1, 2, -1, -1, -1))


def test_resized_crop_with_full_scale_is_identity():
    # Area fraction 1 fits only with aspect ratio 1: the whole image, resampled.
    x = images(h=10, w=10)
    out = ImageAugmenter(**{**OFF, "crop": "resized", "scale": (1.0, 1.0)})(x, 2, gen())
    torch.testing.assert_close(out, x[:, None].expand(-1, 2, -1, -1, -1), atol=1e-5, rtol=0)


def test_resized_crop_zooms_into_a_ramp():
    # A horizontal ramp stays an increasing ramp whose range shrinks to the crop.
    w = 16
    ramp = ((torch.arange(w) + 0.5) / w).expand(4, 1, 16, w).contiguous()
    out = ImageAugmenter(**{**OFF, "crop": "resized", "scale": (0.25, 0.5)})(ramp, 4, gen())
    assert (out.diff(dim=-1) >= -1e-6).all()
    assert (out.diff(dim=-2).abs() < 1e-6).all()
    span = out[..., -1] - out[..., 0]
    assert (span < ramp[..., -1] - ramp[..., 0] - 0.1).all()


def test_grayscale_makes_channels_equal():
    out = ImageAugmenter(**{**OFF, "grayscale_p": 1.0})(images(), 2, gen())
    assert torch.equal(out[:, :, 0], out[:, :, 1]) and torch.equal(out[:, :, 1], out[:, :, 2])
    luma = 0.299 * images()[:, 0] + 0.587 * images()[:, 1] + 0.114 * images()[:, 2]
    torch.testing.assert_close(out[:, 0, 0], luma)


def test_single_channel_grayscale_is_a_no_op():
    x = images(c=1)
    out = ImageAugmenter(**{**OFF, "grayscale_p": 1.0})(x, 2, gen())
    assert torch.equal(out, x[:, None].expand(-1, 2, -1, -1, -1))


@pytest.mark.parametrize("c", [1, 3])
def test_color_jitter(c):
    x = images(b=16, c=c)
    jitter = dict(OFF, color_jitter=0.4)
    always = ImageAugmenter(**jitter, color_jitter_p=1.0)(x, 2, gen())
    assert (always != x[:, None]).flatten(2).any(dim=2).all()
    assert always.min() >= 0 and always.max() <= 1
    never = ImageAugmenter(**jitter, color_jitter_p=0.0)(x, 2, gen())
    assert torch.equal(never, x[:, None].expand_as(never))


def test_empty_batch():
    out = ImageAugmenter()(torch.rand(0, 3, 8, 8), 2, gen())
    assert out.shape == (0, 2, 3, 8, 8)


def test_large_batch_runs_vectorised():
    # Not timed: a per-sample Python loop would show up as a slow test here.
    for crop in ("pad", "resized"):
        out = ImageAugmenter(crop=crop)(torch.rand(512, 3, 32, 32, generator=gen()), 2, gen())
        assert out.shape == (512, 2, 3, 32, 32)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"crop": "random"},
        {"padding": -1},
        {"padding": 2.0},
        {"scale": (0.0, 1.0)},
        {"scale": (0.8, 0.5)},
        {"scale": (0.5, 1.5)},
        {"scale": 0.5},
        {"flip": 1},
        {"color_jitter": -0.1},
        {"color_jitter": float("nan")},
        {"color_jitter_p": 1.5},
        {"grayscale_p": -0.1},
        {"grayscale_p": True},
    ],
)
def test_image_bad_parameters(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ImageAugmenter(**kwargs)


@pytest.mark.parametrize(
    "x, n_views, generator",
    [
        (torch.rand(2, 8, 8), 2, None),  # not 4-D
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), 2, None),  # not floating
        (torch.rand(2, 3, 8, 8) * 2, 2, None),  # not in [0, 1]
        (torch.full((2, 3, 8, 8), float("nan")), 2, None),
        (torch.rand(2, 3, 0, 8), 2, None),
        (torch.rand(2, 3, 8, 8).numpy(), 2, None),
        (torch.rand(2, 3, 8, 8), 0, None),
        (torch.rand(2, 3, 8, 8), 2.0, None),
        (torch.rand(2, 3, 8, 8), True, None),
        (torch.rand(2, 3, 8, 8), 2, 0),
    ],
)
def test_image_bad_call(x, n_views, generator):
    with pytest.raises(ValueError):
        ImageAugmenter()(x, n_views, generator)


@needs_cuda
@pytest.mark.parametrize("crop", ["pad", "resized"])
def test_image_cuda_matches_cpu_under_a_cpu_generator(crop):
    aug, x = ImageAugmenter(crop=crop), images()
    on_gpu = aug(x.cuda(), 2, gen(3))
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), aug(x, 2, gen(3)), atol=1e-5, rtol=1e-5)
    cuda_gen = torch.Generator(device="cuda").manual_seed(3)
    assert aug(x.cuda(), 2, cuda_gen).shape == (6, 2, 3, 12, 10)


# ----------------------------------------------------------------- tabular
def test_tabular_shape_dtype_and_determinism():
    x = torch.randn(20, 7, generator=gen(), dtype=torch.float64)
    aug = TabularAugmenter()
    out = aug(x, 3, gen(1))
    assert out.shape == (20, 3, 7) and out.dtype == torch.float64
    assert torch.equal(out, aug(x, 3, gen(1)))
    assert not torch.equal(out, aug(x, 3, gen(2)))
    assert not torch.equal(out[:, 0], out[:, 1])


def test_tabular_noise_and_masking_statistics():
    x = torch.randn(400, 50, generator=gen())
    masked = TabularAugmenter(noise_std=0.0, dropout=0.3)(x, 2, gen())
    zero = masked == 0
    assert abs(zero.float().mean().item() - 0.3) < 0.02
    assert torch.equal(masked[~zero], x[:, None].expand_as(masked)[~zero])
    noisy = TabularAugmenter(noise_std=0.5, dropout=0.0)(x, 2, gen())
    assert abs((noisy - x[:, None]).std().item() - 0.5) < 0.02


def test_tabular_identity_when_off():
    x = torch.randn(5, 4, generator=gen())
    out = TabularAugmenter(noise_std=0.0, dropout=0.0)(x, 2, gen())
    assert torch.equal(out, x[:, None].expand(-1, 2, -1))


@pytest.mark.parametrize(
    "kwargs", [{"noise_std": -1.0}, {"noise_std": float("inf")}, {"dropout": 1.0}, {"dropout": -0.1}]
)
def test_tabular_bad_parameters(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        TabularAugmenter(**kwargs)


@pytest.mark.parametrize(
    "x, n_views",
    [
        (torch.randn(2, 3, 4), 2),
        (torch.tensor([[1.0, float("inf")]]), 2),
        (torch.ones(2, 3, dtype=torch.int64), 2),
        (torch.randn(2, 3), 0),
    ],
)
def test_tabular_bad_call(x, n_views):
    with pytest.raises(ValueError):
        TabularAugmenter()(x, n_views)


@needs_cuda
def test_tabular_cuda_matches_cpu_under_a_cpu_generator():
    x = torch.randn(8, 5, generator=gen())
    on_gpu = TabularAugmenter()(x.cuda(), 2, gen(4))
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), TabularAugmenter()(x, 2, gen(4)))
