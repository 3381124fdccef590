"""The networks' hyper-parameters, declared once: name, default, allowed values, meaning.

:data:`HYPERPARAMS` is the one declaration of the parameters of
:class:`~proglearn_supcon.network.LifelongClassificationNetwork` and
:class:`~proglearn_supcon.network.SupConKNNClassifier`, and of those of
:class:`~proglearn_supcon.transformers.NeuralClassificationTransformer`
(the entries with ``transformer=True``), in the order of their signatures.
It serves, in the spirit of scikit-learn's ``_parameter_constraints``:

* the estimators' checks (:func:`check_params`, run before anything trains)
  and the command line's check of ``--param NAME=VALUE`` before any run starts;
* which parameters a network passes on to its transformers;
* the table at the end of this page, in the API reference.

scikit-learn reads an estimator's parameters from its ``__init__`` signature,
so the estimators keep explicit signatures. Those, the defaults in their
docstrings and the fields of the training engine's
:class:`~proglearn_supcon.training.engine.TrainingConfig` (the engine cannot
read this module: the loss and schedule names come from it) are copies that
``tests/test_hyperparams.py`` holds equal to this declaration.

A results file records its run's network parameters and hashes them into its
recipe (:mod:`proglearn_supcon.runs.provenance`); a saved model holds the
estimator with the parameters it had then. A parameter added to the networks
later is in neither. :data:`ADDED_PARAMS` maps each such parameter to the
value that does exactly what the code did before the parameter existed, so that

* a recipe with the parameter at that value hashes like the same recipe
  without it: files written before keep their recipe hash and pool with new
  runs of the same recipe, and only a run that sets another value is a new
  recipe;
* a model saved before the parameter existed loads with that value.

Only a parameter whose earlier behaviour one value reproduces exactly may be
listed there; the value is that behaviour, not necessarily the default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from proglearn_supcon.deciders import DECIDERS
from proglearn_supcon.precision import PRECISIONS
from proglearn_supcon.training.early_stopping import EARLY_STOPPING
from proglearn_supcon.training.objectives import loss_names
from proglearn_supcon.training.schedule import LR_SCHEDULES
from proglearn_supcon.validation import check_real, is_int
from proglearn_supcon.voters import STORAGE_DTYPES, KNNClassificationVoter

__all__ = [
    "store_params",
    "ADDED_PARAMS",
    "HYPERPARAMS",
    "TRANSFORMER_PARAMS",
    "Boolean",
    "Constraint",
    "HyperParam",
    "Integer",
    "OneOf",
    "Real",
    "Unchecked",
    "VoterParam",
    "check_params",
    "parameter_table",
]


# --------------------------------------------------------------------------- constraints


class Constraint:
    """The values a parameter takes.

    The messages of :meth:`check` are those the estimators gave before this
    declaration existed: tests and users match them.
    """

    def check(self, name: str, value: object) -> None:
        """Raise ValueError naming ``name``, what it must be and ``value`` unless ``value`` is allowed."""
        raise NotImplementedError

    def describe(self) -> str:
        """The allowed values in words, for the table of the documentation."""
        raise NotImplementedError


@dataclass(frozen=True)
class OneOf(Constraint):
    """One of ``choices``."""

    choices: tuple

    def check(self, name: str, value: object) -> None:
        if value not in self.choices:
            raise ValueError(f"{name} must be one of {self.choices}, got {value!r}")

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.choices))


@dataclass(frozen=True)
class Registered(Constraint):
    """One of the names ``names()`` returns when checked, so a loss registered later is accepted."""

    names: Callable[[], tuple]

    def check(self, name: str, value: object) -> None:
        OneOf(self.names()).check(name, value)

    def describe(self) -> str:
        return OneOf(self.names()).describe()


@dataclass(frozen=True)
class Integer(Constraint):
    """An integer (not a bool) >= ``low``, or also None.

    ``at_least`` (with the reason ``why``) is a stricter bound with a message
    of its own, checked after the integer and ``low``.
    """

    low: int
    none_ok: bool = False
    at_least: int | None = None
    why: str = ""

    def _kind(self) -> str:
        if self.none_ok:
            return f"an integer >= {self.low} or None"
        return "a positive integer" if self.low == 1 else f"an integer >= {self.low}"

    def check(self, name: str, value: object) -> None:
        if value is None and self.none_ok:
            return
        if not is_int(value) or value < self.low:
            raise ValueError(f"{name} must be {self._kind()}, got {value!r}")
        if self.at_least is not None and value < self.at_least:
            raise ValueError(f"{name} must be at least {self.at_least} ({self.why}), got {value!r}")

    def describe(self) -> str:
        return f"an integer >= {self.at_least}" if self.at_least is not None else self._kind()


@dataclass(frozen=True)
class Real(Constraint):
    """A finite real number (not a bool) in an interval (see :func:`~proglearn_supcon.validation.check_real`)."""

    low: float
    high: float = np.inf
    low_open: bool = False
    high_open: bool = False

    def check(self, name: str, value: object) -> None:
        check_real(name, value, low=self.low, high=self.high, low_open=self.low_open, high_open=self.high_open)

    def describe(self) -> str:
        closing = ")" if self.high_open or self.high == np.inf else "]"
        return f"a real number in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{closing}"


@dataclass(frozen=True)
class Boolean(Constraint):
    """True or False (numpy bools too)."""

    def check(self, name: str, value: object) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False, got {value!r}")

    def describe(self) -> str:
        return "True or False"


@dataclass(frozen=True)
class VoterParam(Constraint):
    """Whatever :class:`~proglearn_supcon.voters.KNNClassificationVoter` takes for its parameter of the same name.

    The networks hand ``k`` and ``metric`` to their voters (and the transformer
    to its validation kNN), so the voter's own check is the rule.
    """

    def check(self, name: str, value: object) -> None:
        KNNClassificationVoter(**{name: value})._check_params()

    def describe(self) -> str:
        return "as for KNNClassificationVoter"


@dataclass(frozen=True)
class Unchecked(Constraint):
    """Not checked by :func:`check_params`; ``where`` says where a bad value fails instead."""

    where: str

    def check(self, name: str, value: object) -> None:
        pass

    def describe(self) -> str:
        return self.where


# --------------------------------------------------------------------------- the declaration


@dataclass(frozen=True)
class HyperParam:
    """One parameter: its default, the values it takes, what it does, and whether the transformer has it."""

    name: str
    default: object
    constraint: Constraint
    doc: str
    transformer: bool = True


_DECLARED = (
    HyperParam("loss", "supcon", Registered(loss_names), "Loss that trains each transformer (SupCon, CE, TCL, ...)."),
    HyperParam(
        "encoder",
        None,
        Unchecked("a factory f(input_shape) -> nn.Module, or None (called at fit)"),
        "Encoder factory; None: ProgLearn's CNN for images, an MLP for feature vectors.",
    ),
    HyperParam("epochs", 30, Integer(1), "Most epochs trained, and the length of the learning-rate schedule."),
    HyperParam(
        "batch_size",
        128,
        Integer(1, at_least=2, why="BatchNorm and contrastive pairs need it"),
        "Samples per training step.",
    ),
    HyperParam("lr", 2e-3, Real(0, low_open=True), "Adam's learning rate after the warm-up."),
    HyperParam("weight_decay", 1e-4, Real(0), "Adam's weight decay."),
    HyperParam(
        "lr_schedule", "cosine", OneOf(LR_SCHEDULES), "Learning rate after the warm-up: cosine, linear or constant."
    ),
    HyperParam("warmup_epochs", 5, Integer(0), "Epochs of linear warm-up of the learning rate."),
    HyperParam(
        "ema_decay",
        0.9,
        Real(0, 1, high_open=True),
        "Decay of the moving average of the weights that are evaluated and kept (0: the trained weights).",
    ),
    HyperParam("temperature", 0.2, Real(0, low_open=True), "Temperature of SupCon and TCL."),
    HyperParam("tcl_k1", 1.0, Real(0), "TCL's weight of the positive-repulsion term."),
    HyperParam("tcl_k2", 1.0, Real(0), "TCL's weight of the negative term."),
    HyperParam("label_smoothing", 0.0, Real(0, 1, high_open=True), "Label smoothing of cross-entropy."),
    HyperParam("projection_dim", 128, Integer(1), "Output width of the projection head (SupCon, TCL)."),
    HyperParam("projection_hidden_dim", 512, Integer(1), "Hidden width of the projection head (SupCon, TCL)."),
    HyperParam("n_views", 1, Integer(1), "Augmented views of each sample per step, for every loss."),
    HyperParam("augment", True, Boolean(), "Augment the training data at all."),
    HyperParam(
        "whiten_first_conv",
        True,
        Boolean(),
        "Images: fix the first convolution to whiten the task's image patches (frozen weights).",
    ),
    HyperParam(
        "validation_fraction",
        0.0,
        Real(0, 1, high_open=True),
        "Share of a transformer's data held out to select its epoch (0: none).",
    ),
    HyperParam("early_stopping", "knn", OneOf(EARLY_STOPPING), "Which evaluated epoch's weights are kept."),
    HyperParam("patience", 20, Integer(1), "Epochs without a better evaluated epoch before training stops."),
    HyperParam("min_epochs", 10, Integer(0), "First epoch (0-based, capped at epochs - 1) model selection may keep."),
    HyperParam("validation_interval", 1, Integer(1), "Evaluate the validation split every this many epochs."),
    HyperParam("k", None, VoterParam(), "Neighbours of the kNN voters and the validation kNN; None: floor(log2(n))."),
    HyperParam("metric", "cosine", VoterParam(), "Distance of the kNN voters and the validation kNN."),
    HyperParam(
        "voter_dim",
        None,
        Integer(1, none_ok=True),
        "Width the voters project each transformer's embedding to; None: the full embedding.",
        transformer=False,
    ),
    HyperParam(
        "voter_dtype",
        "float32",
        OneOf(STORAGE_DTYPES),
        "How the voters store their fit embeddings.",
        transformer=False,
    ),
    HyperParam("flip_average", True, Boolean(), "Images: embed each as the mean over it and its mirror image."),
    HyperParam(
        "transformer_split",
        0.67,
        Real(0, 1, low_open=True, high_open=True),
        "Share of a task's data that trains its transformer; the rest fits its voter.",
        transformer=False,
    ),
    HyperParam(
        "decider",
        "shrunk-em-brier-own-1se",
        OneOf(tuple(DECIDERS)),
        "How each task weighs its voters' posteriors.",
        transformer=False,
    ),
    HyperParam("precision", "auto", OneOf(PRECISIONS), "Arithmetic of the encoders: bf16 autocast or fp32."),
    HyperParam("compile", False, Boolean(), "Train through torch.compile(encoder)."),
    HyperParam("deterministic", True, Boolean(), "Use torch's deterministic algorithms (same numbers every run)."),
    HyperParam(
        "device",
        "auto",
        Unchecked("'auto', a device name or a torch.device (resolved at fit)"),
        "Where the encoders train and embed; 'auto': CUDA when available.",
    ),
    HyperParam(
        "random_state",
        None,
        Unchecked("an int or None (seeds are derived at fit)"),
        "Seeds every transformer and every split; None: fresh randomness.",
    ),
    HyperParam("verbose", False, Boolean(), "Progress bar over each transformer's epochs."),
)

#: Parameter name -> its declaration, in the order of the networks' signatures.
#:
#: :meta hide-value:
HYPERPARAMS: dict[str, HyperParam] = {param.name: param for param in _DECLARED}
#: The parameters of the transformer, in the order of its signature; the networks pass them on.
TRANSFORMER_PARAMS: tuple[str, ...] = tuple(name for name, param in HYPERPARAMS.items() if param.transformer)


def store_params(estimator: object, arguments: Mapping[str, object]) -> None:
    """Store each constructor argument as the same-named attribute, all that a constructor does.

    Call it as ``store_params(self, locals())`` first thing in ``__init__``
    (``self`` is skipped). The signature stays written out, since
    scikit-learn reads the parameters from it; this saves writing every name
    a second and third time in the body, where a copy could drift.
    """
    for name, value in arguments.items():
        if name != "self":
            setattr(estimator, name, value)


def check_params(params: Mapping[str, object]) -> None:
    """Raise ValueError for the first invalid value of ``params``, in declaration order.

    Parameters
    ----------
    params : mapping of str to object
        Parameter values, e.g. an estimator's ``get_params(deep=False)``;
        names not declared here are not looked at.

    Raises
    ------
    ValueError
        Naming the parameter, what it must be and the value given.
    """
    for name, param in HYPERPARAMS.items():
        if name in params:
            param.constraint.check(name, params[name])


def parameter_table() -> str:
    """The declaration as a reStructuredText table (name, default, values, meaning)."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    rows = [("Parameter", "Default", "Values", "Meaning")]
    rows += [
        (
            f"``{p.name}``" + ("" if p.transformer else " (networks only)"),
            f"``{p.default!r}``",
            p.constraint.describe(),
            p.doc,
        )
        for p in HYPERPARAMS.values()
    ]
    for row in rows:
        lines += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    return "\n".join(lines)


# The API reference shows the declaration itself, so it cannot drift from the
# code (there is no docstring under python -OO).
if __doc__:
    __doc__ += "\nThe declared parameters (in signature order):\n\n" + parameter_table() + "\n"


#: Parameter name -> the value that reproduces the code from before the parameter.
#: voter_dim, voter_dtype: voters on the full float32 embedding (issue 19).
#: decider: every voter weighed the same (issue 31).
#: deterministic: torch's default kernels (issue 34).
#: ema_decay: the trained weights themselves, no average (issue 32).
#: whiten_first_conv: a randomly initialised, trained first convolution (issue 32).
ADDED_PARAMS: dict[str, object] = {
    "voter_dim": None,
    "voter_dtype": "float32",
    "decider": "average",
    "deterministic": False,
    "ema_decay": 0.0,
    "whiten_first_conv": False,
}
