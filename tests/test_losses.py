"""Tests of proglearn_supcon.training.losses against naive per-anchor loops."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from proglearn_supcon.training.losses import SupConLoss, TunedContrastiveLoss

SEEDS = range(6)
TEMPERATURES = [0.05, 0.1, 0.5, 1.0]


# --------------------------------------------------------------------------- #
# naive references: plain Python loops over anchors, math on Python floats
# --------------------------------------------------------------------------- #
def naive_per_anchor(z, labels, t, kind="out", k1=0.0, k2=1.0):
    """Per-anchor losses ``{row: l_i}`` for anchors with a positive."""
    B, V, _ = z.shape
    if labels is None:
        labels = list(range(B))
    rows = [z[b, v].double().tolist() for b in range(B) for v in range(V)]
    labs = [int(labels[b]) for b in range(B) for _ in range(V)]
    out = {}
    for i, zi in enumerate(rows):
        others = [a for a in range(len(rows)) if a != i]
        pos = [a for a in others if labs[a] == labs[i]]
        neg = [a for a in others if labs[a] != labs[i]]
        if not pos:
            continue
        s = {a: sum(x * y for x, y in zip(zi, rows[a])) / t for a in others}
        if kind == "tcl":
            denom = (
                sum(math.exp(s[p]) for p in pos)
                + k1 * sum(math.exp(-s[p]) for p in pos)
                + k2 * sum(math.exp(s[n]) for n in neg)
            )
        else:
            denom = sum(math.exp(s[a]) for a in others)
        if kind == "in":
            out[i] = -math.log(sum(math.exp(s[p]) / denom for p in pos) / len(pos))
        else:  # "out" and "tcl"
            out[i] = -sum(math.log(math.exp(s[p]) / denom) for p in pos) / len(pos)
    return out


def naive_loss(z, labels, t, kind="out", k1=0.0, k2=1.0):
    per = naive_per_anchor(z, labels, t, kind, k1, k2)
    return sum(per.values()) / len(per) if per else 0.0


def random_batch(seed, dtype=torch.float64):
    """Random normalised z (B, V, D) and labels with repeats and a singleton."""
    g = torch.Generator().manual_seed(seed)
    B = int(torch.randint(3, 9, (1,), generator=g))
    V = 1 + seed % 3  # every V in {1, 2, 3} is covered by the seeds
    D = int(torch.randint(2, 9, (1,), generator=g))
    z = F.normalize(torch.randn(B, V, D, generator=g, dtype=dtype), dim=-1)
    labels = torch.randint(0, max(2, B // 2), (B,), generator=g)
    labels[0] = 1000  # a singleton: has a positive only when V > 1
    return z, labels


def unit(*shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=dtype), dim=-1)


# --------------------------------------------------------------------------- #
# agreement with the naive loops
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("t", TEMPERATURES)
@pytest.mark.parametrize("variant", ["out", "in"])
def test_supcon_matches_naive(seed, t, variant):
    z, labels = random_batch(seed)
    got = SupConLoss(temperature=t, variant=variant)(z, labels)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(naive_loss(z, labels, t, variant), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("t", TEMPERATURES)
@pytest.mark.parametrize("k1,k2", [(1.0, 1.0), (0.5, 2.0), (0.0, 1.0), (2.0, 0.0), (0.0, 0.0)])
def test_tcl_matches_naive(seed, t, k1, k2):
    z, labels = random_batch(seed)
    got = TunedContrastiveLoss(temperature=t, k1=k1, k2=k2)(z, labels)
    want = naive_loss(z, labels, t, "tcl", k1, k2)
    assert got.item() == pytest.approx(want, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_float32_matches_naive(seed):
    z, labels = random_batch(seed, dtype=torch.float32)
    got = SupConLoss(0.1)(z, labels)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(naive_loss(z, labels, 0.1), rel=1e-5)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("variant", ["out", "in"])
def test_labels_none_is_simclr(seed, variant):
    g = torch.Generator().manual_seed(seed)
    B, V = int(torch.randint(2, 8, (1,), generator=g)), int(torch.randint(2, 4, (1,), generator=g))
    z = unit(B, V, 5, seed=seed, dtype=torch.float64)
    loss = SupConLoss(0.2, variant=variant)
    want = naive_loss(z, list(range(B)), 0.2, variant)
    assert loss(z).item() == pytest.approx(want, rel=1e-9)
    assert loss(z).item() == pytest.approx(loss(z, torch.arange(B)).item(), rel=1e-12)
    tcl = TunedContrastiveLoss(0.2, k1=0.5, k2=1.5)
    assert tcl(z).item() == pytest.approx(naive_loss(z, list(range(B)), 0.2, "tcl", 0.5, 1.5), rel=1e-9)


def test_label_order_and_view_order_invariance():
    z, labels = random_batch(3)
    loss = SupConLoss(0.1)
    perm = torch.randperm(z.shape[0], generator=torch.Generator().manual_seed(0))
    ref = loss(z, labels)
    torch.testing.assert_close(loss(z[perm], labels[perm]), ref)
    torch.testing.assert_close(loss(z.flip(1), labels), ref)


# --------------------------------------------------------------------------- #
# relations between the losses, known values
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed", SEEDS)
def test_tcl_k1_zero_equals_supcon_and_k1_positive_is_larger(seed):
    z, labels = random_batch(seed, dtype=torch.float32)
    sup = SupConLoss(0.1)(z, labels)
    torch.testing.assert_close(TunedContrastiveLoss(0.1, k1=0.0, k2=1.0)(z, labels), sup)
    for k1 in (0.1, 1.0, 5.0):
        assert TunedContrastiveLoss(0.1, k1=k1, k2=1.0)(z, labels) >= sup


def test_base_temperature_scales():
    z, labels = random_batch(1)
    plain = SupConLoss(0.1)(z, labels)
    scaled = SupConLoss(0.1, base_temperature=0.07)(z, labels)
    torch.testing.assert_close(scaled, plain * (0.1 / 0.07))


def test_closed_form_two_orthogonal_pairs():
    # two samples, two identical views each, the samples orthogonal:
    # l_i = -log(e^{1/t} / (e^{1/t} + 2)) = log(1 + 2 e^{-1/t}) for all anchors
    t = 0.5
    z = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    want = math.log(1 + 2 * math.exp(-1 / t))
    assert SupConLoss(t)(z).item() == pytest.approx(want, rel=1e-6)
    assert SupConLoss(t, variant="in")(z).item() == pytest.approx(want, rel=1e-6)
    # TCL adds k1 e^{-1/t} to the denominator
    want_tcl = -math.log(math.exp(1 / t) / (math.exp(1 / t) + math.exp(-1 / t) + 2))
    assert TunedContrastiveLoss(t)(z).item() == pytest.approx(want_tcl, rel=1e-6)


def test_in_not_above_out():
    # Jensen: L_in <= L_out anchor-wise, hence on average
    for seed in SEEDS:
        z, labels = random_batch(seed)
        assert SupConLoss(0.1, "in")(z, labels) <= SupConLoss(0.1, "out")(z, labels) + 1e-12


@pytest.mark.parametrize("loss", [SupConLoss(0.1), SupConLoss(0.1, "in"), TunedContrastiveLoss(0.1)])
def test_clustered_lower_than_random(loss):
    labels = torch.arange(4).repeat_interleave(4)  # 4 classes x 4 samples
    centres = torch.eye(8)[:4]
    clustered = centres[labels][:, None, :].expand(-1, 2, -1)  # (16, 2, 8)
    random = unit(16, 2, 8, seed=1)
    assert loss(clustered, labels) < loss(random, labels) - 0.5


# --------------------------------------------------------------------------- #
# anchors without positives
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "loss",
    [SupConLoss(0.1), SupConLoss(0.1, "in"), TunedContrastiveLoss(0.1), TunedContrastiveLoss(0.1, k1=0.0, k2=0.0)],
)
def test_no_positive_pair_gives_zero_and_zero_grad(loss):
    x = torch.randn(6, 1, 4, requires_grad=True)
    out = loss(F.normalize(x, dim=-1), torch.arange(6))
    assert out.item() == 0.0 and out.requires_grad
    out.backward()
    assert torch.isfinite(x.grad).all()
    assert (x.grad == 0).all()
    # labels=None with one view: no positives either
    assert loss(F.normalize(x, dim=-1)).item() == 0.0


@pytest.mark.parametrize("kind", ["out", "in", "tcl"])
def test_mixed_batch_averages_over_anchors_with_positive(kind):
    z = unit(6, 1, 5, seed=4, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 2, 3, 3])  # anchors 2 and 3 have no positive
    per = naive_per_anchor(z, labels, 0.3, kind, k1=0.7, k2=1.3)
    assert sorted(per) == [0, 1, 4, 5]
    loss = TunedContrastiveLoss(0.3, k1=0.7, k2=1.3) if kind == "tcl" else SupConLoss(0.3, variant=kind)
    x = z.clone().requires_grad_(True)
    got = loss(x, labels)
    assert got.item() == pytest.approx(sum(per.values()) / 4, rel=1e-9)
    got.backward()
    assert torch.isfinite(x.grad).all()


def test_tcl_anchor_without_negatives():
    z = unit(4, 2, 3, seed=2, dtype=torch.float64)
    labels = torch.zeros(4, dtype=torch.long)  # one class: no negatives at all
    for k1 in (0.0, 1.0):
        x = z.clone().requires_grad_(True)
        got = TunedContrastiveLoss(0.1, k1=k1, k2=1.0)(x, labels)
        assert got.item() == pytest.approx(naive_loss(z, labels, 0.1, "tcl", k1, 1.0), rel=1e-9)
        got.backward()
        assert torch.isfinite(x.grad).all()


# --------------------------------------------------------------------------- #
# gradients and numerical stability
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "loss",
    [
        SupConLoss(0.5),
        SupConLoss(0.5, "in"),
        SupConLoss(0.3, base_temperature=0.07),
        TunedContrastiveLoss(0.5, k1=0.7, k2=1.3),
        TunedContrastiveLoss(0.5, k1=0.0, k2=1.0),
    ],
    ids=["out", "in", "out-base", "tcl", "tcl-k1-0"],
)
@pytest.mark.parametrize("with_labels", [True, False])
def test_gradcheck(loss, with_labels):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 1, 0, 2]) if with_labels else None
    assert torch.autograd.gradcheck(lambda x: loss(F.normalize(x, dim=-1), labels), (x,))


@pytest.mark.parametrize(
    "loss",
    [SupConLoss(0.01), SupConLoss(0.01, "in"), TunedContrastiveLoss(0.01), TunedContrastiveLoss(0.01, k1=0.0, k2=0.0)],
)
def test_small_temperature_is_stable(loss):
    # nearly aligned vectors: similarities / t ~ 100, exp would overflow float32
    x = (torch.ones(8, 2, 16) + 1e-3 * torch.randn(8, 2, 16)).requires_grad_(True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    out = loss(F.normalize(x, dim=-1), labels)
    assert torch.isfinite(out)
    out.backward()
    assert torch.isfinite(x.grad).all()
    # opposite clusters: very negative logits
    y = torch.cat([torch.ones(4, 2, 16), -torch.ones(4, 2, 16)]).requires_grad_(True)
    out = loss(F.normalize(y, dim=-1), torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]))
    assert torch.isfinite(out)
    out.backward()
    assert torch.isfinite(y.grad).all()


# --------------------------------------------------------------------------- #
# mixed precision
# --------------------------------------------------------------------------- #
def _autocast_case(device, dtype):
    torch.manual_seed(0)
    layer = torch.nn.Linear(32, 16).to(device)
    x = torch.randn(16, 2, 32, device=device)
    labels = torch.randint(0, 4, (16,), device=device)
    for loss in (SupConLoss(0.1), SupConLoss(0.1, "in"), TunedContrastiveLoss(0.1)):
        with torch.autocast(device, dtype=dtype):
            h = layer(x)
            assert h.dtype == dtype
            out = loss(F.normalize(h, dim=-1), labels)
        assert out.dtype == torch.float32 and torch.isfinite(out)
        ref = loss(F.normalize(layer(x), dim=-1), labels)
        assert out.item() == pytest.approx(ref.item(), rel=0.05)
        out.backward()
        assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
        layer.zero_grad()


def test_autocast_bf16_cpu():
    _autocast_case("cpu", torch.bfloat16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_autocast_fp16_cuda():
    _autocast_case("cuda", torch.float16)


def test_half_inputs_give_float32():
    z = unit(6, 2, 8, seed=5).bfloat16()
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    out = SupConLoss(0.1)(z, labels)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, SupConLoss(0.1)(z.float(), labels))


# --------------------------------------------------------------------------- #
# input checks
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("cls", [SupConLoss, TunedContrastiveLoss])
def test_bad_inputs(cls):
    loss = cls()
    z = unit(4, 2, 3)
    with pytest.raises(ValueError, match="3-D"):
        loss(z[:, 0])
    with pytest.raises(ValueError, match="3-D"):
        loss(z[None])
    with pytest.raises(ValueError, match="length"):
        loss(z, torch.tensor([0, 1, 0]))
    with pytest.raises(ValueError, match="1-D"):
        loss(z, torch.zeros(4, 1))
    with pytest.raises(ValueError, match="at least 2 rows"):
        loss(z[:1, :1])
    with pytest.raises(ValueError, match=">= 1"):
        loss(z[:0])
    with pytest.raises(ValueError, match="floating"):
        loss(torch.ones(4, 2, 3, dtype=torch.long))
    for t in (0.0, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature"):
            cls(temperature=t)


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="variant"):
        SupConLoss(variant="mid")
    with pytest.raises(ValueError, match="base_temperature"):
        SupConLoss(base_temperature=0.0)
    with pytest.raises(ValueError, match="k1"):
        TunedContrastiveLoss(k1=-1.0)
    with pytest.raises(ValueError, match="k2"):
        TunedContrastiveLoss(k2=-0.5)
    with pytest.raises(ValueError, match="k1"):
        TunedContrastiveLoss(k1=float("nan"))


# --------------------------------------------------------------------------- #
# the one-pass L_out against a plain masked autograd implementation
# --------------------------------------------------------------------------- #
def masked_supcon_out(z, labels, t):
    """L_out the textbook way (N x N masks, autograd): the benchmark's plain reference."""
    from benchmarks.loss import plain_supcon

    return plain_supcon(z, labels, t)


def assert_matches_masked(x, labels, t, value_tol, grad_rtol, grad_atol):
    """SupConLoss and the masked reference agree in value and in the gradient w.r.t. x."""
    results = []
    for fn in (lambda z: SupConLoss(t)(z, labels), lambda z: masked_supcon_out(z, labels, t)):
        xi = x.clone().requires_grad_(True)
        value = fn(F.normalize(xi, dim=-1))
        value.backward()
        results.append((value.detach(), xi.grad))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=value_tol, atol=value_tol)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=grad_rtol, atol=grad_atol)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("t", [0.05, 0.2])
def test_one_pass_out_matches_masked_values_and_gradients(seed, t):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(96, 2, 16, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 12, (96,), generator=g)
    labels[:3] = torch.tensor([100, 101, 102])  # singletons: positives only across views
    assert_matches_masked(x, labels, t, value_tol=1e-12, grad_rtol=1e-10, grad_atol=1e-12)


def test_one_pass_out_gradient_accumulates_twice_with_retain_graph():
    # the custom backward must not modify what it saved
    x = torch.randn(8, 2, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    loss = SupConLoss(0.3)(F.normalize(x, dim=-1), labels)
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    torch.testing.assert_close(x.grad, 2 * first)


@pytest.mark.parametrize("t", [0.5, 0.05, 0.005])
def test_one_pass_out_matches_masked_with_shared_and_per_row_shifts(t):
    # t >= 0.04 on unit rows takes the shared (symmetric) shift; 0.005 spreads
    # the rows' maxima beyond it and takes the per-row shift
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 2, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 6, (64,), generator=g)
    assert_matches_masked(x, labels, t, value_tol=1e-10, grad_rtol=1e-8, grad_atol=1e-10)
