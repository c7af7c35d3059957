"""Block layouts: the plan nodes of one block of each kind declared in planning/kinds.py,
one file per family. A module here that defines `LAYOUTS` (kind name → layout function),
and `TRANSITIONS` for kinds with a module between stages, is found by itself.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..kinds import KINDS
from .placement import Layout, Placement, Transition


def _found(name: str) -> dict:
    found = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        found.update(getattr(importlib.import_module(f"{__name__}.{module.name}"), name, {}))
    return found


LAYOUTS: dict[str, Layout] = _found("LAYOUTS")
TRANSITIONS: dict[str, Transition] = _found("TRANSITIONS")
if set(LAYOUTS) != set(KINDS) or {k for k in KINDS if KINDS[k].transition} != set(TRANSITIONS):
    raise TypeError(f"block kinds declared and laid out differ: {sorted(set(LAYOUTS) ^ set(KINDS))}")

__all__ = ["LAYOUTS", "TRANSITIONS", "Layout", "Placement", "Transition"]
