"""archspec: a checked YAML description of a CNN → static plan → torch.nn.Module.

`load` and `plan` never import torch; `build` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .checkpoint import load_model
from .errors import Issue, SpecError
from .plan import Layer, Plan, plan
from .spec import Spec, load
from .weights import WeightsError, load_weights

if TYPE_CHECKING:
    import torch

__version__ = "0.1.0"
__all__ = ["Issue", "Layer", "Plan", "Spec", "SpecError", "WeightsError", "build", "load", "load_model", "load_weights",
           "plan"]


def build(spec, seed: int | None = None, device=None, input_shape=None) -> "torch.nn.Module":
    """Compile a spec (a `Spec`, a `Plan` or a path) into a `torch.nn.Module`.

    `seed` makes the initial weights reproducible without touching the global RNG;
    `device="meta"` builds without allocating memory.
    """
    from .compile import compile_plan

    p = spec if isinstance(spec, Plan) else plan(spec, input_shape)
    return compile_plan(p, seed=seed, device=device)
