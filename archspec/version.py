"""archspec's version, read from the installed distribution's metadata (pyproject.toml writes it once)."""

import re
from importlib.metadata import PackageNotFoundError, version as _installed
from pathlib import Path

# The distribution's name; the import package and the command are `archspec`, a name PyPI gives another project.
DISTRIBUTION = "archspec-nn"


def version() -> str:
    try:
        return _installed(DISTRIBUTION)  # never "archspec": that would be the other project's version
    except PackageNotFoundError:  # a checkout used without installing it: its pyproject.toml
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
        found = re.search(r'^version = "([^"]+)"', text, re.M) if f'name = "{DISTRIBUTION}"' in text else None
        return found.group(1) if found else "unknown"
