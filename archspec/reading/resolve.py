"""A spec reference → one Source: read it, follow `extends`, apply `scale` and `--set`.

A reference is a path, the name of a built-in spec (anything without `/` and without
a .yaml/.yml suffix; a path that exists wins), or `-` for standard input. Composition
keeps the Source's two position maps true: every value still knows the file, line and
column that set it, or the `--set` option, so every later error is located through
them (`Source.locate`). Merge rules (the README has the table):

- mappings merge key by key, recursively;
- a list replaces the base's list whole;
- a mapping whose keys are all numbers edits the base's list by index, from 0
  (`stages: {2: {depth: 23}}`); `null` as an item removes it;
- `null` removes the base's value (back to the default);
- `scale:` multiplies depths and channels once the chain is merged;
- `--set KEY=VALUE` is one more child on top of the chain, applied before `scale`.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import difflib
import math
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Union

from .. import limits
from ..errors import Issue, SpecError
from .messages import check_scale, check_tree
from .regnet import make_divisible
from .source import MISSING, NOT_A_SPEC, STDIN, Origin, Source, load_source, parse_value, read_stdin

SPECS = Path(__file__).parent.parent / "specs"  # the shipped specs (a link to the repository's specs/, packaged)
SPACES = SPECS / "spaces"  # the shipped design spaces
ABSTRACT = "abstract"  # a spec that says `abstract: true` is only a base for others
COMPOSITION = ("extends", "scale", ABSTRACT)  # keys consumed while resolving: never in a resolved spec
ROOTS_VARIABLE = "ARCHSPEC_EXTENDS_ROOTS"  # more folders `extends` may read, separated by os.pathsep

Ref = Union[str, os.PathLike, Source]
Positions = dict[tuple, Origin]
Folders = Iterable[Union[str, os.PathLike]]

_EXTRA_ROOTS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("extends_roots", default=())


def without_composition(tree: dict) -> dict:
    """A resolved tree as a spec to compose onto: `extends`, `scale` and `abstract` were applied."""
    return {k: v for k, v in tree.items() if k not in COMPOSITION}


@contextlib.contextmanager
def extends_roots(folders: Folders) -> Iterator[None]:
    """Within the block, `extends` may also read files under `folders` (what the command line's
    --allow-extends-outside gives)."""
    token = _EXTRA_ROOTS.set((*_EXTRA_ROOTS.get(), *map(os.fsdecode, folders)))
    try:
        yield
    finally:
        _EXTRA_ROOTS.reset(token)


# ---- references ---------------------------------------------------------------------

@lru_cache(maxsize=1)
def builtin_specs() -> dict[str, Path]:
    """Built-in spec name → file: every .yaml under the shipped specs/, by file stem (the design
    spaces under specs/spaces/ are not specs: `archspec sample` finds them)."""
    return dict(sorted((path.stem, path) for path in SPECS.rglob("*.yaml") if path.parent != SPACES))


def is_name(ref: str) -> bool:
    """Whether `ref` has the form of a built-in spec's name (it is one only if no such path exists)."""
    return ref != "-" and "/" not in ref and os.sep not in ref and not ref.endswith((".yaml", ".yml"))


def builtin_label(path: Path) -> str:
    """How errors name a built-in spec's file: a path the user can open (relative to the working
    folder when it is under it, as in a checkout; else where it is installed)."""
    return _short(os.path.realpath(path))


def read(ref: str | os.PathLike) -> tuple[Source, str | None]:
    """The Source of one spec named on the command line or in the API (no composition), and its
    path (None for stdin)."""
    text = os.fsdecode(ref)
    if text == "-":
        return read_stdin(), None
    if os.path.lexists(text) or not is_name(text):
        return load_source(text), text
    builtin = builtin_specs().get(text)
    if builtin is None:
        close = difflib.get_close_matches(text, builtin_specs(), n=3)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "`archspec list` shows them"
        raise SpecError([Issue(text[:200], None, None, "no such file, and no built-in spec has this name",
                               hint, "AS703")])
    return load_source(builtin, label=builtin_label(builtin)), str(builtin)


class _Reader:
    """Reads the bases of one spec: only built-in specs and files under its roots (the spec's own
    folder, the built-ins' folder, and the folders the caller allows), each file once per
    content (a base shared by many specs is parsed once)."""

    def __init__(self, top: str | None, extends_from: Folders, allowed: bool):
        self.allowed = allowed
        self.own = os.path.realpath(os.path.dirname(top) or ".") if top else None
        extra = [*map(os.fsdecode, extends_from), *_EXTRA_ROOTS.get(),
                 *filter(None, os.environ.get(ROOTS_VARIABLE, "").split(os.pathsep))]
        self.roots = [r for r in (self.own, os.path.realpath(SPECS), *map(os.path.realpath, extra)) if r]
        self.extra = extra

    def where(self) -> str:
        """The places `extends` reads, for messages."""
        places = [f"{_short(self.own)} (this spec's folder)"] if self.own else []
        places += ["the built-in specs", *map(_short, self.extra)]
        return ", ".join(places[:-1]) + " and " + places[-1] if len(places) > 1 else places[0]

    def read(self, ref: str, folder: str | None, at: Origin) -> tuple[Source, str]:
        """The base `ref` (written in a spec whose file is in `folder`; None for stdin) and its path."""
        if not self.allowed:
            raise SpecError([Issue(*at, "extends is not allowed here: a spec recorded in a weights file is "
                                        "complete", "record the resolved spec (archspec.save does)", "AS707")])
        path = os.path.join(folder or ".", ref)
        if is_name(ref) and not (folder and os.path.lexists(path)):
            return self._builtin(ref, folder, at)
        real = os.path.realpath(path)
        if not any(_inside(real, root) for root in self.roots):
            if folder is None:
                message = f"extends {_shown(ref)}: a spec read from standard input may extend only built-in specs"
            else:
                message = f"extends {_shown(ref)}, which is outside the folders bases are read from: {self.where()}"
            raise SpecError([Issue(*at, message, "move the base into the spec's folder tree, or allow its folder: "
                                   f"--allow-extends-outside DIR, or {ROOTS_VARIABLE}", "AS708")])
        return _cached_source(real, path, at, ref), path

    def _builtin(self, ref: str, folder: str | None, at: Origin) -> tuple[Source, str]:
        builtin = builtin_specs().get(ref)
        if builtin is not None:
            return _cached_source(os.path.realpath(builtin), builtin_label(builtin), at, ref), str(builtin)
        beside = [f"./{ref}{suffix}" for suffix in (".yaml", ".yml")
                  if folder and os.path.isfile(os.path.join(folder, ref + suffix))]
        close = difflib.get_close_matches(ref, builtin_specs(), n=3)
        hint = (f"did you mean `{beside[0]}`?" if beside else
                f"did you mean {' or '.join(repr(c) for c in close)}?" if close else "`archspec list` shows them")
        looked = f"no built-in spec has this name, and {folder or '.'} has no file {_shown(ref)}"
        raise SpecError([Issue(*at, f"extends {_shown(ref)}, which is not available: {looked}", hint, "AS700")])


def _short(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


_CACHE: dict[tuple, Source] = {}  # (real path, device, inode, size, mtime) -> its parsed Source
_CACHE_SIZE = 256


def _cached_source(real: str, label: str, at: Origin, ref: str) -> Source:
    """A base's Source, parsed once while its file is unchanged (Sources are never changed in
    place); its problems told at the child's `extends`."""
    try:
        try:
            info = os.stat(real)
        except OSError:
            return load_source(real, label=label, base=True)  # it says why
        key = (real, label, info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if key not in _CACHE:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = load_source(real, label=label, base=True)
        return _CACHE[key]
    except SpecError as e:
        raise _through(at, ref, e) from None


def resolve(ref: Ref, overrides: dict[str, Any] | list[str] | None = None, *, extends_from: Folders = (),
            allow_extends: bool = True) -> Source:
    """The spec `ref` names, composed: `extends` followed, `--set` overrides and `scale` applied.

    `overrides` maps dotted key paths to values (`{"stages.2.depth": 23}`), or is a list of
    `KEY=VALUE` texts whose values are YAML (`["stages.2.depth=23"]`), as `--set` gives them.
    `extends` reads built-in specs and files in the spec's own folder tree (after symlinks);
    `extends_from` (and ARCHSPEC_EXTENDS_ROOTS) allow more folders. A spec from standard input or
    given as a Source has no folder: it extends built-ins only. `allow_extends=False` refuses
    `extends` altogether (a spec recorded in a weights file is complete).
    """
    source, tree, positions, keys = merged(ref, overrides, extends_from=extends_from, allow_extends=allow_extends)
    composed = (isinstance(source.tree, dict) and "extends" in source.tree) or bool(overrides)
    scaled: dict[tuple, tuple[Any, float]] = {}
    if isinstance(tree, dict) and "scale" in tree:
        tree = _scale(tree, positions, scaled)
        composed = True
    return Source(source.path, None if composed else source.text, tree, positions, keys, scaled)


def merged(ref: Ref, overrides: dict[str, Any] | list[str] | None = None, *, extends_from: Folders = (),
           allow_extends: bool = True) -> tuple[Source, Any, Positions, Positions]:
    """The Source `ref` names, and its tree with `extends` followed and overrides applied, before
    `scale`: (source, tree, positions, key positions)."""
    source, path = (ref, None) if isinstance(ref, Source) else read(ref)
    tree, positions, keys = _chain(source, path, (), _Reader(path, extends_from, allow_extends))
    for key, value, origin in _overrides(overrides):
        tree = _set(tree, positions, keys, key, value, origin)
    return source, tree, positions, keys


# ---- extends ------------------------------------------------------------------------

def _chain(source: Source, path: str | None, seen: tuple[str, ...],
           reader: _Reader) -> tuple[Any, Positions, Positions]:
    """The tree of `source` (read from `path`, None for stdin) merged onto its bases, `extends`
    removed, with its positions; `seen` holds the real paths of the specs that extend it."""
    tree, positions, keys = source.tree, dict(source.positions), dict(source.key_positions)
    if not isinstance(tree, dict) or "extends" not in tree:
        return tree, positions, keys
    at = positions[("extends",)]
    ref = tree["extends"]
    if not isinstance(ref, str) or not ref.strip():
        raise SpecError([Issue(*at, "extends: expected the name or path of the base spec",
                               "write e.g. `extends: resnet50` or `extends: base.yaml`", "AS700")])
    here = os.path.realpath(path) if path else STDIN
    if len(seen) + 1 >= limits.MAX_CHAIN:
        raise SpecError([Issue(*at, f"extends {_shown(ref)}: the chain is longer than {limits.MAX_CHAIN} specs",
                               "extend a spec nearer the root", "AS702")])
    base, base_path = reader.read(ref, (os.path.dirname(path) or ".") if path else None, at)
    if os.path.realpath(base_path) in (*seen, here):
        raise SpecError([Issue(*at, f"extends {_shown(ref)}, which is already in the chain (a cycle)",
                               "a spec cannot extend itself or a spec that extends it", "AS701")])
    try:
        base_tree, base_positions, base_keys = _chain(base, base_path, (*seen, here), reader)
        _check_base(base, base_tree, base_positions, base_keys)
    except SpecError as e:
        raise _through(at, ref, e) from None
    child = {k: v for k, v in tree.items() if k != "extends"}
    base_tree = {k: v for k, v in base_tree.items() if k != ABSTRACT}  # a child is concrete unless it says so
    _drop(base_positions, (ABSTRACT,)), _drop(base_keys, (ABSTRACT,))
    del positions[("extends",)], keys[("extends",)]
    return _merge(base_tree, child, (), base_positions, base_keys, positions, keys), base_positions, base_keys


def _check_base(base: Source, tree: Any, positions: Positions, keys: Positions) -> None:
    """A base must be valid on its own (an abstract one as far as it goes)."""
    if isinstance(tree, dict) and "scale" in tree:
        positions, keys = dict(positions), dict(keys)
        tree = _scale(dict(tree), positions, {})
    check_tree(Source(base.path, base.text, tree, positions, keys))


def _through(at: Origin, ref: str, error: SpecError) -> SpecError:
    """The base's problems, told at the child's `extends` line: `extends base.yaml, which …`."""
    issues = []
    for issue in error.issues:
        message = issue.message
        if message.startswith("extends "):
            why = message
        elif issue.line is None and message == NOT_A_SPEC:
            why = f"is {NOT_A_SPEC}"
        elif issue.line is None and message == MISSING:
            why = f"does not exist (looked for {issue.file})"
        elif issue.line is None:
            why = message[5:] if message.startswith("file ") else f"is not available: {message}"
        else:
            why = f"has an error at {Origin(issue.file, issue.line, issue.column)}: {message}"
        issues.append(Issue(*at, f"extends {_shown(ref)}, which {why}", issue.hint, "AS700", issue.severity))
    return SpecError(issues)


def _shown(ref: str) -> str:
    return repr(ref[:80]) if len(ref) > 80 or not re.fullmatch(r"[\w./\-]+", ref) else ref


def _merge(base: dict, child: dict, path: tuple, positions: Positions, keys: Positions,
           child_positions: Positions, child_keys: Positions) -> dict:
    """`child` merged onto `base` (both mappings); `positions`/`keys` (the base's) updated."""
    out = dict(base)
    if path in child_positions:  # the mapping is where the child writes it
        positions[path] = child_positions[path]
    for key, value in child.items():
        at = path + (key,)
        if at in child_keys:
            keys[at] = child_keys[at]
        old = out.get(key)
        if value is None:
            out.pop(key, None)
            _drop(positions, at), _drop(keys, at)
        elif isinstance(value, dict) and isinstance(old, dict) and not _retyped(old, value):
            out[key] = _merge(old, value, at, positions, keys, child_positions, child_keys)
        elif _is_edit(value) and isinstance(old, list):
            out[key] = _edit(old, value, at, positions, keys, child_positions, child_keys)
        else:
            out[key] = value
            _drop(positions, at), _drop(keys, at)
            _copy(child_positions, positions, at), _copy(child_keys, keys, at)
            if at not in positions and at in child_keys:  # `--set head.type=…` replaced the mapping: it is there
                positions[at] = child_keys[at]
    return out


def _retyped(base: dict, child: dict) -> bool:
    """A child mapping of another `type:` (a features head over a classifier): the base's
    settings belong to its type, so the child replaces the mapping whole."""
    return "type" in child and "type" in base and child["type"] != base["type"]


def _is_edit(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(type(k) is int for k in value)


def _edit(base: list, edits: dict, path: tuple, positions: Positions, keys: Positions,
          child_positions: Positions, child_keys: Positions) -> list:
    """`base` with items changed by index: a mapping merges into the item, null removes it."""
    out, removed = list(base), []
    for index, value in sorted(edits.items()):
        at = path + (index,)
        if index == len(out) and value is not None and not removed:  # the next index appends an item
            out.append(value)
            _copy(child_positions, positions, at), _copy(child_keys, keys, at)
            continue
        if not 0 <= index < len(base):
            last = f"0 to {len(base) - 1}" if base else "none: it is empty"
            raise SpecError([Issue(*child_keys[at], f"{_dotted(path)} has {len(base)} item"
                                   f"{'s' * (len(base) != 1)}, so there is no item {index}",
                                   f"index items from 0 (here {last}), or {len(out)} to append one", "AS706")])
        if value is None:
            removed.append(index)
        elif isinstance(value, dict) and isinstance(out[index], dict):
            out[index] = _merge(out[index], value, at, positions, keys, child_positions, child_keys)
        else:
            out[index] = value
            _drop(positions, at), _drop(keys, at)
            _copy(child_positions, positions, at), _copy(child_keys, keys, at)
    if removed:  # renumber what follows each removed item
        kept = [i for i in range(len(out)) if i not in removed]
        for table in (positions, keys):
            moved = {p: table.pop(p) for p in [p for p in table if p[:len(path)] == path and len(p) > len(path)]}
            for p, origin in moved.items():
                if p[len(path)] in kept:
                    table[path + (kept.index(p[len(path)]),) + p[len(path) + 1:]] = origin
        out = [out[i] for i in kept]
    return out


def _drop(table: Positions, path: tuple) -> None:
    """Forget the positions of `path` and everything under it."""
    for p in [p for p in table if p[:len(path)] == path]:
        del table[p]


def _copy(source: Positions, target: Positions, path: tuple) -> None:
    target.update((p, o) for p, o in source.items() if p[:len(path)] == path)


def _dotted(path: tuple) -> str:
    return ".".join(map(str, path)) or "the spec"


# ---- --set --------------------------------------------------------------------------

def _overrides(overrides: dict[str, Any] | list[str] | None) -> list[tuple[tuple, Any, Positions]]:
    """(key path, value, positions of the value) for each override, parsed and checked."""
    if overrides is None:
        return []
    out = []
    if isinstance(overrides, dict):
        items = [(str(k), v, f"{k}={v!r}") for k, v in overrides.items()]
    else:
        items = []
        for text in overrides:
            key, sep, value = str(text).partition("=")
            if not sep:
                raise SpecError([Issue(f"--set {_clip(text)}", None, None, "expected KEY=VALUE",
                                       "write e.g. --set stages.2.depth=23", "AS704")])
            items.append((key, value, text))
    for key, value, text in items:
        name = f'overrides["{_clip(key)}"]' if isinstance(overrides, dict) else f"--set {_clip(text)}"
        path = _key_path(key, name)
        if path[0] == "extends":  # the chain is read before overrides apply
            raise SpecError([Issue(name, None, None, "extends cannot be set from the command line",
                                   "name the base spec itself as SPEC, or write a spec that extends it", "AS704")])
        if isinstance(overrides, dict):
            tree, positions = value, {p: Origin(name) for p in _paths(value, ())}
        else:
            tree, positions = parse_value(value, name)
        out.append((path, tree, positions))
    return out


def _clip(text: str) -> str:
    return text if len(text) <= 120 else text[:117] + "..."


def _key_path(key: str, name: str) -> tuple:
    if len(key) > limits.MAX_KEY_CHARS or key.count(".") >= limits.MAX_DEPTH:
        raise SpecError([Issue(name, None, None, f"the key path is longer than {limits.MAX_DEPTH} keys or "
                               f"{limits.MAX_KEY_CHARS:,} characters", "a key path names one setting, e.g. stages.2.depth",
                               "AS704")])
    parts = key.strip().split(".")
    if not all(parts):
        raise SpecError([Issue(name, None, None, f"{key!r} is not a key path",
                               "write keys separated by dots, list items by index: stages.2.depth", "AS704")])
    return tuple(int(p) if p.isdecimal() else p for p in parts)


def _paths(value: Any, path: tuple) -> list[tuple]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _paths(v, path + (k,))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _paths(v, path + (i,))]
    return [path]


def _set(tree: Any, positions: Positions, keys: Positions, path: tuple, value: Any, given: Positions) -> Any:
    """`tree` with the value at `path` replaced (merged, for a mapping onto a mapping)."""
    origin = given[()]
    child: Any = value
    for part in reversed(path):  # the override as a child spec with one key
        child = {part: child}
    # mappings it creates are located at the option; existing ones keep their place
    child_positions = {path[:n]: origin for n in range(len(path)) if path[:n] not in positions}
    child_positions.update((path + p, o) for p, o in given.items())
    child_keys = {path[:n]: origin for n in range(1, len(path) + 1)}
    node = tree
    for n, part in enumerate(path[:-1]):  # check the way down: it must exist where it is a list
        node = node.get(part) if isinstance(node, dict) else node[part] if _has(node, part) else None
        if node is None:
            break
        if isinstance(node, list) and not isinstance(path[n + 1], int):
            raise SpecError([Issue(origin.file, None, None, f"{_dotted(path[:n + 1])} is a list: "
                                   f"{path[n + 1]!r} is not an index", "index list items from 0", "AS704")])
        if not isinstance(node, (dict, list)):
            raise SpecError([Issue(origin.file, None, None, f"{_dotted(path[:n + 1])} is a single value, "
                                   f"it has no key {path[n + 1]!r}", f"set {_dotted(path[:n + 1])} itself", "AS704")])
    # a number in the path edits a list by index: _merge checks the index
    return _merge(tree, child, (), positions, keys, child_positions, child_keys)


def _has(node: Any, part: Any) -> bool:
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


# ---- scale --------------------------------------------------------------------------

def _scale(tree: dict, positions: Positions, scaled: dict[tuple, tuple[Any, float]]) -> dict:
    """Depths × `depth` rounded up, channels × `width` made divisible; `scale:` removed.
    Each value it changes is recorded in `scaled`: key path -> (value before, factor)."""
    if isinstance(tree["scale"], dict) and "fit" in tree["scale"]:
        from .fit import fit_scale  # the search plans candidates (planning imports reading)

        tree = fit_scale(tree, positions, scaled)
    settings = check_scale(tree["scale"], positions)
    tree = copy.deepcopy({k: v for k, v in tree.items() if k != "scale"})
    _drop(positions, ("scale",))
    w, d, divisor = settings.width, settings.depth, settings.divisor

    def channels(value: Any) -> Any:
        if isinstance(value, list):
            return [channels(v) for v in value]
        return make_divisible(value * w, divisor) if _whole(value) else value

    def depth(value: Any) -> Any:
        return math.ceil(value * d) if _whole(value) else value

    def regnet_w0(value: Any) -> Any:
        return make_divisible(value * w, 8) if _whole(value) else value  # RegNet's widths are multiples of 8

    def slope(value: Any) -> Any:
        return value * w if type(value) in (int, float) else value

    rules: list[tuple[tuple, Any, float]] = []  # (key path, how its value scales, by what factor)
    if "stem" in settings.apply_to:
        rules.append((("stem", "channels"), channels, w))
    if "head" in settings.apply_to:  # the head's conv and hidden layers, where it has them
        rules += [(("head", key), channels, w) for key in ("conv", "channels", "hidden")]
    stages = tree.get("stages")
    if "stages" in settings.apply_to and isinstance(stages, list):
        rules += [(("stages", i, key), rule, factor) for i in range(len(stages))
                  for key, rule, factor in (("depth", depth, d), ("channels", channels, w), ("width", channels, w))]
    elif "stages" in settings.apply_to and isinstance(stages, dict):  # a generator: scale what it starts from
        rules += [(("stages", "depth"), depth, d), (("stages", "w0"), regnet_w0, w), (("stages", "wa"), slope, w)]
    for path, rule, factor in rules:
        parent = _at(tree, path[:-1])
        if isinstance(parent, dict) and path[-1] in parent and rule(parent[path[-1]]) != parent[path[-1]]:
            scaled[path] = (parent[path[-1]], factor)
            parent[path[-1]] = rule(parent[path[-1]])
    return tree


def _at(tree: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(tree, dict):
            tree = tree.get(part)
        elif isinstance(tree, list) and isinstance(part, int) and 0 <= part < len(tree):
            tree = tree[part]
        else:
            return None
    return tree


def _whole(value: Any) -> bool:
    return type(value) is int and 0 < value < 10**12  # others are left for the schema to refuse
