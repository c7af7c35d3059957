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
    from .commands.catalog import list_models
    from .commands.fit import fit
    from .commands.sample import sample

_EXPORTS = {  # name → the module that defines it
    "Issue": "errors", "SpecError": "errors", "TorchMissing": "errors",
    "Spec": "reading.spec", "Layer": "planning.plan", "Plan": "planning.plan",
    "load": "pipeline", "plan": "pipeline", "build": "pipeline", "list_models": "commands.catalog",
    "fuse": "building.fuse", "load_weights": "building.weights", "WeightsError": "building.weights",
    "save": "building.checkpoint", "load_model": "building.checkpoint", "WriteError": "building.checkpoint",
    "fit": "commands.fit", "sample": "commands.sample",
}
__all__ = sorted(_EXPORTS)


def __dir__() -> list[str]:
    """The API, though its names are imported only on first use, and not this module's own helpers."""
    return sorted({*_EXPORTS, "limits", "__version__", *(name for name in globals() if name.startswith("__"))})


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
