"""The primitives, each declared once as a `Primitive` record (record.py): its shape rule,
parameters, MACs, `state_dict` tensors, what it saves for backward, its torch module, its
ejected source, its role, whether a BatchNorm folds into it, and what a node of a block
written in a spec may write to name it (`written`: its arguments, inputs, outputs). The
planner, tensors.py, memory.py, compile.py, fuse.py, eject, the block kinds and the reader
of spec blocks (reading/blockdefs.py's `ops()`) ask the record, never a kind's name.

Adding a primitive = one record plus its tests: a module in this package that defines
`RECORDS` is found here by itself; with `written`, a spec's block may name it (`op:`), its
arguments passed as the spec writes them. Where torch has no module for it, its class goes
in archspec/building/modules.py (eject copies it from there). tests/test_primitives.py then
checks the record whole, and that its plan equals a forward pass. No torch here.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..nodes import Node
from .record import ROLES, Arg, Code, Op, Primitive, Role, Tensor


def _declared() -> dict[str, Primitive]:
    found: dict[str, Primitive] = {}
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        for record in getattr(importlib.import_module(f"{__name__}.{module.name}"), "RECORDS", ()):
            if found.setdefault(record.kind, record) is not record:
                raise TypeError(f"primitive {record.kind!r} is declared twice")
    return found


PRIMITIVES: dict[str, Primitive] = _declared()


def record(node: Node) -> Primitive:
    """The record of primitive node `node` (a KeyError for a container)."""
    return PRIMITIVES[node.kind]


def role(node: Node) -> str | None:
    """What `node` does (conv, norm, act …); None for a container."""
    found = PRIMITIVES.get(node.kind)
    return found.role if found else None


__all__ = ["PRIMITIVES", "ROLES", "Arg", "Code", "Op", "Primitive", "Role", "Tensor", "record", "role"]
