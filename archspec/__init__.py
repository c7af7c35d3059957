"""archspec: a checked YAML description of a CNN → static plan → torch.nn.Module.

`load` and `plan` never import torch; `build` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import limits
from .checkpoint import WriteError, load_model, save
from .errors import Issue, SpecError
from .plan import Layer, Plan, check_params, plan
from .spec import Spec, load
from .weights import WeightsError, load_weights

if TYPE_CHECKING:
    import torch

__version__ = "0.1.0"
__all__ = ["Issue", "Layer", "Plan", "Spec", "SpecError", "WeightsError", "WriteError", "build", "load", "load_model",
           "load_weights", "plan", "save"]


def build(spec, seed: int | None = None, device=None, input_shape=None,
          max_params: int | None = None, features: list[str] | None = None) -> "torch.nn.Module":
    """Compile a spec (a `Spec`, a `Plan` or a path) into a `torch.nn.Module`.

    `seed` makes the initial weights reproducible without touching the global RNG;
    `device="meta"` builds without allocating memory. A network with more than
    `max_params` parameters (default `limits.MAX_BUILD_PARAMS`) is refused with a
    SpecError before anything is allocated. `features=["layer2", "layer3", "layer4"]`
    builds a backbone that returns those maps (a `features` head) instead.
    """
    p = spec if isinstance(spec, Plan) else plan(spec, input_shape, features=features)
    check_params(p, limits.MAX_BUILD_PARAMS if max_params is None else max_params)
    from .compile import compile_plan

    model = compile_plan(p, seed=seed, device=device)
    model.archspec_plan = p  # the spec travels with the model: `archspec.save` writes it beside the weights
    return model
