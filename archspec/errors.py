"""One exception type for every problem a spec can have, each with a location."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem found in a spec: where it is, what is wrong, how to fix it."""

    file: str
    line: int | None
    column: int | None
    message: str
    hint: str = ""
    code: str = "AS000"
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        text = f"{where}: {self.severity}: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text


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
