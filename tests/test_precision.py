"""Tests of proglearn_supcon.precision.no_autocast and its two users."""

import warnings

import pytest
import torch

from proglearn_supcon.precision import autocast, no_autocast
from proglearn_supcon.training.augment import ImageAugmenter

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _matmul_case(device_type):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, 32, generator=g), torch.randn(32, 8, generator=g)
    a, b = a.to(device_type), b.to(device_type)
    expected = a @ b  # fp32, no autocast
    with autocast(True, torch.device(device_type)):
        assert torch.is_autocast_enabled(device_type)
        assert (a @ b).dtype == torch.bfloat16  # the region really is lower precision
        with no_autocast(torch.device(device_type)):
            assert not torch.is_autocast_enabled(device_type)
            inner = a @ b
        assert torch.is_autocast_enabled(device_type)  # restored on exit
    assert inner.dtype == torch.float32
    torch.testing.assert_close(inner, expected, rtol=0, atol=0)


def test_turns_autocast_off_on_cpu():
    _matmul_case("cpu")


@needs_cuda
def test_turns_autocast_off_on_cuda():
    _matmul_case("cuda")


def test_cuda_device_type_without_a_gpu_is_quiet():
    # Turning autocast off never needs the device itself, so this works (and is
    # silent) on machines without CUDA too.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with no_autocast(torch.device("cuda")):
            assert not torch.is_autocast_enabled("cuda")


def test_device_type_without_autocast_is_a_no_op():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with no_autocast(torch.device("meta")) as context:
            assert context is None  # contextlib.nullcontext yields None


def test_augmenter_keeps_fp32_inside_autocast():
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    augment = ImageAugmenter()
    expected = augment(x, 2, torch.Generator().manual_seed(2))
    with autocast(True, torch.device("cpu")):
        views = augment(x, 2, torch.Generator().manual_seed(2))
    assert views.dtype == torch.float32
    torch.testing.assert_close(views, expected, rtol=0, atol=0)


@pytest.mark.parametrize("value, expected", [("1", True), ("0", False)])
def test_env_var_forces_cpu_bf16_detection(monkeypatch, value, expected):
    from proglearn_supcon.precision import BF16_ENV_VAR, native_bf16, use_bf16

    monkeypatch.setenv(BF16_ENV_VAR, value)
    cpu = torch.device("cpu")
    assert native_bf16(cpu) is expected
    assert use_bf16("auto", cpu) is expected
    # Explicit precisions are not touched by the override.
    assert use_bf16("fp32", cpu) is False and use_bf16("bf16", cpu) is True


def test_env_var_unset_or_empty_uses_detection(monkeypatch):
    from proglearn_supcon.precision import BF16_ENV_VAR, native_bf16

    monkeypatch.delenv(BF16_ENV_VAR, raising=False)
    detected = native_bf16(torch.device("cpu"))
    monkeypatch.setenv(BF16_ENV_VAR, "")
    assert native_bf16(torch.device("cpu")) is detected


def test_env_var_rejects_other_values(monkeypatch):
    from proglearn_supcon.precision import BF16_ENV_VAR, native_bf16

    monkeypatch.setenv(BF16_ENV_VAR, "yes")
    with pytest.raises(ValueError, match=BF16_ENV_VAR):
        native_bf16(torch.device("cpu"))
