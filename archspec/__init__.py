"""archspec: a checked YAML description of a CNN → static plan → torch.nn.Module.

`load` and `plan` never import torch; `build` does. Every name below is imported on
first use, so `archspec --help` and `validate` pay only for what they run.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

from . import limits  # noqa: F401  (documented as archspec.limits; it imports nothing)

if TYPE_CHECKING:
    import torch

    from .checkpoint import WriteError, load_model, save
    from .errors import Issue, SpecError, TorchMissing
    from .fuse import fuse
    from .plan import Layer, Plan, plan
    from .spec import Spec, load
    from .weights import WeightsError, load_weights

_EXPORTS = {"Issue": "errors", "SpecError": "errors", "TorchMissing": "errors", "Layer": "plan", "Plan": "plan",
            "plan": "plan", "Spec": "spec", "load": "spec", "load_model": "checkpoint", "save": "checkpoint",
            "WriteError": "checkpoint", "WeightsError": "weights",
            "load_weights": "weights", "fuse": "fuse"}
__all__ = sorted([*_EXPORTS, "build"])


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("archspec")  # pyproject.toml is the one place the version is written
        except PackageNotFoundError:  # a checkout used without installing it
            value = "unknown"
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


def build(spec, seed: int | None = None, device=None, input_shape=None,
          max_params: int | None = None, fuse: bool = False, features: list[str] | None = None) -> "torch.nn.Module":
    """Compile a spec (a `Spec`, a `Plan` or a path) into a `torch.nn.Module`.

    `seed` makes the initial weights reproducible without touching the global RNG;
    `device="meta"` builds without allocating memory. A network with more than
    `max_params` parameters (default `limits.MAX_BUILD_PARAMS`) is refused with a
    SpecError before anything is allocated. `fuse=True` gives the eval-only model of
    `archspec.fuse`. The model keeps its plan as `model.archspec_plan`. Without PyTorch
    installed it raises TorchMissing. `features=["layer2", "layer3", "layer4"]` builds a
    backbone that returns those maps (a `features` head) instead of the spec's head.
    """
    from . import limits
    from .errors import require_torch
    from .plan import Plan, check_params, plan

    p = spec if isinstance(spec, Plan) else plan(spec, input_shape, features=features)
    check_params(p, limits.MAX_BUILD_PARAMS if max_params is None else max_params)
    require_torch("archspec.build")
    from .compile import compile_plan
    from .fuse import fuse as fold  # the argument `fuse` hides the function here

    model = compile_plan(p, seed=seed, device=device)
    model.archspec_plan = p  # what fuse, eject and save read; a plain attribute, not in the state_dict
    return fold(model) if fuse else model
