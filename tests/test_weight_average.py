"""Tests of the moving average of the weights (training.weight_average) and its use by the engine."""

import numpy as np
import pytest
import torch
from torch import nn

from proglearn_supcon.training.engine import TrainingConfig, train
from proglearn_supcon.training.weight_average import ExponentialWeightAverage
from proglearn_supcon.transformers import NeuralClassificationTransformer


def _config(**changes):
    params = NeuralClassificationTransformer(epochs=4, batch_size=8, warmup_epochs=1, min_epochs=0).get_params()
    return TrainingConfig.from_params(params | changes)


def test_average_follows_the_formula_with_its_warm_up():
    module = nn.Linear(2, 1)
    with torch.no_grad():
        module.weight.fill_(0.0)
    average = ExponentialWeightAverage([module], decay=0.5)
    expected = 0.0
    for step, value in enumerate([1.0, 2.0, 3.0, 4.0, 5.0], start=1):
        with torch.no_grad():
            module.weight.fill_(value)
        d = min(0.5, (1 + step) / (10 + step))
        expected = d * expected + (1 - d) * value
        average.update([module])
        torch.testing.assert_close(average.averaged[0].weight, torch.full((1, 2), expected))
    assert average.n_updates == 5
    assert not average.averaged[0].weight.requires_grad


def test_average_covers_batchnorm_statistics_and_copies_counters():
    module = nn.BatchNorm1d(3)
    average = ExponentialWeightAverage([module], decay=0.9)
    module.train()
    module(torch.randn(16, 3) * 4 + 7)
    average.update([module])
    d = min(0.9, 2 / 11)  # the first update's decay
    torch.testing.assert_close(average.averaged[0].running_mean, (1 - d) * module.running_mean)
    assert int(average.averaged[0].num_batches_tracked) == int(module.num_batches_tracked) == 1


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1])
def test_decay_outside_the_open_unit_interval_is_refused(decay):
    with pytest.raises(ValueError, match="decay must be in"):
        ExponentialWeightAverage([nn.Linear(1, 1)], decay)


def test_ema_decay_is_checked_by_the_estimator():
    with pytest.raises(ValueError, match="ema_decay"):
        NeuralClassificationTransformer(ema_decay=1.0)._check_params()


def _train(config, seed=0, validation=None):
    torch.manual_seed(seed)
    encoder = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU())
    head = nn.Linear(4, 2)
    x, y = torch.randn(24, 5, generator=torch.Generator().manual_seed(1)), np.arange(24) % 2
    result = train(
        config, encoder, head, x, y, embedding_dim=4, generator=torch.Generator().manual_seed(0), validation=validation
    )
    return encoder, head, result


def test_the_kept_weights_are_the_average_not_the_trained_ones(monkeypatch):
    kept = {}
    real_copy_to = ExponentialWeightAverage.copy_to

    def spy(self, modules):
        kept["averaged"] = [{k: v.clone() for k, v in m.state_dict().items()} for m in self.averaged]
        kept["trained"] = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]
        real_copy_to(self, modules)

    monkeypatch.setattr(ExponentialWeightAverage, "copy_to", spy)
    encoder, head, result = _train(_config(loss="ce", ema_decay=0.9))
    assert result.n_epochs_run == 4
    trained_weight = kept["trained"][0]["0.weight"]
    averaged_weight = kept["averaged"][0]["0.weight"]
    assert not torch.equal(trained_weight, averaged_weight)  # the average lags the trained weights
    torch.testing.assert_close(encoder[0].weight.detach(), averaged_weight, rtol=0, atol=0)
    torch.testing.assert_close(head.weight.detach(), kept["averaged"][1]["weight"], rtol=0, atol=0)


def test_model_selection_evaluates_and_keeps_averaged_weights(monkeypatch):
    from proglearn_supcon.training import engine

    evaluated = []
    real_evaluate = engine.evaluate

    def spy(encoder, head, *args):
        evaluated.append(encoder)
        return real_evaluate(encoder, head, *args)

    monkeypatch.setattr(engine, "evaluate", spy)
    validation = (torch.randn(10, 5), np.arange(10) % 2)
    encoder, head, result = _train(_config(ema_decay=0.5, k=3), validation=validation)
    assert evaluated and all(e is not encoder for e in evaluated)  # the averaged copy was evaluated
    assert all(e is evaluated[0] for e in evaluated)
