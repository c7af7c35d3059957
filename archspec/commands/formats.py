"""Issues as text for people, JSON for tools, and GitHub Actions workflow commands."""

from __future__ import annotations

import json

from ..errors import Issue

ISSUE_STYLES = ("text", "json", "github")


def render(issues: list[Issue], style: str) -> str:
    """All `issues` in `style` (one of ISSUE_STYLES); '' for text and github when there are none."""
    return {"text": text, "json": as_json, "github": github}[style](issues)


def text(issues: list[Issue]) -> str:
    """`path:line:column: error: message — hint`, one per line."""
    return "\n".join(str(i) for i in issues)


def as_json(issues: list[Issue]) -> str:
    """A JSON list of {file, line, column, severity, code, message, hint}; line and column may be null."""
    return json.dumps([{"file": i.file, "line": i.line, "column": i.column, "severity": i.severity,
                        "code": i.code, "message": i.message, "hint": i.hint} for i in issues],
                      indent=2, ensure_ascii=False)


def github(issues: list[Issue]) -> str:
    """`::error file=…,line=…,col=…,title=…::message — hint` (or ::warning, ::notice): GitHub shows these on the pull request's diff."""
    return "\n".join(_command(i) for i in issues)


def _command(issue: Issue) -> str:
    props = {"file": issue.file, "line": issue.line, "col": issue.column, "title": f"archspec {issue.code}"}
    fields = ",".join(f"{k}={_escape_property(str(v))}" for k, v in props.items() if v is not None)
    message = issue.message + (f" — {issue.hint}" if issue.hint else "")
    level = "notice" if issue.severity == "note" else issue.severity  # the runner's three levels
    return f"::{level} {fields}::{_escape_data(message)}"


def _escape_data(s: str) -> str:
    # the runner's own escaping (actions/toolkit, command.ts): a message stays one command
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")
