"""archspec: a checked YAML description of a CNN → static plan → torch.nn.Module.

`load` and `plan` never import torch; `build` does. Each takes a path, the name of a
built-in spec (`"resnet50"`), or `"-"` for standard input, and `overrides=`. Every
name below is imported on first use, so `archspec --help` and `validate` pay only for
what they run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from . import limits  # noqa: F401  (documented as archspec.limits; it imports nothing)

if TYPE_CHECKING:
    from .building.checkpoint import WriteError, load_model, save
    from .errors import Issue, SpecError, TorchMissing
    from .building.fuse import fuse
    from .pipeline import build, load, plan
    from .planning.plan import Layer, Plan
    from .reading.spec import Spec
    from .building.weights import WeightsError, load_weights
    from .commands.fit import fit
    from .commands.sample import sample

_EXPORTS = {"Issue": "errors", "SpecError": "errors", "TorchMissing": "errors", "Layer": "planning.plan", "Plan": "planning.plan",
            "plan": "pipeline", "Spec": "reading.spec", "load": "pipeline", "build": "pipeline", "load_model": "building.checkpoint", "WeightsError": "building.weights",
            "save": "building.checkpoint", "WriteError": "building.checkpoint",
            "load_weights": "building.weights", "fuse": "building.fuse", "fit": "commands.fit",
            "sample": "commands.sample"}
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
