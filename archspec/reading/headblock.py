"""A `block` head: a block of the spec's `blocks:` on several maps of the network (a neck,
a decoder), its use checked when the spec is read. Which modules `from` names exist is known
only once the network is planned (planning/necks.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import did_you_mean, quoted
from .blockdefs import BlockDef, missing_param_issues, written_param_issue

if TYPE_CHECKING:
    from ..errors import Issue
    from .source import Source


def head_block_issues(source: Source, head: Any, blocks: dict[str, BlockDef]) -> list[Issue]:
    """The head's block must be written in the spec, take one input per name in `from`, and be
    given its parameters (each of its type); every problem located at its key."""
    block = blocks.get(head.block)
    if block is None:
        known = ", ".join(blocks) if blocks else "none: write one in `blocks:`"
        return [source.issue(("head", "block"), f"head.block: no block is called {quoted(head.block)}",
                             did_you_mean(head.block, blocks, then=f"the spec's blocks: {known}"), "AS802")]
    issues = []
    if len(block.inputs) != len(head.from_):
        issues.append(source.issue(("head", "from"), f"head.from: names {len(head.from_)} "
                                   f"module{'s' if len(head.from_) != 1 else ''}, but a {block.name} block takes "
                                   f"{len(block.inputs)} input{'s' if len(block.inputs) != 1 else ''} "
                                   f"({', '.join(block.inputs)})",
                                   "name one module per input of the block, in its order", "AS802"))
    given = head.block_params or {}
    issues += [i for key, value in given.items() if (i := written_param_issue(source, ("head", key), block, value))]
    return issues + missing_param_issues(source, ("head",), block, given)


def head_block_params(head: Any, blocks: dict[str, BlockDef]) -> dict[str, Any]:
    """The parameter values of the head's block: as written, else the block's defaults."""
    block = blocks[head.block]
    given = head.block_params or {}
    return {p.name: given.get(p.name, p.default) for p in block.params.values()}
