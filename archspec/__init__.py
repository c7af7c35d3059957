"""archspec: a checked YAML description of a CNN → static plan → torch.nn.Module.

`load` and `plan` never import torch; `build` does. Each takes a path, the name of a
built-in spec (`"resnet50"`), or `"-"` for standard input, and `overrides=`. Every
name below is imported on first use, so `archspec --help` and `validate` pay only for
what they run.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from . import limits  # noqa: F401  (documented as archspec.limits; it imports nothing)

if TYPE_CHECKING:
    from .checkpoint import WriteError, load_model, save
    from .errors import Issue, SpecError, TorchMissing
    from .fuse import fuse
    from .pipeline import build, load, plan
    from .plan import Layer, Plan
    from .spec import Spec
    from .weights import WeightsError, load_weights

_EXPORTS = {"Issue": "errors", "SpecError": "errors", "TorchMissing": "errors", "Layer": "plan", "Plan": "plan",
            "plan": "pipeline", "Spec": "spec", "load": "pipeline", "build": "pipeline", "load_model": "checkpoint", "WeightsError": "weights",
            "save": "checkpoint", "WriteError": "checkpoint",
            "load_weights": "weights", "fuse": "fuse"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name == "__version__":
        from .version import version

        value = version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'archspec' has no attribute {name!r}")
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Importing the submodule `archspec.plan` makes Python set the package's `plan` to that
    module; the function of the same name, the public one, keeps the name."""

    def __setattr__(self, name: str, value) -> None:
        if not (isinstance(value, types.ModuleType) and name in _EXPORTS):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

