"""archspec: a checked YAML description of a CNN → static plan → torch.nn.Module.

`load` and `plan` never import torch; `build` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import limits
from .checkpoint import load_model
from .errors import Issue, SpecError
from .fuse import fuse
from .plan import Layer, Plan, check_params, plan
from .spec import Spec, load
from .weights import WeightsError, load_weights

if TYPE_CHECKING:
    import torch

__version__ = "0.1.0"
__all__ = ["Issue", "Layer", "Plan", "Spec", "SpecError", "WeightsError", "build", "fuse", "load", "load_model",
           "load_weights", "plan"]


def build(spec, seed: int | None = None, device=None, input_shape=None,
          max_params: int | None = None, fuse: bool = False) -> "torch.nn.Module":
    """Compile a spec (a `Spec`, a `Plan` or a path) into a `torch.nn.Module`.

    `seed` makes the initial weights reproducible without touching the global RNG;
    `device="meta"` builds without allocating memory. A network with more than
    `max_params` parameters (default `limits.MAX_BUILD_PARAMS`) is refused with a
    SpecError before anything is allocated. `fuse=True` gives the eval-only model of
    `archspec.fuse`. The model keeps its plan as `model.archspec_plan`.
    """
    p = spec if isinstance(spec, Plan) else plan(spec, input_shape)
    check_params(p, limits.MAX_BUILD_PARAMS if max_params is None else max_params)
    from .compile import compile_plan
    from .fuse import fuse as fold  # the argument `fuse` hides the function here

    model = compile_plan(p, seed=seed, device=device)
    model.archspec_plan = p  # what fuse, eject and save read; a plain attribute, not in the state_dict
    return fold(model) if fuse else model
