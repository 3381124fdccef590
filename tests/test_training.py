"""Tests of proglearn_supcon.training.engine on tiny models (the estimator's tests cover the rest)."""

import numpy as np
import pytest
import torch
from torch import nn

from proglearn_supcon.training.engine import (
    TrainingConfig,
    batch_loss,
    embed,
    make_views,
    shuffled_batches,
    train,
)
from proglearn_supcon.training.losses import SupConLoss
from proglearn_supcon.training.objectives import get_objective
from proglearn_supcon.transformers import NeuralClassificationTransformer


def _config(**changes):
    # min_epochs=0: the loop's tests evaluate from the first epoch of a 3-epoch budget.
    params = NeuralClassificationTransformer(epochs=3, batch_size=8, warmup_epochs=1, min_epochs=0).get_params()
    return TrainingConfig.from_params(params | changes)


def test_config_takes_the_estimators_parameters():
    config = _config(loss="tcl", unknown="ignored")
    assert config.loss == "tcl" and config.epochs == 3 and config.batch_size == 8
    with pytest.raises(KeyError):
        TrainingConfig.from_params({"loss": "ce"})


def test_shuffled_batches_cover_all_but_a_last_batch_of_one():
    batches = list(shuffled_batches(17, 8, torch.Generator().manual_seed(0), torch.device("cpu")))
    assert [len(b) for b in batches] == [8, 8]
    seen = torch.cat(batches)
    assert len(set(seen.tolist())) == 16 and seen.dtype == torch.int64


def test_make_views_without_augmenter_copies():
    x = torch.arange(6.0).reshape(3, 2)
    views = make_views(x, None, 4, torch.Generator())
    assert views.shape == (3, 4, 2)
    assert torch.equal(views[:, 2], x)


@pytest.mark.parametrize("loss", ["supcon", "ce", "tcl"])
def test_batch_loss_is_a_float32_scalar(loss):
    torch.manual_seed(0)
    model = nn.Linear(5, 4)
    head = nn.Linear(4, 3)
    objective = get_objective(loss)
    criterion = objective.criterion(_config(loss=loss))
    assert isinstance(criterion, nn.CrossEntropyLoss if loss == "ce" else nn.Module)
    if loss == "supcon":
        assert isinstance(criterion, SupConLoss)
    views = torch.randn(6, 2, 5)
    value = batch_loss(views, torch.tensor([0, 1, 2, 0, 1, 2]), model, head, criterion, objective)
    assert value.shape == () and value.dtype == torch.float32 and torch.isfinite(value)


def test_train_without_validation_runs_every_epoch():
    torch.manual_seed(0)
    encoder, head = nn.Sequential(nn.Linear(5, 4), nn.ReLU()), nn.Linear(4, 2)
    x = torch.randn(20, 5)
    y = np.arange(20) % 2
    before = [p.detach().clone() for p in encoder.parameters()]
    result = train(_config(loss="ce"), encoder, head, x, y, embedding_dim=4, generator=torch.Generator().manual_seed(0))
    assert result.n_epochs_run == 3 and result.best_epoch == 2
    assert len(result.history["train_loss"]) == 3 and result.history["epoch"] == []
    assert any(not torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    out = embed(encoder.eval(), x, 4, bf16=False, flip_average=True)
    assert out.shape == (20, 4) and out.dtype == np.float32


def test_train_with_validation_records_evaluated_epochs():
    torch.manual_seed(0)
    encoder, head = nn.Sequential(nn.Linear(5, 4), nn.ReLU()), nn.Linear(4, 8)
    x, y = torch.randn(24, 5), np.arange(24) % 2
    validation = (torch.randn(10, 5), np.arange(10) % 2)
    result = train(
        _config(validation_interval=2, k=3),
        encoder,
        head,
        x,
        y,
        embedding_dim=4,
        generator=torch.Generator().manual_seed(0),
        validation=validation,
    )
    assert result.history["epoch"] == [1, 2]  # every second epoch and the last
    assert result.best_epoch in (1, 2)
    assert all(0 <= a <= 1 for a in result.history["val_accuracy"])
