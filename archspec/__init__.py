"""archspec: a checked YAML description of a CNN → static plan → torch.nn.Module.

`load` and `plan` never import torch; `build` does. Each takes a path, the name of a
built-in spec (`"resnet50"`), or `"-"` for standard input, and `overrides=`.
"""

from . import limits
from .checkpoint import load_model
from .errors import Issue, SpecError
from .pipeline import build, load, plan
from .plan import Layer, Plan
from .spec import Spec
from .version import __version__
from .weights import WeightsError, load_weights

__all__ = ["Issue", "Layer", "Plan", "Spec", "SpecError", "WeightsError", "__version__", "build", "load",
           "load_model", "load_weights", "plan"]
