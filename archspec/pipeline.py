"""The one pipeline every reader of a spec runs: reference → Source → Spec → Plan.

    read + compose (resolve.py) → schema (spec.py, messages.py) → plan (plan.py)

`load` and `plan` are `archspec.load` and `archspec.plan`; the command line, the
checks and the weights files call them too, so a spec means the same everywhere.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Union

import yaml

from . import limits
from .errors import Issue, SpecError, require_torch
from .planning.nodes import Shape
from .reading.messages import check_tree
from .planning.plan import Plan, check_params, plan_spec
from .reading.resolve import Folders, resolve, without_composition
from .reading.source import Source
from .reading.space import is_space, read_space
from .reading.spec import Spec

if TYPE_CHECKING:
    import torch

SpecRef = Union[str, os.PathLike, Source, Spec]  # a path, a built-in name, "-" (stdin), parsed text or a Spec
Overrides = Union[dict[str, Any], list[str], None]  # {"stages.2.depth": 23} or ["stages.2.depth=23"]


def load(ref: SpecRef, overrides: Overrides = None, *, extends_from: Folders = (),
         allow_extends: bool = True) -> Spec:
    """The checked Spec that `ref` names, with `overrides` applied; raise SpecError with every
    problem found. A Spec with overrides gives a new Spec (the original is unchanged).

    `extends` reads built-in specs and files in the spec's own folder tree; `extends_from`
    names more folders it may read. `allow_extends=False` refuses `extends` altogether (for a
    spec from a weights file, which is complete)."""
    if not isinstance(ref, (str, os.PathLike, Source, Spec)):
        raise TypeError(f"spec: expected a Spec, a path, a built-in spec's name or '-', got {type(ref).__name__}")
    if isinstance(ref, Spec):
        if not overrides:
            return ref
        ref = ref.source or _as_source(ref)
    source = resolve(ref, overrides, extends_from=extends_from, allow_extends=allow_extends)
    if is_space(source.tree):
        read_space(source)  # its own errors first, located
        raise SpecError([Issue(source.path, None, None, "this is a design space: its values are distributions",
                               "`archspec sample` draws networks from it", "AS931")])
    spec = check_tree(source)
    if spec is None:
        name = ref.path if isinstance(ref, Source) else os.fsdecode(ref)
        raise SpecError([Issue(name, None, None, "this spec is abstract: only a base for other specs",
                               "write a spec with `extends:` naming it, and build that", "AS705")])
    return spec


def plan(spec: SpecRef | Plan, input_shape: Shape | None = None, overrides: Overrides = None,
         features: list[str] | None = None, *, extends_from: Folders = (), allow_extends: bool = True) -> Plan:
    """Every shape, parameter count and MAC of the spec `spec` names; never imports torch.
    `features=["layer2", "layer3", "layer4"]` plans a backbone returning those maps instead.
    `extends_from` and `allow_extends` are `load`'s."""
    if isinstance(spec, Plan):
        if input_shape is None and not overrides and features is None:
            return spec
        spec = spec.spec
    return plan_spec(load(spec, overrides, extends_from=extends_from, allow_extends=allow_extends),
                     input_shape, features)


def build(spec: SpecRef | Plan, seed: int | None = None, device=None, input_shape: Shape | None = None,
          max_params: int | None = None, fuse: bool = False, overrides: Overrides = None,
          features: list[str] | None = None, num_classes: int | None = None, *, extends_from: Folders = (),
          allow_extends: bool = True) -> "torch.nn.Module":
    """Compile a spec (a `Spec`, a `Plan`, a path or a built-in name) into a `torch.nn.Module`.

    `seed` makes the initial weights reproducible without touching the global RNG;
    `device="meta"` builds without allocating memory. A network with more than
    `max_params` parameters (default `limits.MAX_BUILD_PARAMS`) is refused with a
    SpecError before anything is allocated. `fuse=True` gives the eval-only model of
    `archspec.fuse`. The model keeps its plan as `model.archspec_plan`. Without PyTorch
    installed it raises TorchMissing. `features=["layer2", "layer3", "layer4"]` builds a
    backbone that returns those maps (a `features` head) instead of the spec's head.
    `num_classes=10` sets the head's classes (as timm's `create_model`): the override
    `{"head.classes": 10}`, checked as any other.
    `extends_from` and `allow_extends` are `load`'s.
    """
    if seed is not None and not (type(seed) is int and 0 <= seed < 2**64):
        raise ValueError(f"seed: expected a whole number from 0 to 2**64 - 1, got {seed!r}")
    if max_params is not None and not (type(max_params) is int and max_params >= 1):
        raise ValueError(f"max_params: expected a whole number ≥ 1, got {max_params!r}")
    if num_classes is not None and not (type(num_classes) is int and num_classes >= 1):
        raise ValueError(f"num_classes: expected a whole number ≥ 1, got {num_classes!r}")
    if num_classes is not None:
        overrides = _with_classes(overrides, num_classes)
    p = plan(spec, input_shape, overrides, features, extends_from=extends_from, allow_extends=allow_extends)
    check_params(p, limits.MAX_BUILD_PARAMS if max_params is None else max_params)
    require_torch("archspec.build")
    from .building.compile import compile_plan
    from .building.fuse import fuse as fold  # the argument `fuse` hides the function here

    model = compile_plan(p, seed=seed, device=device)
    model.archspec_plan = p  # what fuse, eject and save read; a plain attribute, not in the state_dict
    return fold(model) if fuse else model


def _with_classes(overrides: Overrides, classes: int) -> Overrides:
    if isinstance(overrides, dict) or not overrides:
        return {**(overrides or {}), "head.classes": classes}
    return [*overrides, f"head.classes={classes}"]


def _as_source(spec: Spec) -> Source:
    """A Spec made in Python as a tree to compose onto: its settings, no positions."""
    tree = without_composition(spec.model_dump(mode="python", exclude_none=True))
    return Source(spec.name, yaml.safe_dump(tree, sort_keys=False), tree, {}, {})
