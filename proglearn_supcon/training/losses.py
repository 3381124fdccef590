"""Contrastive losses for training the transformers of the progressive learner.

Two :class:`torch.nn.Module` losses on L2-normalised projections ``z`` of shape
``(B, V, D)`` (``B`` samples, ``V`` augmented views each, ``D`` dimensions):

* :class:`SupConLoss` -- supervised contrastive loss (Khosla et al., 2020),
  variants ``L_out`` (default) and ``L_in``; with ``labels=None`` it is the
  SimCLR / NT-Xent loss.
* :class:`TunedContrastiveLoss` -- tuned contrastive loss (Animesh &
  Chandraker), SupCon with extra tunable terms ``k1``, ``k2`` in the
  denominator.

Both flatten the views into ``N = B * V`` anchors, compute the similarity
matrix in (at least) float32 even under :func:`torch.autocast`, work on any
device, are vectorised, and use log-sum-exp with the self-similarity masked
out. Anchors without a positive contribute nothing; a batch without any
positive pair gives a loss of exactly 0 that is still part of the graph (its
gradient is zero, never NaN).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from proglearn_supcon.precision import no_autocast

__all__ = ["SupConLoss", "TunedContrastiveLoss"]

_VARIANTS = ("out", "in")


def _check_temperature(temperature: float, name: str = "temperature") -> float:
    try:
        temperature = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {temperature!r}") from None
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"{name} must be a finite number > 0, got {temperature}")
    return temperature


def _check_weight(k: float, name: str) -> float:
    try:
        k = float(k)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {k!r}") from None
    if not (k >= 0 and math.isfinite(k)):
        raise ValueError(f"{name} must be a finite number >= 0, got {k}")
    return k


def _flatten(z: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
    """Check inputs; return rows ``(N, D)`` (float32 or float64) and their labels ``(N,)``.

    Row ``b * V + v`` is view ``v`` of sample ``b``; ``labels=None`` gives
    every sample its own label (SimCLR).
    """
    if not isinstance(z, Tensor):
        raise ValueError(f"z must be a torch.Tensor, got {type(z).__name__}")
    if z.ndim != 3:
        raise ValueError(f"z must be 3-D (batch, views, dim), got shape {tuple(z.shape)}")
    B, V, D = z.shape
    if B < 1 or V < 1 or D < 1:
        raise ValueError(f"z must have batch, views, dim >= 1, got {tuple(z.shape)}")
    if B * V < 2:
        raise ValueError(f"need at least 2 rows (batch * views) to contrast, got {B} x {V}")
    if not z.is_floating_point():
        raise ValueError(f"z must be a floating-point tensor, got {z.dtype}")
    if labels is None:
        labels = torch.arange(B, device=z.device)  # SimCLR: views of one sample
    else:
        labels = torch.as_tensor(labels, device=z.device)
        if labels.ndim != 1 or labels.shape[0] != B:
            raise ValueError(f"labels must be 1-D of length batch={B}, got shape {tuple(labels.shape)}")
    if z.dtype not in (torch.float32, torch.float64):
        z = z.float()  # fp16 / bf16 -> float32 for the similarities
    return z.reshape(B * V, D), labels.repeat_interleave(V)


def _prepare(z: Tensor, labels: Tensor | None, temperature: float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Check inputs; return ``(logits, self_mask, pos_mask, n_pos)``.

    ``logits[i, a] = z_i . z_a / t`` over the ``N = B * V`` flattened rows, in
    float32 or float64; ``pos_mask[i, p]`` is True where ``p != i`` has the
    label of ``i``; ``n_pos[i] = |P(i)|``. Call it with autocast disabled.
    """
    zf, lab = _flatten(z, labels)
    logits = zf @ zf.T / temperature
    self_mask = torch.eye(len(zf), dtype=torch.bool, device=zf.device)
    pos_mask = (lab[:, None] == lab[None, :]) & ~self_mask
    return logits, self_mask, pos_mask, pos_mask.sum(dim=1)


def _mean_over_valid(per_anchor: Tensor, n_pos: Tensor) -> Tensor:
    """Mean of ``per_anchor`` over anchors with a positive; 0 (in graph) if none."""
    valid = n_pos > 0
    per_anchor = torch.where(valid, per_anchor, torch.zeros_like(per_anchor))
    return per_anchor.sum() / valid.sum().clamp(min=1).to(per_anchor.dtype)


#: Largest spread between the rows' maxima for which one shift serves every row.
_SHARED_SHIFT_SPREAD = 50.0


class _OffDiagonalLogSumExp(torch.autograd.Function):
    """``lse_i = log sum_{a != i} exp(z_i . z_a / t)`` for rows ``z`` ``(N, D)``.

    The forward pass keeps one N x N buffer, ``E = exp(S - c)`` of the
    logits ``S`` (zero diagonal), and the row sums ``s``; the backward pass
    needs nothing else. With ``w = g / s`` for the incoming gradient ``g``,
    ``dL/dz = (w * (E z) + E^T (w * z)) / t``.

    ``c`` is one shift for all rows (the largest off-diagonal logit) when the
    rows' maxima lie within ``_SHARED_SHIFT_SPREAD`` of it, as they always do
    for unit-norm rows and ``t >= 0.04``: then ``E`` is symmetric and the
    gradient is one matmul, ``E [z, w * z]``. Otherwise each row is shifted
    by its own maximum (no underflow whatever the spread) and the gradient
    takes two matmuls.
    """

    @staticmethod
    def forward(ctx, z: Tensor, temperature: float) -> Tensor:
        logits = (z / temperature) @ z.T
        logits.diagonal().fill_(-math.inf)
        row_max = logits.amax(dim=1)
        shift = row_max.max()
        shared = bool(shift - row_max.min() < _SHARED_SHIFT_SPREAD)
        if not shared:
            shift = row_max[:, None]
        exp = logits.sub_(shift).exp_()  # in place: the logits become E
        sums = exp.sum(dim=1)
        ctx.save_for_backward(z, exp, sums)
        ctx.temperature, ctx.shared = temperature, shared
        return (shift if shared else row_max) + sums.log()

    @staticmethod
    def backward(ctx, grad: Tensor):
        z, exp, sums = ctx.saved_tensors
        w = (grad / sums)[:, None]
        if ctx.shared:  # E symmetric: E z and E (w z) in one matmul
            both = exp @ torch.cat([z, w * z], dim=1)
            grad_z = w * both[:, : z.shape[1]] + both[:, z.shape[1] :]
        else:
            grad_z = w * (exp @ z) + exp.T @ (w * z)
        return grad_z.div_(ctx.temperature), None


def _supcon_out(z: Tensor, labels: Tensor | None, temperature: float) -> Tensor:
    """``L_out`` in one pass; call with autocast disabled.

    ``l_i = lse_i - (1/|P(i)|) sum_{p in P(i)} s_ip``, and the positives' sum
    is ``z_i . (S_{y_i} - z_i) / t`` with ``S_c`` the sum of the rows of class
    ``c``: no N x N label mask is ever built, and the only N x N buffer is
    the one kept by :class:`_OffDiagonalLogSumExp`.

    The class sums and their rows per anchor are products with the (N, C)
    one-hot label matrix, not ``index_add_`` and an index gather: the
    gather's backward accumulates with ``index_put_``, whose order varies
    between runs on a multi-threaded CPU (and ``index_add_`` uses atomics on
    CUDA), so training would not repeat bit for bit. A matmul has a fixed
    summation order for a given shape, device and thread count.
    """
    zf, lab = _flatten(z, labels)
    _, lab_idx, counts = torch.unique(lab, return_inverse=True, return_counts=True)
    one_hot = torch.nn.functional.one_hot(lab_idx, len(counts)).to(zf.dtype)
    class_sums = one_hot.T @ zf
    n_pos = counts[lab_idx] - 1
    pos_logit_sum = (zf * (one_hot @ class_sums - zf)).sum(dim=1) / temperature
    lse = _OffDiagonalLogSumExp.apply(zf, temperature)
    per_anchor = lse - pos_logit_sum / n_pos.clamp(min=1).to(zf.dtype)
    return _mean_over_valid(per_anchor, n_pos)


class SupConLoss(nn.Module):
    r"""Supervised contrastive loss (Khosla et al., 2020), ``L_out`` or ``L_in``.

    With the ``N = B * V`` views flattened into anchors, ``s_{ia} = z_i . z_a / t``,
    ``A(i)`` all rows but ``i`` and ``P(i)`` the rows of ``A(i)`` with the label
    of ``i`` (the other views of ``i`` included):

    .. math::

        \ell^{out}_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp s_{ip}}{\sum_{a \in A(i)} \exp s_{ia}}, \qquad
        \ell^{in}_i = -\log \Big( \frac{1}{|P(i)|} \sum_{p \in P(i)}
            \frac{\exp s_{ip}}{\sum_{a \in A(i)} \exp s_{ia}} \Big)

    The loss is the mean of :math:`\ell_i` over the anchors with
    :math:`|P(i)| \ge 1`, times ``t / base_temperature`` when that is given.
    ``labels=None`` makes every sample its own class: SimCLR / NT-Xent.

    Parameters
    ----------
    temperature : float, default 0.1
        Temperature ``t > 0``.
    variant : {"out", "in"}, default "out"
        Where the average over positives sits: outside (``L_out``, the
        paper's recommendation) or inside the log (``L_in``).
    base_temperature : float or None, default None
        If given, the loss is scaled by ``temperature / base_temperature``
        (as in the reference implementation); None means no scaling.

    Notes
    -----
    The caller must L2-normalise ``z`` along its last dimension; it is not
    renormalised here. Similarities are computed in float32 (float64 inputs
    stay float64) with autocast disabled, so the loss is a finite float32
    scalar under fp16 / bf16 autocast. Anchors with no positive add nothing;
    if no anchor has one the loss is an exact, differentiable 0.
    """

    def __init__(
        self,
        temperature: float = 0.1,
        variant: str = "out",
        base_temperature: float | None = None,
    ) -> None:
        super().__init__()
        self.temperature = _check_temperature(temperature)
        if variant not in _VARIANTS:
            raise ValueError(f"variant must be one of {_VARIANTS}, got {variant!r}")
        self.variant = variant
        self.base_temperature = (
            None if base_temperature is None else _check_temperature(base_temperature, "base_temperature")
        )

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Loss of projections ``z`` ``(B, V, D)`` with ``labels`` ``(B,)`` or None."""
        with no_autocast(z.device if isinstance(z, Tensor) else torch.device("cpu")):
            if self.variant == "out":
                loss = _supcon_out(z, labels, self.temperature)
            else:
                loss = self._loss_in(z, labels)
            if self.base_temperature is not None:
                loss = loss * (self.temperature / self.base_temperature)
        return loss

    def _loss_in(self, z: Tensor, labels: Tensor | None) -> Tensor:
        logits, self_mask, pos, n_pos = _prepare(z, labels, self.temperature)
        log_denom = torch.logsumexp(logits.masked_fill(self_mask, -math.inf), 1)
        # rows without a positive keep all their (finite) logits so the
        # log-sum-exp stays finite; _mean_over_valid drops them
        keep = pos | (n_pos == 0)[:, None]
        log_num = torch.logsumexp(logits.masked_fill(~keep, -math.inf), 1)
        log_num = log_num - torch.log(n_pos.clamp(min=1).to(logits.dtype))
        return _mean_over_valid(log_denom - log_num, n_pos)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, variant={self.variant!r}, base_temperature={self.base_temperature}"


class TunedContrastiveLoss(nn.Module):
    r"""Tuned contrastive loss (TCL; Animesh & Chandraker, "Tuned Contrastive Learning").

    With ``s_{ia} = z_i . z_a / t`` over the ``N = B * V`` flattened views,
    ``P(i)`` the other rows with the label of ``i`` and ``N(i)`` the rows with
    another label, the denominator of anchor ``i`` is

    .. math::

        D_i = \sum_{p \in P(i)} e^{s_{ip}} + k_1 \sum_{p \in P(i)} e^{-s_{ip}}
              + k_2 \sum_{n \in N(i)} e^{s_{in}}, \qquad
        \ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)} \log \frac{e^{s_{ip}}}{D_i}

    and the loss is the mean of :math:`\ell_i` over anchors with
    :math:`|P(i)| \ge 1`. ``k1 = 0, k2 = 1`` recovers :class:`SupConLoss`
    (``L_out``); ``k1 > 0`` makes the loss larger. ``labels=None`` makes every
    sample its own class, as in SimCLR.

    Parameters
    ----------
    temperature : float, default 0.1
        Temperature ``t > 0``.
    k1 : float, default 1.0
        Weight (``>= 0``) of the positives' negated similarities in ``D_i``.
    k2 : float, default 1.0
        Weight (``>= 0``) of the negatives in ``D_i``.

    Notes
    -----
    ``z`` must be L2-normalised by the caller. ``D_i`` is computed as one
    log-sum-exp over the three terms with ``log k1``, ``log k2`` added; a
    weight of exactly 0 drops its term. Precision, autocast and no-positive
    handling are as in :class:`SupConLoss`.
    """

    def __init__(self, temperature: float = 0.1, k1: float = 1.0, k2: float = 1.0) -> None:
        super().__init__()
        self.temperature = _check_temperature(temperature)
        self.k1, self.k2 = _check_weight(k1, "k1"), _check_weight(k2, "k2")

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Loss of projections ``z`` ``(B, V, D)`` with ``labels`` ``(B,)`` or None."""
        with no_autocast(z.device if isinstance(z, Tensor) else torch.device("cpu")):
            logits, self_mask, pos, n_pos = _prepare(z, labels, self.temperature)
            terms = [logits.masked_fill(~pos, -math.inf)]
            if self.k1 > 0:
                terms.append((-logits + math.log(self.k1)).masked_fill(~pos, -math.inf))
            if self.k2 > 0:
                neg = ~pos & ~self_mask
                terms.append((logits + math.log(self.k2)).masked_fill(~neg, -math.inf))
            cat = torch.cat(terms, dim=1)
            # rows without a positive may be all -inf: make them finite (dropped later)
            cat = torch.where((n_pos > 0)[:, None], cat, torch.zeros_like(cat))
            log_prob = logits - torch.logsumexp(cat, dim=1)[:, None]
            per_anchor = -torch.where(pos, log_prob, torch.zeros_like(log_prob))
            loss = _mean_over_valid(per_anchor.sum(1) / n_pos.clamp(min=1), n_pos)
        return loss

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, k1={self.k1}, k2={self.k2}"
