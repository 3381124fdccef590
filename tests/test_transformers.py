import numpy as np
import pytest
import torch

from proglearn_supcon.precision import use_bf16
from proglearn_supcon.training.encoders import MLPEncoder, ProgLearnCNN
from proglearn_supcon.training.engine import TrainingConfig
from proglearn_supcon.training.schedule import lr_factor
from proglearn_supcon.transformers import NeuralClassificationTransformer, resolve_device


def test_proglearn_cnn_architecture():
    net = ProgLearnCNN((3, 32, 32))
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128, 254]
    assert [c.stride for c in convs] == [(1, 1)] + [(2, 2)] * 4
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [lin.out_features for lin in linears] == [2000, 2000]
    assert isinstance(net.dense[-1], torch.nn.BatchNorm1d)  # the embedding is the last BN output
    net.eval()
    assert net(torch.zeros(4, 3, 32, 32)).shape == (4, 2000)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["supcon", "ce", "tcl"])
def test_fit_transform_images(blob_images, fast_params, loss):
    X, y = blob_images([0, 1, 2], 20)
    tr = NeuralClassificationTransformer(loss=loss, random_state=0, **fast_params(epochs=2))
    assert tr.fit(X, y) is tr
    emb = tr.transform(X)
    assert emb.shape == (60, 2000) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    # Batched inference equals one batch (eval mode, no randomness), up to the
    # rounding of the arithmetic: under bf16 autocast the convolution kernels
    # picked for a batch of 7 and one of 60 round differently (8 significant bits).
    atol = 2**-7 * np.abs(emb).max() if use_bf16(tr.precision, torch.device("cpu")) else 1e-5
    np.testing.assert_allclose(tr.transform(X, batch_size=7), emb, rtol=1e-5, atol=atol)
    np.testing.assert_array_equal(tr.classes_, [0, 1, 2])
    # The default recipe has no validation split: nothing is evaluated, the last epoch is kept.
    assert len(tr.history_["train_loss"]) == 2 and tr.history_["val_loss"] == [] and tr.best_epoch_ == 1


@pytest.mark.slow
def test_float_images_match_uint8(blob_images, fast_params):
    """uint8 images (0..255) and float images (0..1) are the same input."""
    X, y = blob_images([0, 1], 10)
    tr = NeuralClassificationTransformer(random_state=3, **fast_params(epochs=1)).fit(X, y)
    np.testing.assert_allclose(tr.transform(X), tr.transform(X.astype(np.float32) / 255), rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_reproducible_under_seed(blob_images, fast_params):
    X, y = blob_images([0, 1], 12)
    runs = [
        NeuralClassificationTransformer(random_state=7, **fast_params(epochs=2)).fit(X, y).transform(X)
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    other = NeuralClassificationTransformer(random_state=8, **fast_params(epochs=2)).fit(X, y).transform(X)
    assert not np.array_equal(runs[0], other)


@pytest.mark.slow
def test_loss_early_stopping_keeps_lowest_validation_loss(blob_images):
    X, y = blob_images([0, 1, 2], 20)
    tr = NeuralClassificationTransformer(
        loss="ce",
        epochs=30,
        patience=2,
        lr=0.05,
        random_state=0,
        batch_size=16,
        device="cpu",
        early_stopping="loss",
        validation_fraction=0.33,
    ).fit(X, y)
    val, evaluated = tr.history_["val_loss"], tr.history_["epoch"]
    assert evaluated[0] == 10  # the default min_epochs: nothing earlier is a candidate
    assert tr.best_epoch_ == evaluated[int(np.argmin(val))]
    # Stopped `patience` epochs after the best one (or ran out of epochs).
    assert evaluated[-1] == min(29, tr.best_epoch_ + 2)


@pytest.mark.slow
def test_no_validation_runs_all_epochs(blob_images, fast_params):
    X, y = blob_images([0, 1], 10)
    tr = NeuralClassificationTransformer(validation_fraction=0.0, random_state=0, **fast_params(epochs=3)).fit(X, y)
    assert len(tr.history_["train_loss"]) == 3 and tr.history_["val_loss"] == []


@pytest.mark.slow
def test_tabular_input_uses_mlp(fast_params):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40, 5)), rng.normal(4, 1, (40, 5))])
    y = np.repeat([0, 1], 40)
    tr = NeuralClassificationTransformer(random_state=0, **fast_params(epochs=3)).fit(X, y)
    assert isinstance(tr.encoder_, MLPEncoder)
    assert tr.transform(X).shape == (80, 256)


@pytest.mark.slow
def test_custom_encoder_factory(blob_images, fast_params):
    X, y = blob_images([0, 1], 10)

    def tiny(shape):
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(int(np.prod(shape)), 8))

    tr = NeuralClassificationTransformer(encoder=tiny, random_state=0, **fast_params(epochs=1)).fit(X, y)
    assert tr.transform(X).shape == (20, 8)


def test_device_auto_is_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"loss": "mse"}, "loss must be one of"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": 1}, "batch_size must be at least 2"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"temperature": 0.0}, "temperature"),
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"early_stopping": "acc"}, "early_stopping must be one of"),
        ({"validation_interval": 0}, "validation_interval must be a positive integer"),
        ({"patience": 0}, "patience must be a positive integer"),
        ({"warmup_epochs": -1}, "warmup_epochs"),
        ({"precision": "fp16"}, "precision must be one of"),
        ({"k": 0}, "k must be an integer"),
        ({"metric": "manhattan"}, "metric must be one of"),
        ({"projection_hidden_dim": 0}, "projection_hidden_dim"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
    ],
)
def test_bad_parameters(blob_images, params, match):
    X, y = blob_images([0, 1], 5)
    with pytest.raises(ValueError, match=match):
        NeuralClassificationTransformer(**params).fit(X, y)


@pytest.mark.slow
def test_transform_checks_shape(blob_images, fast_params):
    X, y = blob_images([0, 1], 10)
    tr = NeuralClassificationTransformer(random_state=0, **fast_params(epochs=1)).fit(X, y)
    with pytest.raises(ValueError, match="per-sample shape"):
        tr.transform(X[:, :16, :16])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_transform(blob_images, fast_params):
    X, y = blob_images([0, 1], 10)
    tr = NeuralClassificationTransformer(random_state=0, **fast_params(epochs=1, device="cuda")).fit(X, y)
    assert next(tr.encoder_.parameters()).is_cuda
    assert tr.transform(X).dtype == np.float32


# --------------------------------------------------------------------------- #
# model selection (early_stopping) and the training record
# --------------------------------------------------------------------------- #
@pytest.fixture
def select_params(fast_params):
    # constant rate and no warm-up: a replay with fewer epochs sees the same rates; a validation split to select on
    return fast_params(
        lr_schedule="constant", warmup_epochs=0, lr=3e-3, epochs=10, patience=3, validation_fraction=0.33
    )


@pytest.mark.slow
def test_knn_selection_keeps_best_accuracy_epoch_and_restores_its_weights(blob_images, select_params):
    X, y = blob_images([0, 1, 2, 3], 15)
    tr = NeuralClassificationTransformer(random_state=0, **select_params).fit(X, y)
    accuracy = tr.history_["val_accuracy"]
    assert tr.history_["epoch"] == list(range(tr.n_epochs_run_))
    # the first epoch reaching the best accuracy; stopped `patience` later unless out of epochs
    assert tr.best_epoch_ == tr.history_["epoch"][int(np.argmax(accuracy))]
    assert tr.n_epochs_run_ == min(select_params["epochs"], tr.best_epoch_ + select_params["patience"] + 1)
    # A replay trained for exactly best_epoch_ + 1 epochs (constant rate, same seed)
    # is a snapshot of the weights at that epoch: the kept encoder must equal it.
    snapshot = NeuralClassificationTransformer(
        random_state=0, early_stopping="none", **{**select_params, "epochs": tr.best_epoch_ + 1}
    ).fit(X, y)
    np.testing.assert_array_equal(tr.transform(X), snapshot.transform(X))
    if tr.best_epoch_ != tr.n_epochs_run_ - 1:
        last = NeuralClassificationTransformer(
            random_state=0, early_stopping="none", **{**select_params, "epochs": tr.n_epochs_run_}
        ).fit(X, y)
        assert not np.array_equal(tr.transform(X), last.transform(X))


@pytest.mark.slow
def test_none_runs_every_epoch_and_keeps_the_last(blob_images, select_params):
    X, y = blob_images([0, 1], 12)
    tr = NeuralClassificationTransformer(random_state=0, early_stopping="none", **{**select_params, "patience": 1}).fit(
        X, y
    )
    assert tr.n_epochs_run_ == select_params["epochs"] == len(tr.history_["train_loss"])
    assert tr.best_epoch_ == select_params["epochs"] - 1
    assert len(tr.history_["val_accuracy"]) == len(tr.history_["val_loss"]) == select_params["epochs"]


@pytest.mark.slow
def test_history_records_every_evaluated_epoch(blob_images, select_params):
    X, y = blob_images([0, 1, 2], 12)
    tr = NeuralClassificationTransformer(
        random_state=0, early_stopping="none", validation_interval=3, **{**select_params, "epochs": 7}
    ).fit(X, y)
    history = tr.history_
    assert history["epoch"] == [2, 5, 6]  # every third epoch and the last one
    assert len(history["train_loss"]) == 7
    assert all(0 <= a <= 1 for a in history["val_accuracy"])
    assert all(np.isfinite(history["val_loss"])) and all(np.isfinite(history["train_loss"]))


def test_warmup_then_cosine_learning_rate():
    def factors(tr, n):
        config = TrainingConfig.from_params(tr.get_params())
        return [lr_factor(e, config) for e in range(n)]

    factors10 = factors(NeuralClassificationTransformer(epochs=10, warmup_epochs=2), 10)
    np.testing.assert_allclose(factors10[:3], [1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(factors10[2:], 0.5 * (1 + np.cos(np.pi * np.arange(8) / 8)))
    short = NeuralClassificationTransformer(epochs=3, warmup_epochs=5)  # warm-up capped at epochs - 1
    np.testing.assert_allclose(factors(short, 3), [1 / 3, 2 / 3, 1.0])
    constant = NeuralClassificationTransformer(epochs=10, warmup_epochs=0, lr_schedule="constant")
    assert factors(constant, 10) == [1.0] * 10


@pytest.mark.slow
def test_flip_average_is_mean_of_image_and_mirror(blob_images, fast_params):
    X, y = blob_images([0, 1], 10)
    tr = NeuralClassificationTransformer(
        random_state=0, precision="fp32", flip_average=False, **fast_params(epochs=1)
    ).fit(X, y)
    plain, mirrored = tr.transform(X), tr.transform(X[:, :, ::-1])
    tr.flip_average = True
    np.testing.assert_allclose(tr.transform(X), (plain + mirrored) / 2, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_bf16_and_fp32_embeddings_agree(blob_images, fast_params):
    X, y = blob_images([0, 1], 10)
    tr = NeuralClassificationTransformer(random_state=0, precision="fp32", **fast_params(epochs=1)).fit(X, y)
    fp32 = tr.transform(X)
    tr.precision = "bf16"
    bf16 = tr.transform(X)
    assert bf16.dtype == np.float32
    # bf16 keeps about 3 significant digits; the embedding directions must agree closely
    cos = (fp32 * bf16).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert cos.min() > 0.99
