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

    from .checkpoint import load_model
    from .errors import Issue, SpecError, TorchMissing
    from .plan import Layer, Plan, plan
    from .spec import Spec, load
    from .weights import WeightsError, load_weights

_EXPORTS = {"Issue": "errors", "SpecError": "errors", "TorchMissing": "errors", "Layer": "plan", "Plan": "plan",
            "plan": "plan", "Spec": "spec", "load": "spec", "load_model": "checkpoint", "WeightsError": "weights",
            "load_weights": "weights"}
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
          max_params: int | None = None) -> "torch.nn.Module":
    """Compile a spec (a `Spec`, a `Plan` or a path) into a `torch.nn.Module`.

    `seed` makes the initial weights reproducible without touching the global RNG;
    `device="meta"` builds without allocating memory. A network with more than
    `max_params` parameters (default `limits.MAX_BUILD_PARAMS`) is refused with a
    SpecError before anything is allocated. Without PyTorch installed it raises
    TorchMissing.
    """
    from .errors import require_torch
    from .plan import Plan, check_params, plan

    if seed is not None and not (type(seed) is int and 0 <= seed < 2**64):
        raise ValueError(f"seed: expected a whole number from 0 to 2**64 - 1, got {seed!r}")
    if max_params is not None and not (type(max_params) is int and max_params >= 1):
        raise ValueError(f"max_params: expected a whole number ≥ 1, got {max_params!r}")
    p = spec if isinstance(spec, Plan) else plan(spec, input_shape)
    check_params(p, limits.MAX_BUILD_PARAMS if max_params is None else max_params)
    require_torch("archspec.build")
    from .compile import compile_plan

    return compile_plan(p, seed=seed, device=device)
