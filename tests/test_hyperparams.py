"""The hyper-parameters are declared once (proglearn_supcon.hyperparams); every copy that must remain equals it.

scikit-learn reads an estimator's parameters from its ``__init__`` signature,
so the signatures spell the parameters out; the docstrings show the defaults,
and the training engine's config names the parameters it reads. These tests
hold all of them to the declaration, in names, order, defaults (type
included: ``1`` and ``1.0`` hash to different recipes) and annotations.
"""

import ast
import dataclasses
import inspect

import numpy as np
import pytest

from proglearn_supcon import (
    LifelongClassificationNetwork,
    NeuralClassificationTransformer,
    SupConKNNClassifier,
    hyperparams,
)
from proglearn_supcon.hyperparams import (
    HYPERPARAMS,
    TRANSFORMER_PARAMS,
    Boolean,
    Integer,
    OneOf,
    Real,
    check_params,
    parameter_table,
)
from proglearn_supcon.training.engine import TrainingConfig

ESTIMATORS = {
    LifelongClassificationNetwork: tuple(HYPERPARAMS),
    SupConKNNClassifier: tuple(HYPERPARAMS),
    NeuralClassificationTransformer: TRANSFORMER_PARAMS,
}

#: The classes whose docstrings document the parameters (SupConKNNClassifier's refers to the network's).
DOCUMENTED = [LifelongClassificationNetwork, NeuralClassificationTransformer]


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_signature_equals_the_declaration(cls):
    parameters = inspect.signature(cls).parameters
    assert tuple(parameters) == ESTIMATORS[cls]
    wrong = [
        f"{name}={p.default!r} (declared {HYPERPARAMS[name].default!r})"
        for name, p in parameters.items()
        if not _same(p.default, HYPERPARAMS[name].default)
    ]
    assert not wrong, wrong


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
def test_parameters_are_keyword_only(cls):
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in inspect.signature(cls).parameters.values())
    with pytest.raises(TypeError):
        cls("supcon")


def test_transformer_parameters_are_the_declared_ones_the_network_passes_on():
    assert TRANSFORMER_PARAMS == tuple(name for name in HYPERPARAMS if HYPERPARAMS[name].transformer)
    assert set(HYPERPARAMS) - set(TRANSFORMER_PARAMS) == {"voter_dim", "voter_dtype", "transformer_split", "decider"}
    net = LifelongClassificationNetwork(epochs=3, lr=0.5, metric="euclidean", random_state=0)
    made = net._make_transformer(0).get_params()
    assert {name: made[name] for name in TRANSFORMER_PARAMS if name != "random_state"} == {
        name: net.get_params()[name] for name in TRANSFORMER_PARAMS if name != "random_state"
    }


def test_training_config_fields_are_declared_transformer_parameters():
    annotations = {
        name: p.annotation for name, p in inspect.signature(NeuralClassificationTransformer).parameters.items()
    }
    for field in dataclasses.fields(TrainingConfig):
        assert field.name in TRANSFORMER_PARAMS, field.name
        assert field.type == annotations[field.name], field.name
        # No defaults of its own: the declaration's, through the estimator, are the only ones.
        assert field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
    config = TrainingConfig.from_params(NeuralClassificationTransformer().get_params())
    for field in dataclasses.fields(TrainingConfig):
        assert _same(getattr(config, field.name), HYPERPARAMS[field.name].default)


def parameter_lines(cls) -> list[str]:
    """The unindented lines of the numpydoc Parameters section of ``cls``: "name : type, default=value" and
    "name1, name2, ..." (a group documented together)."""
    section = inspect.getdoc(cls).split("Parameters\n----------\n")[1].split("\nAttributes\n")[0]
    return [line for line in section.splitlines() if line and not line[0].isspace()]


def documented_defaults(cls) -> dict[str, str]:
    found = {}
    for line in parameter_lines(cls):
        names, _, kind = line.partition(" : ")
        if "default=" in kind:
            for name in names.split(", "):
                found[name] = kind.split("default=", 1)[1].strip()
    return found


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda cls: cls.__name__)
def test_docstring_defaults_equal_the_declaration(cls):
    documented = documented_defaults(cls)
    assert documented, "no 'name : type, default=value' lines found"
    wrong = []
    for name, text in documented.items():
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        if not _same(value, HYPERPARAMS[name].default):
            wrong.append(f"{name}: documented {text}, declared {HYPERPARAMS[name].default!r}")
    assert not wrong, wrong


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda cls: cls.__name__)
def test_docstring_choices_equal_the_declaration(cls):
    """A documented type ``{"a", "b"}`` lists values the declaration allows (all of them where it says)."""
    for line in parameter_lines(cls):
        names, _, kind = line.partition(" : ")
        if kind.startswith("{"):
            documented = ast.literal_eval(kind[: kind.index("}") + 1])
            for name in names.split(", "):
                constraint = HYPERPARAMS[name].constraint
                if isinstance(constraint, OneOf):
                    assert documented == set(constraint.choices), name
                for value in documented:
                    check_params({name: value})


def test_every_transformer_parameter_is_documented_with_its_default():
    assert set(documented_defaults(NeuralClassificationTransformer)) == set(TRANSFORMER_PARAMS)


def test_every_network_parameter_is_documented():
    lines = parameter_lines(LifelongClassificationNetwork)
    names = [name.strip() for line in lines for name in line.partition(" : ")[0].split(",") if name.strip()]
    assert sorted(names) == sorted(HYPERPARAMS)


# ----------------------------------------------------------------------------- the checks


def test_every_default_passes_the_checks():
    check_params({name: param.default for name, param in HYPERPARAMS.items()})


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("loss", "mse", "loss must be one of ('supcon', 'ce', 'tcl'), got 'mse'"),
        ("epochs", 0, "epochs must be a positive integer, got 0"),
        ("epochs", True, "epochs must be a positive integer, got True"),
        ("epochs", 2.0, "epochs must be a positive integer, got 2.0"),
        ("batch_size", 1, "batch_size must be at least 2 (BatchNorm and contrastive pairs need it), got 1"),
        ("batch_size", 0, "batch_size must be a positive integer, got 0"),
        ("warmup_epochs", -1, "warmup_epochs must be an integer >= 0, got -1"),
        ("lr", "abc", "lr must be a real number in (0, inf), got 'abc'"),
        ("validation_fraction", 1.0, "validation_fraction must be a real number in [0, 1), got 1.0"),
        ("transformer_split", 1, "transformer_split must be a real number in (0, 1), got 1"),
        ("augment", "yes", "augment must be True or False, got 'yes'"),
        ("k", 0, "k must be an integer >= 1 or None, got 0."),
        ("metric", "l1", "metric must be one of ('cosine', 'euclidean'), got 'l1'."),
        ("voter_dim", 1.5, "voter_dim must be an integer >= 1 or None, got 1.5"),
        ("voter_dtype", "float64", "voter_dtype must be one of ('float32', 'float16', 'bfloat16'), got 'float64'"),
        (
            "decider",
            "max",
            "decider must be one of ('average', 'em', 'shrunk-em', 'shrunk-em-brier-1se', "
            "'shrunk-em-brier-own-1se', 'softmax', 'best-k'), got 'max'",
        ),
        ("precision", "fp16", "precision must be one of ('auto', 'bf16', 'fp32'), got 'fp16'"),
    ],
)
def test_check_messages(name, value, message):
    with pytest.raises(ValueError) as info:
        check_params({name: value})
    assert str(info.value) == message


def test_numpy_values_pass_like_python_ones():
    check_params({"epochs": np.int64(3), "lr": np.float32(0.1), "augment": np.bool_(False), "voter_dim": np.int32(2)})


def test_the_first_invalid_parameter_in_declaration_order_is_reported():
    with pytest.raises(ValueError, match="^loss"):
        check_params({"voter_dim": 0, "loss": "mse"})


def test_undeclared_names_are_left_alone():
    check_params({"not_a_parameter": object()})


def test_estimators_check_through_the_declaration():
    for estimator in (LifelongClassificationNetwork(epochs=0), NeuralClassificationTransformer(epochs=0)):
        with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
            estimator._check_params()


def test_constraint_descriptions():
    assert OneOf(("a", "b")).describe() == "one of 'a', 'b'"
    assert Integer(0).describe() == "an integer >= 0" and Integer(1).describe() == "a positive integer"
    assert Integer(1, none_ok=True).describe() == "an integer >= 1 or None"
    assert Real(0, 1, high_open=True).describe() == "a real number in [0, 1)"
    assert Boolean().describe() == "True or False"


def test_the_documentation_table_lists_every_parameter():
    table = parameter_table()
    for name, param in HYPERPARAMS.items():
        assert f"``{name}``" in table and param.doc in table
    assert table in hyperparams.__doc__


def test_constructors_store_every_argument_unchanged():
    from proglearn_supcon import LifelongClassificationNetwork, NeuralClassificationTransformer, SupConKNNClassifier

    for cls in (LifelongClassificationNetwork, SupConKNNClassifier, NeuralClassificationTransformer):
        sentinel = object()
        est = cls(encoder=sentinel, epochs=3)
        assert est.encoder is sentinel and est.epochs == 3
        assert "self" not in vars(est)
        assert set(vars(est)) == set(est.get_params(deep=False))
