"""Saving and loading fitted estimators.

A file holds a small header (format, library and torch versions, the class)
and the pickled estimator, written with :func:`torch.save` so tensors on any
device are stored portably. Files are pickles: load only files you trust.
"""

from __future__ import annotations

import os
import pickle
import types
from pathlib import Path

import torch

from proglearn_supcon._version import __version__
from proglearn_supcon.fileio import atomic_path

FORMAT = "proglearn_supcon.estimator/1"

#: Modules that moved (issue 30, 0.1.0): the path a model saved before pickled -> where the class lives now.
MOVED_MODULES = {
    f"proglearn_supcon.{old}": f"proglearn_supcon.{new}"
    for old, new in {
        "networks": "training.encoders",
        "selection": "training.early_stopping",
        "losses": "training.losses",
        "augment": "training.augment",
        "training": "training.engine",
        "voter_storage": "convert_voters",
        "transfer": "metrics.transfer",
        "intervals": "metrics.intervals",
        "geometry": "metrics.geometry",
        "decomposition": "metrics.decomposition",
    }.items()
}


class _MovedModulesUnpickler(pickle.Unpickler):
    """Unpickler that finds classes pickled under a module path that has since moved."""

    def find_class(self, module: str, name: str):
        return super().find_class(MOVED_MODULES.get(module, module), name)


# torch.load takes a pickle module and reads with its Unpickler (and its load,
# for torch's legacy format); saving never uses this one.
_moved_modules_pickle = types.ModuleType("_moved_modules_pickle")
_moved_modules_pickle.Unpickler = _MovedModulesUnpickler
_moved_modules_pickle.load = lambda file, **kwargs: _MovedModulesUnpickler(file, **kwargs).load()


def save_object(obj, path: str | os.PathLike) -> None:
    """Write ``obj`` to ``path`` atomically (temporary file, then rename)."""
    payload = {
        "format": FORMAT,
        "library_version": __version__,
        "torch_version": torch.__version__,
        "class": f"{type(obj).__module__}.{type(obj).__qualname__}",
        "object": obj,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_object(path: str | os.PathLike, expected_type: type | None = None):
    """Read an object written by :func:`save_object`; checks format and type."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {str(path)!r}")
    map_location = None if torch.cuda.is_available() else "cpu"
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False, pickle_module=_moved_modules_pickle)
    except Exception as exc:  # a truncated or foreign file
        raise ValueError(f"{str(path)!r} is not a readable proglearn_supcon model file: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a proglearn_supcon model file")
    obj = payload["object"]
    if expected_type is not None and not isinstance(obj, expected_type):
        raise TypeError(f"{str(path)!r} holds a {payload['class']}, not a {expected_type.__name__}")
    return obj
