"""Block kinds, one file each, each declared once as a `Kind` (kind.py): the settings it
accepts, whether it pre-activates, when it adds its input back, how it is initialised,
and its layout (the plan nodes of one block). The schema's list of kinds, the "does not
apply to this block kind" error, the README's table of kinds, the planner and the
initialisation all derive from these declarations.

Adding a kind = one new file + its tests + its specs: a module in this package that
defines `KIND` (or `KINDS`) is found here by itself.
"""

from __future__ import annotations

import importlib
import pkgutil

from .kind import INIT_SCHEMES, NETWORK, Kind, Placement, Setting


def _declared() -> dict[str, Kind]:
    kinds = []
    for module in pkgutil.iter_modules(__path__):
        found = importlib.import_module(f"{__name__}.{module.name}")
        kinds += getattr(found, "KINDS", ()) or ([found.KIND] if hasattr(found, "KIND") else [])
    return {k.name: k for k in sorted(kinds, key=lambda k: k.name)}


def _settings(kinds: dict[str, Kind]) -> dict[str, Setting]:
    """Every block setting by name; two kinds that share a name share its declaration."""
    settings: dict[str, Setting] = {s.name: s for s in NETWORK}
    for kind in kinds.values():
        for s in kind.settings:
            if settings.setdefault(s.name, s) != s:
                raise TypeError(f"block kind {kind.name} declares `{s.name}` differently from another kind")
    return settings


KINDS: dict[str, Kind] = _declared()
SETTINGS: dict[str, Setting] = _settings(KINDS)


def applies(setting: str, kind: str) -> bool:
    """Whether block kind `kind` has a use for `setting`."""
    return setting in {s.name for s in NETWORK} or setting in {s.name for s in KINDS[kind].settings}


def kinds_table() -> str:
    """The README's table of block kinds, as Markdown."""
    rows = [f"| `{k.name}` | {k.summary} |" for k in KINDS.values()]
    return "\n".join(["| kind | what it is |", "|---|---|", *rows])


__all__ = ["INIT_SCHEMES", "KINDS", "SETTINGS", "Kind", "Placement", "Setting", "applies", "kinds_table"]
