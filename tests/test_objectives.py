"""Tests of proglearn_supcon.training.objectives: the registry and what each objective builds and feeds."""

import pytest
import torch
from torch import nn

from proglearn_supcon.experiments.arguments import build_parser
from proglearn_supcon.training.encoders import ProjectionHead
from proglearn_supcon.training.engine import TrainingConfig
from proglearn_supcon.training.losses import SupConLoss, TunedContrastiveLoss
from proglearn_supcon.training.objectives import (
    OBJECTIVES,
    ContrastiveObjective,
    CrossEntropyObjective,
    Objective,
    get_objective,
    loss_names,
    register,
)
from proglearn_supcon.transformers import NeuralClassificationTransformer


def _config(**changes):
    params = NeuralClassificationTransformer(temperature=0.3, tcl_k1=2.0, tcl_k2=0.5, label_smoothing=0.1).get_params()
    return TrainingConfig.from_params(params | changes)


def test_registry_holds_the_three_losses_in_the_command_lines_order():
    assert loss_names() == ("supcon", "ce", "tcl")
    assert all(OBJECTIVES[name].name == name for name in loss_names())
    assert isinstance(get_objective("ce"), CrossEntropyObjective)
    assert isinstance(get_objective("supcon"), ContrastiveObjective)
    assert isinstance(get_objective("tcl"), ContrastiveObjective)


@pytest.mark.parametrize("bad", ["hinge", "CE", None, ["supcon"]])
def test_an_unknown_loss_is_a_value_error_naming_the_choices(bad):
    with pytest.raises(ValueError, match=r"loss must be one of \('supcon', 'ce', 'tcl'\), got "):
        get_objective(bad)


def test_the_transformer_rejects_an_unknown_loss_before_training():
    with pytest.raises(ValueError, match=r"loss must be one of \('supcon', 'ce', 'tcl'\), got 'hinge'"):
        NeuralClassificationTransformer(loss="hinge")._check_params()


def test_a_name_cannot_be_registered_twice():
    with pytest.raises(ValueError, match="'ce' is registered already"):
        register(CrossEntropyObjective())
    assert loss_names() == ("supcon", "ce", "tcl")


@pytest.mark.parametrize(
    "loss, head_type, width",
    [("supcon", ProjectionHead, 6), ("tcl", ProjectionHead, 6), ("ce", nn.Linear, 3)],
)
def test_heads(loss, head_type, width):
    head = get_objective(loss).head(embedding_dim=10, n_classes=3, hidden_dim=16, projection_dim=6)
    assert isinstance(head, head_type)
    assert head(torch.randn(4, 10)).shape == (4, width)


def test_criteria_take_the_configs_hyper_parameters():
    supcon = get_objective("supcon").criterion(_config())
    assert isinstance(supcon, SupConLoss) and supcon.temperature == 0.3
    tcl = get_objective("tcl").criterion(_config())
    assert isinstance(tcl, TunedContrastiveLoss)
    assert (tcl.temperature, tcl.k1, tcl.k2) == (0.3, 2.0, 0.5)
    ce = get_objective("ce").criterion(_config())
    assert isinstance(ce, nn.CrossEntropyLoss) and ce.label_smoothing == 0.1


def test_contrastive_feed_groups_the_views_of_each_sample():
    outputs = torch.arange(3 * 2 * 4, dtype=torch.float32).reshape(6, 4)  # sample-major: s0v0, s0v1, s1v0, ...
    labels = torch.tensor([5, 6, 7])
    for loss in ("supcon", "tcl"):
        z, y = get_objective(loss).feed(outputs, labels, 2)
        assert z.shape == (3, 2, 4) and torch.equal(z[1, 0], outputs[2]) and torch.equal(z[1, 1], outputs[3])
        assert y is labels
    z, y = get_objective("supcon").feed(outputs, torch.arange(6), 1)  # validation: one view each
    assert z.shape == (6, 1, 4)


def test_ce_feed_repeats_each_label_for_its_views():
    logits, y = get_objective("ce").feed(torch.zeros(6, 3), torch.tensor([5, 6, 7]), 2)
    assert logits.shape == (6, 3)
    assert y.tolist() == [5, 5, 6, 6, 7, 7]
    assert get_objective("ce").feed(torch.zeros(3, 3), torch.tensor([5, 6, 7]), 1)[1].tolist() == [5, 6, 7]


def test_each_objective_feeds_its_criterion_a_finite_scalar():
    torch.manual_seed(0)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    for name in loss_names():
        objective = get_objective(name)
        head = objective.head(8, 3, 16, 6)
        outputs = head(torch.randn(6 * 3, 8)).float()
        value = objective.criterion(_config())(*objective.feed(outputs, labels, 3))
        assert value.shape == () and torch.isfinite(value)


def test_a_registered_objective_is_offered_and_accepted_everywhere(monkeypatch):
    class MeanSquare(Objective):
        name = "mse-test"

        def head(self, embedding_dim, n_classes, hidden_dim, projection_dim):
            return nn.Linear(embedding_dim, n_classes)

        def criterion(self, config):
            return nn.MSELoss()

        def feed(self, outputs, labels, n_views):
            return outputs, nn.functional.one_hot(labels.repeat_interleave(n_views), outputs.shape[1]).float()

    monkeypatch.setitem(OBJECTIVES, "mse-test", MeanSquare())
    assert loss_names()[-1] == "mse-test"
    NeuralClassificationTransformer(loss="mse-test")._check_params()
    args = build_parser().parse_args(["--variant", "mse-test"])
    assert args.variant == ["mse-test"]
    assert "mse-test" in build_parser().parse_args([]).variant
    X = torch.randn(30, 4, generator=torch.Generator().manual_seed(0)).numpy()
    y = (X[:, 0] > 0).astype(int)
    fitted = NeuralClassificationTransformer(  # with a validation split, so the objective's loss is evaluated too
        loss="mse-test", epochs=2, batch_size=8, validation_fraction=0.33, device="cpu", random_state=0
    )
    fitted.fit(X, y)
    assert isinstance(fitted.head_, nn.Linear) and fitted.head_.out_features == 2
    assert len(fitted.history_["train_loss"]) == 2 and fitted.history_["val_loss"]
