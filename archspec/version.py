"""archspec's version, read from the installed package's metadata (pyproject.toml writes it once)."""

from importlib.metadata import PackageNotFoundError, version as _installed


def version() -> str:
    try:
        return _installed("archspec")
    except PackageNotFoundError:  # a checkout used without installing it
        return "unknown"
