"""Which files `archspec validate` checks: the specs named, and those found under folders.

A folder in a repository holds more YAML than specs (CI workflows, training configs): its
hidden files and folders are skipped, as are paths matching `--exclude`, and a YAML file
without an `archspec:` key is noted once and not checked.
"""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path, PurePath

from .. import limits
from ..errors import Issue, SpecError

SUFFIXES = (".yaml", ".yml")
_TOP_LEVEL_SPEC_KEY = re.compile(rb"(?m)^(archspec|extends)[ \t]*:")  # at column 0: not a nested `extends:`


def spec_files(refs: list[str], exclude: list[str] = ()) -> tuple[list[str], list[Issue]]:
    """The specs named or found under folders in `refs`, and issues: notes for the YAML files
    skipped, errors for paths that give no spec."""
    from ..reading.resolve import is_name

    files, issues = [], []
    for name in refs:
        path = Path(name)
        if path.is_dir():
            found, notes = _in_folder(path, exclude)
            issues += notes
            if not found:
                what = "no *.yaml or *.yml files in this folder"
                if notes:
                    what = f"no archspec specs in this folder ({len(notes)} other YAML file{'s' * (len(notes) > 1)})"
                issues.append(Issue(name, None, None, what, code="AS100"))
            files += found
        elif _excluded(PurePath(name), exclude):
            continue
        elif path.exists() or name == "-" or is_name(name):  # names are looked up when read
            files.append(name)
        else:
            issues.append(Issue(name, None, None, "no such file or folder", code="AS100"))
    return files, issues


def _in_folder(folder: Path, exclude: list[str]) -> tuple[list[str], list[Issue]]:
    files, notes = [], []
    for path in sorted(folder.rglob("*")):
        inside = path.relative_to(folder)
        if (path.suffix not in SUFFIXES or any(part.startswith(".") for part in inside.parts)
                or _excluded(inside, exclude) or _excluded(path, exclude) or not path.is_file()):
            continue
        if _other_yaml(path):
            notes.append(Issue(str(path), None, None, "not an archspec spec (no `archspec:` key): not checked",
                               "add `archspec: 1` to check it, or --exclude it", "AS105", "note"))
        else:
            files.append(str(path))
    return files, notes


def _excluded(path: PurePath, exclude: list[str]) -> bool:
    """Whether `path`, or a folder it is in, matches one of the `exclude` globs: a glob with a
    '/' matches from the start of the path, one without matches any single name in it (as in
    .gitignore: `--exclude configs` skips every folder named configs)."""
    parts = path.parts
    return any(fnmatch(PurePath(*parts[:n]).as_posix(), glob) if "/" in glob else fnmatch(part, glob)
               for glob in exclude for n, part in enumerate(parts, 1))


def _other_yaml(path: Path) -> bool:
    """A readable YAML mapping with neither `archspec:` nor `extends:` (a spec that extends another
    may leave out `archspec:`): some other tool's file. Anything that does not parse is checked
    as a spec, so that its errors are reported."""
    from ..reading.source import load_source

    try:
        with open(path, "rb") as f:  # a top-level spec key at a line's start: a spec, no need to parse it twice
            if _TOP_LEVEL_SPEC_KEY.search(f.read(limits.MAX_FILE_BYTES + 1)):
                return False
    except OSError:
        return False
    try:
        tree = load_source(path).tree
    except SpecError:
        return False
    return isinstance(tree, dict) and "archspec" not in tree and "extends" not in tree
