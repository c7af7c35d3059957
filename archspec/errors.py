"""One exception type for every problem a spec can have, each with a location."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Control characters, and the invisible ones that reorder text (bidi overrides):
# a spec could use them to rewrite the reader's terminal, so they are printed escaped.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Issue:
    """One problem found in a spec: where it is, what is wrong, how to fix it."""

    file: str
    line: int | None
    column: int | None
    message: str
    hint: str = ""
    code: str = "AS000"
    severity: str = "error"  # "error" | "warning" | "note" (a file `validate` skipped)

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        text = f"{where}: {self.severity}: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return printable(text)


def printable(text: str) -> str:
    """`text` with control and bidi characters escaped ('\\x1b'), safe to print to a terminal."""
    return _UNPRINTABLE.sub(lambda m: ascii(m[0])[1:-1], text)


def did_you_mean(value, options: Iterable[str], then: str = "") -> str:
    """"did you mean 'x'?" naming the option nearest `value`, followed by `then`; only `then` (or "")
    when no option is near."""
    import difflib  # for a message only: not on every command's start-up

    close = difflib.get_close_matches(str(value), list(options), n=1)
    return " ".join(part for part in (f"did you mean '{close[0]}'?" if close else "", then) if part)


def quoted(value) -> str:
    """A value as a message quotes it: short, and in YAML's words for the non-scalars."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def in_order(issues: list[Issue]) -> list[Issue]:
    """Issues by file, then line and column; file-level issues (no line) first."""
    return sorted(issues, key=lambda i: (i.file, i.line or 0, i.column or 0))


class SpecError(Exception):
    """Raised for a spec that cannot be loaded, validated or planned.

    Carries every issue found, not only the first, in file and line order.
    """

    def __init__(self, issues: list[Issue]):
        self.issues = in_order(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


# PyPI's default torch on Linux is a multi-GB CUDA build: the hint names the CPU one.
INSTALL_TORCH = ("pip install torch --index-url https://download.pytorch.org/whl/cpu, "
                 "then pip install 'archspec-nn[torch]'")


class TorchMissing(ImportError):
    """Raised where a feature needs the `torch` extra (torch, safetensors) and it is not installed."""


def require_torch(what: str) -> None:
    """Raise TorchMissing, naming `what`, unless torch and safetensors (the `torch` extra) are
    installed. Finds them without importing them, so a command can ask before its other checks."""
    from importlib.util import find_spec

    missing = [name for name in ("torch", "safetensors") if find_spec(name) is None]
    if missing:
        raise TorchMissing(f"{what} needs PyTorch: {INSTALL_TORCH} "
                           f"({' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not installed)")
