"""Folded inference: each BatchNorm folded into the conv that feeds it.

In eval mode a BatchNorm is an affine map per channel, so the conv before it can
absorb it: w' = w·γ/σ, b' = (b − μ)·γ/σ + β. The plan says which conv feeds which
norm, so no tracing is needed: within a sequence the plan runs in order (a
`sequential`'s children; a residual block's `pre`, `main` and `post`; a graph's node
fed by one that feeds nothing else), a norm that
folds (its record says so: a BatchNorm) whose predecessor ends in a primitive that
absorbs a norm (a conv) is folded into it. A norm with no conv before it (the
pre-activation of a ResNet v2 block) stays, in eval mode.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from ..planning.nodes import Node
from ..planning.plan import Plan
from ..planning.primitives import PRIMITIVES

if TYPE_CHECKING:
    from torch import nn


def fuse(model: "nn.Module", plan: Plan | None = None) -> "nn.Module":
    """An eval-mode copy of `model` with every foldable BatchNorm folded into its conv and
    replaced by `nn.Identity`; `model` itself is left as it was. `plan` defaults to the one
    `archspec.build` attached to the model. Without PyTorch it raises TorchMissing, as build does."""
    from ..errors import require_torch

    require_torch("archspec.fuse")
    import torch
    from torch import nn

    plan = plan or plan_of(model, "fuse")
    fused = copy.deepcopy(model).eval()
    with torch.no_grad():
        for conv_name, norm_name in conv_norm_pairs(plan.root):
            conv, norm = fused.get_submodule(conv_name), fused.get_submodule(norm_name)
            if norm.running_var is None:  # no running statistics: it normalises by the batch's
                continue
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
            conv.weight.mul_(scale.reshape(-1, *[1] * (conv.weight.dim() - 1)))
            conv.bias = nn.Parameter((bias - norm.running_mean) * scale + norm.bias)
            parent, _, name = norm_name.rpartition(".")
            setattr(fused.get_submodule(parent), name, nn.Identity())
    return fused


def plan_of(model, what: str) -> Plan:
    """The plan `archspec.build` attached to `model`; a clear error for any other module."""
    p = getattr(model, "archspec_plan", None)
    if not isinstance(p, Plan):
        raise TypeError(f"{what} needs a model made by archspec.build or archspec.load_model "
                        f"(a {type(model).__name__} has no plan attached); pass plan=archspec.plan(...)")
    return p


def conv_norm_pairs(root: Node) -> list[tuple[str, str]]:
    """(conv, norm) module names, each foldable norm fed by that conv alone. Pure Python."""
    pairs: list[tuple[str, str]] = []
    _collect(root, "", pairs)
    return pairs


def _collect(node: Node, prefix: str, pairs: list[tuple[str, str]]) -> None:
    by_name = {c.name: c for c in node.children}
    if node.kind in ("sequential", "features"):  # a features head runs its modules in order too
        sequences = [[c.name for c in node.children]]
    elif node.kind == "residual":
        sequences = [node.args["pre"], node.args["main"], node.args["post"]]
    elif node.kind == "graph":  # each node fed by one other that feeds nothing else, nor is returned
        refs = [r for _, inputs in node.args["wiring"] for r in inputs] + node.args["outputs"]
        sequences = [[inputs[0], name] for name, inputs in node.args["wiring"]
                     if len(inputs) == 1 and inputs[0] in by_name and refs.count(inputs[0]) == 1]
    else:
        sequences = []  # a container this file does not know: its norms stay unfolded
    returned = set(node.args.get("outputs", ())) if node.kind == "features" else set()
    for names in sequences:
        for before, name in zip(names, names[1:]):
            conv = _last_conv(by_name[before], prefix + before)
            after = PRIMITIVES.get(by_name[name].kind)
            if after and after.folds and conv and before not in returned:  # its map is returned as is
                pairs.append((conv, prefix + name))
    for child in node.children:
        _collect(child, prefix + child.name + ".", pairs)


def _last_conv(node: Node, name: str) -> str | None:
    """The conv whose output is `node`'s output, if any (the last of a sequential)."""
    primitive = PRIMITIVES.get(node.kind)
    if primitive is not None:
        return name if primitive.absorbs_norm else None
    if node.kind == "sequential" and node.children:
        last = node.children[-1]
        return _last_conv(last, f"{name}.{last.name}")
    return None
