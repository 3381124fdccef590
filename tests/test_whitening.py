"""The whitening first convolution (issue 32): its filters, its input, its errors, and the transformer's use of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from proglearn_supcon.hyperparams import check_params
from proglearn_supcon.training.encoders import Standardize
from proglearn_supcon.training.whitening import (
    EPS,
    conv_input,
    patch_covariance,
    whiten_first_conv,
    whitening_filters,
)
from proglearn_supcon.transformers import NeuralClassificationTransformer


def _images(n=24, size=10, seed=0) -> torch.Tensor:
    """Images with correlated channels and neighbouring pixels, so the patch covariance is far from the identity."""
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n, 1, size + 1, size + 1, generator=g)
    smooth = (base[..., 1:, 1:] + base[..., :-1, 1:] + base[..., 1:, :-1]) / 3
    mix = torch.tensor([[1.0], [0.6], [0.2]]).reshape(1, 3, 1, 1)
    return smooth * mix + 0.3 * torch.randn(n, 3, size, size, generator=g) + 0.5


def _conv_net(out_channels=16, kernel=3) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, out_channels, kernel), nn.ReLU(), nn.Flatten())


def test_patch_covariance_matches_a_loop_over_every_patch():
    x = _images(n=3, size=6)
    conv = nn.Conv2d(3, 4, 3)
    mean, cov = patch_covariance(nn.Sequential(conv), conv, x, chunk=2)
    patches = [x[i, :, r : r + 3, c : c + 3].reshape(-1).double() for i in range(3) for r in range(4) for c in range(4)]
    stacked = torch.stack(patches)
    expected_mean = stacked.mean(0)
    expected_cov = (stacked - expected_mean).T @ (stacked - expected_mean) / len(patches)
    torch.testing.assert_close(mean, expected_mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(cov, expected_cov, rtol=0, atol=1e-12)


def test_first_half_of_the_responses_are_white_and_the_second_half_their_negatives():
    x = _images()
    encoder = _conv_net()
    conv = whiten_first_conv(encoder, x)
    with torch.no_grad():
        responses = conv(x).permute(0, 2, 3, 1).reshape(-1, 16).double()
    first, second = responses[:, :8], responses[:, 8:]
    torch.testing.assert_close(second, -first)
    torch.testing.assert_close(first.mean(0), torch.zeros(8, dtype=torch.float64), rtol=0, atol=1e-4)
    # diag(lambda / (lambda + eps)): the identity up to eps over the (here large) eigenvalues.
    cov = (first - first.mean(0)).T @ (first - first.mean(0)) / len(first)
    torch.testing.assert_close(cov, torch.eye(8, dtype=torch.float64), rtol=0, atol=0.05)
    assert not conv.weight.requires_grad and conv.bias.requires_grad


def test_directions_are_the_leading_eigenvectors_with_a_fixed_sign():
    x = _images()
    conv = nn.Conv2d(3, 6, 3)
    mean, cov = patch_covariance(nn.Sequential(conv), conv, x)
    weight, bias = whitening_filters(mean, cov, 5)
    values, vectors = torch.linalg.eigh(cov)
    assert weight.shape == (5, 27) and bias.shape == (5,)
    for i in range(3):
        direction = weight[i] * torch.sqrt(values[-1 - i] + EPS)
        torch.testing.assert_close(direction.abs(), vectors[:, -1 - i].abs())
        assert direction[direction.abs().argmax()] > 0
    torch.testing.assert_close(weight[3:], -weight[:2])
    torch.testing.assert_close(bias, -(weight @ mean))


def test_conv_input_is_what_the_layers_before_it_make_and_moves_no_statistics():
    x = _images()
    norm = nn.BatchNorm2d(3)
    conv = nn.Conv2d(3, 4, 3)
    encoder = nn.Sequential(Standardize(torch.full((3, 1, 1), 0.5), torch.full((3, 1, 1), 2.0)), norm, conv).train()
    captured = conv_input(encoder, conv, x)
    torch.testing.assert_close(captured, (x - 0.5) / 2.0 / torch.sqrt(torch.tensor(1.0 + norm.eps)))
    assert encoder.training and norm.num_batches_tracked.item() == 0
    torch.testing.assert_close(norm.running_mean, torch.zeros(3))


@pytest.mark.parametrize(
    "encoder",
    [nn.Sequential(nn.Flatten(), nn.Linear(300, 4)), nn.Sequential(nn.Conv2d(3, 6, 3, groups=3))],
    ids=["no convolution", "grouped"],
)
def test_encoders_without_a_plain_first_convolution_are_left_alone(encoder):
    before = [p.detach().clone() for p in encoder.parameters()]
    assert whiten_first_conv(encoder, _images()) is None
    assert all(torch.equal(a, b) and b.requires_grad for a, b in zip(before, encoder.parameters()))


def test_filters_beyond_twice_the_patch_values_keep_their_initial_weights():
    x = _images()
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 1)
    initial = conv.weight.detach().clone()
    whiten_first_conv(nn.Sequential(conv), x)
    mean, cov = patch_covariance(nn.Sequential(conv), conv, x)
    weight, _ = whitening_filters(mean, cov, 8)
    assert weight.shape == (6, 3)
    torch.testing.assert_close(conv.weight[:6].reshape(6, 3), weight.float())
    torch.testing.assert_close(conv.weight[6:], initial[6:], rtol=0, atol=0)


def test_the_parameter_is_checked():
    with pytest.raises(ValueError, match="whiten_first_conv"):
        check_params({"whiten_first_conv": "yes"})


def test_transformer_keeps_the_whitening_of_its_own_training_images(blob_images, fast_params):
    X, y = blob_images(range(3), 20)
    tr = NeuralClassificationTransformer(
        whiten_first_conv=True, random_state=0, precision="fp32", **fast_params(epochs=2)
    ).fit(X, y)
    conv = next(m for m in tr.encoder_.modules() if isinstance(m, nn.Conv2d))
    assert not conv.weight.requires_grad and tr.first_conv_whitened_
    x_train = tr._to_tensor(X[tr.train_indices_], torch.device("cpu"))
    mean, cov = patch_covariance(tr.encoder_, conv, x_train)
    weight, _ = whitening_filters(mean, cov, conv.out_channels)
    # Trained for two epochs, the weights are still exactly the whitening of the training images.
    torch.testing.assert_close(conv.weight.detach().reshape(conv.out_channels, -1), weight.float(), rtol=0, atol=1e-6)
    plain = NeuralClassificationTransformer(
        whiten_first_conv=False, random_state=0, precision="fp32", **fast_params(epochs=2)
    ).fit(X, y)
    plain_conv = next(m for m in plain.encoder_.modules() if isinstance(m, nn.Conv2d))
    assert plain_conv.weight.requires_grad and not torch.equal(plain_conv.weight, conv.weight)


def test_feature_vectors_are_not_whitened(fast_params):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 5)).astype(np.float32), np.arange(60) % 3
    params = dict(random_state=0, precision="fp32", **fast_params(epochs=2))
    whitened = NeuralClassificationTransformer(whiten_first_conv=True, **params).fit(X, y)
    plain = NeuralClassificationTransformer(whiten_first_conv=False, **params).fit(X, y)
    np.testing.assert_array_equal(whitened.transform(X), plain.transform(X))
    assert not whitened.first_conv_whitened_
