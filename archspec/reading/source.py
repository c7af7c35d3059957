"""YAML text -> plain Python tree plus a map from every key path to its line:column.

Safe by construction: YAML is only *composed* into nodes (by libyaml when available)
and the tree is built here from those nodes, so no tag ever constructs an object.
Scalars follow the YAML 1.2 core schema (`yes`/`on` stay strings, `1e-5` is a float).
Files that are too large, too deep, cyclic or alias bombs are refused before anything
is built. Every problem becomes a located `Issue`, all of them in one `SpecError`.
"""

from __future__ import annotations

import math
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, DocumentStartEvent, NodeEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .. import limits
from ..errors import Issue, SpecError
from ..units import count

_STD = "tag:yaml.org,2002:"
_PLAIN = "!archspec/untagged-plain"  # what _Loader gives plain scalars that carry no tag
_SCALAR_TAGS = {"str": str, "int": int, "float": float, "bool": bool, "null": type(None)}
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+|0o(?P<oct>[0-7]+)|0x(?P<hex>[0-9a-fA-F]+)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF_NAN = re.compile(r"(?P<sign>[-+]?)\.(inf|Inf|INF)|\.(?P<nan>nan|NaN|NAN)")
_SYNTAX_HINTS = {  # fragment of libyaml's message -> hint
    "tab": "indent with spaces, not tabs",
    "end of stream": "close the quote or bracket that starts there",
    "mapping values are not allowed": "check the indentation, or quote a value that contains ': '",
    "could not find expected ':'": "write each entry as 'key: value'",
    "did not find expected '-'": "do not mix '- item' lines and 'key: value' lines at one level",
    "undefined alias": "define the anchor (&name) before using *name",
}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Composer only. A tag written in the file stays on its node, verbatim."""

    def resolve(self, kind, value, implicit):  # called for nodes without an explicit tag
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STD + "str"  # quoted -> string
        return _STD + ("seq" if kind is SequenceNode else "map")


class Origin(NamedTuple):
    """Where a value was set: a file's line and column (1-based), or an option such as
    `--set stages.2.depth=23` (no line)."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}:{self.column}"


FITTED = ("scale", "fit")  # in Source.scaled: the factors were fitted to a budget


@dataclass(frozen=True)
class Source:
    """A spec's tree and, for every key path, where its value and its key were set.

    The two maps are the one way errors are located: after `extends`, `scale` and
    `--set` (archspec.reading.resolve) they point into whichever file or option set each value.
    """

    path: str  # the spec as the caller named it; the `file` of issues about the whole spec
    written: str | None  # the YAML read; None after composition (`text` writes the tree out when asked)
    tree: Any  # dict / list / str / int / float / bool / None
    positions: dict[tuple, Origin]  # key path -> where its value was set
    key_positions: dict[tuple, Origin]  # key path -> where its key was written
    # key path -> (value before `scale:` changed it, the factor): the value keeps its origin;
    # FITTED -> (the budget, 1.0) when `scale: {fit: …}` chose the factors
    scaled: dict[tuple, tuple[Any, float]] = field(default_factory=dict)

    @cached_property
    def text(self) -> str:
        """YAML that gives this tree: as read, or written out (only a command that shows or records
        the spec needs it, so `validate` does not write out every composed spec)."""
        if self.written is not None:
            return self.written
        return yaml.safe_dump(self.tree, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)

    def locate(self, path: tuple, key: bool = False) -> Origin:
        """Origin of the deepest prefix of `path` that exists (of its key if key=True and available)."""
        for end in range(len(path), -1, -1):
            prefix = tuple(path[:end])
            if key and prefix in self.key_positions:
                return self.key_positions[prefix]
            if prefix in self.positions:
                return self.positions[prefix]
        return Origin(self.path)

    def issue(self, path: tuple, message: str, hint: str = "", code: str = "AS000", severity: str = "error",
              key: bool = False) -> Issue:
        """An issue located at the value (or key) `path`, wherever it was set."""
        return Issue(*self.locate(path, key), message, hint, code, severity)


class _Problem(Exception):
    """One issue, without the file name; `at` is a yaml node, event or mark, or (line, col)."""

    def __init__(self, message: str, hint: str = "", code: str = "AS101", at: Any = None):
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code
        mark = getattr(at, "start_mark", at)
        self.where = (mark.line + 1, mark.column + 1) if hasattr(mark, "line") else (at or (None, None))

    def issue(self, path: str) -> Issue:
        return Issue(path, *self.where, self.message, self.hint, self.code)


def load_source(path: str | os.PathLike, label: str | None = None, base: bool = False) -> Source:
    """Read and parse a spec file; raises SpecError (AS100 when it cannot be read).

    Issues name the file `label` (default: `path` as given). A `base` (a file `extends` names)
    without an `archspec:`, `extends:` or `abstract:` line is refused unparsed, so that no
    message quotes a file that is not a spec."""
    name = os.fsdecode(path)
    try:
        _check_regular(os.stat(name))  # before opening: opening a FIFO or a device can block or act
        # O_NONBLOCK: if a FIFO took the file's place since, opening it returns at once, and fstat refuses it
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
        with open(fd, "rb") as f:
            _check_regular(os.fstat(fd))
            data = f.read(limits.MAX_FILE_BYTES + 1)  # it may have grown since stat
    except _Problem as e:
        raise SpecError([e.issue(label or name)]) from None
    except FileNotFoundError:
        raise SpecError([Issue(label or name, None, None, MISSING, code="AS100")]) from None
    except (OSError, ValueError) as e:  # ValueError: a NUL in the path
        message = f"file cannot be read: {getattr(e, 'strerror', None) or e}"
        raise SpecError([Issue(label or name, None, None, message, code="AS100")]) from None
    if base and not _SPEC_LINE.search(data):
        raise SpecError([Issue(label or name, None, None, NOT_A_SPEC, "extend a spec file", "AS700")])
    return parse_source(data, label or name)


_SPEC_LINE = re.compile(rb"(?m)^\W*(archspec|extends|abstract)\W*:")  # a key only a spec's top level has
NOT_A_SPEC = "not an archspec spec (it has no `archspec:` line)"


def _check_regular(info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise _Problem(f"file is {what}", "give the path of a .yaml spec", "AS100")
    _check_size(info.st_size)  # before reading anything


MISSING = "no such file or folder"  # the words for a path that does not exist, in every command
STDIN = "<stdin>"  # the file name of a spec read from standard input (`-`)


def read_stdin() -> Source:
    """Parse a spec piped to standard input, reading no more than the size limit."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise SpecError([Issue(STDIN, None, None, "standard input is closed", "pipe a spec into it", "AS100")])
    try:
        data = stream.read(limits.MAX_FILE_BYTES + 1)
    except OSError as e:
        raise SpecError([Issue(STDIN, None, None, f"standard input cannot be read: {e.strerror or e}",
                               code="AS100")]) from None
    return parse_source(data, STDIN)


def parse_source(text: str | bytes, path: str = "<string>") -> Source:
    """Parse spec text; raises SpecError listing every problem found."""
    return _parse(text, path, mapping=True)


def parse_value(text: str, origin: str) -> tuple[Any, dict[tuple, Origin]]:
    """One YAML value of any kind (`--set` gives these), with the same safety limits as a
    file; its positions all say `origin`."""
    try:
        source = _parse(text, origin, mapping=False)
    except SpecError as e:  # one line of text: the option itself is the location
        raise SpecError([Issue(origin, None, None, i.message, i.hint, i.code) for i in e.issues]) from None
    return source.tree, {path: Origin(origin) for path in source.positions}


def _parse(text: str | bytes, path: str, mapping: bool) -> Source:
    try:
        text = _decode(text)
        root, aliased = _compose(text, mapping)
        if aliased:  # else the event stream's counts are the tree's
            _measure(root)
        builder = _Builder(path)
        tree = builder.build(root, ())
    except _Problem as e:
        raise SpecError([e.issue(path)]) from None
    except RecursionError:  # not expected: depth is bounded before anything recurses
        raise SpecError([Issue(path, None, None, "nesting is too deep", code="AS104")]) from None
    if builder.problems:  # dict.fromkeys: an aliased node repeats its issues
        raise SpecError(list(dict.fromkeys(p.issue(path) for p in builder.problems)))
    return Source(path, text, tree, builder.positions, builder.key_positions)


# ---- bytes -> text ------------------------------------------------------------------

def _check_size(size: int) -> None:
    if size > limits.MAX_FILE_BYTES:
        raise _Problem(f"file is {count(size)} bytes; the limit is {count(limits.MAX_FILE_BYTES)}",
                       "is this the right file? (limit: archspec.limits.MAX_FILE_BYTES)", "AS100")


def _decode(text: str | bytes) -> str:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    _check_size(len(data))
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark is harmless
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        where = (data.count(b"\n", 0, e.start) + 1, len(data[line_start:e.start].decode()) + 1)
        raise _Problem(f"file is not UTF-8 (byte 0x{data[e.start]:02x})",
                       "save the file as UTF-8", "AS100", where) from None


# ---- text -> nodes ------------------------------------------------------------------

def _compose(text: str, mapping: bool = True) -> tuple[yaml.Node, bool]:
    """The root node of the single document, a mapping unless `mapping` is False, and whether
    the document has aliases."""
    try:
        aliased = _check_stream(text)  # libyaml's composer recurses in C: deep input would crash it
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        raise _syntax_problem(e, text) from None
    except yaml.reader.ReaderError as e:  # a control character
        index = text.find(chr(e.character))
        where = (text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index))
        raise _Problem(f"character U+{e.character:04X} is not allowed in YAML", "remove it", at=where) from None
    except yaml.YAMLError as e:
        raise _Problem(str(e)) from None
    if not mapping:
        return (root if root is not None else ScalarNode(_PLAIN, "", yaml.Mark("", 0, 0, 0, None, None))), aliased
    if root is None or (root.tag == _PLAIN and root.value == ""):
        raise _Problem("file is empty", "start from a built-in spec: `archspec show resnet18 > my.yaml`, "
                                        "or write `extends: resnet18` and what you change")
    if not isinstance(root, MappingNode):
        raise _Problem("the top level must be a mapping of keys (archspec, name, input, ...), "
                       f"not {_describe(root)}", at=root)
    return root, aliased


def _check_stream(text: str) -> bool:
    """Refuse deep nesting and too many nodes from the event stream, which libyaml parses
    without recursion, and faster than it composes: a big file is refused within limits.MAX_NODES.
    Whether the stream has aliases (which `_measure` expands)."""
    loader = _Loader(text)
    try:
        depth = documents = nodes = aliases = 0
        while loader.check_event():
            event = loader.get_event()
            documents += isinstance(event, DocumentStartEvent)
            depth += isinstance(event, CollectionStartEvent) - isinstance(event, CollectionEndEvent)
            nodes += isinstance(event, NodeEvent)  # an alias counts once here, expanded in _measure
            aliases += isinstance(event, AliasEvent)
            if documents > 1:
                return True  # the composer reports the second document
            if depth > limits.MAX_DEPTH:
                raise _too_deep(event)
            if nodes > limits.MAX_NODES:
                raise _Problem(f"the file has more than {count(limits.MAX_NODES)} nodes", "a spec never needs this many",
                               "AS104", event)
        return aliases > 0
    finally:
        loader.dispose()


def _syntax_problem(e: yaml.MarkedYAMLError, text: str) -> _Problem:
    mark = e.problem_mark or e.context_mark
    if e.context == "expected a single document in the stream":
        return _Problem("a spec file holds one YAML document; a second one starts here",
                        "remove the '---' line and what follows, or split the file", at=mark)
    if "maximum nesting depth" in (e.problem or ""):  # newer libyaml stops at 1000 levels while scanning ahead
        return _too_deep(mark)
    if "duplicate anchor" in (e.context or ""):
        return _Problem(f"anchor defined twice (first at line {e.context_mark.line + 1})",
                        "give each anchor its own name", at=mark)
    slip = _structure_slip(e, text.splitlines()) if e.problem_mark else None
    if slip:
        return slip
    message = e.problem or "invalid YAML"
    if e.context and e.context_mark and e.problem_mark:
        start = e.context_mark
        elsewhere = (start.line, start.column) != (mark.line, mark.column)
        message += f" ({e.context}" + (f" at line {start.line + 1}, column {start.column + 1})"
                                       if elsewhere else ")")
    if mark and text[mark.index:mark.index + 1] == "\t":
        hint = _SYNTAX_HINTS["tab"]
    else:
        hint = next((h for fragment, h in _SYNTAX_HINTS.items() if fragment in message), "")
    return _Problem(message, hint, at=mark)


# linear: no part of a pattern can match what the next part matches (a lazy `.*?` before `\s*$` took
# 27 s on a 100 kB line of spaces)
_KEY_WITHOUT_COLON = re.compile(r"(\s*(?:- +)?)([^\s:#{}\[\],'\"-][^\s:#{}\[\],'\"]*) +([^\s:#].*)")
_KEY = re.compile(r"(\s*(?:- +)?)([^\s:#][^:#]*?):(\s|$)")


def _structure_slip(e: yaml.MarkedYAMLError, lines: list[str]) -> _Problem | None:
    """libyaml notices a missing colon, dash or space a line or more after the slip: name the line
    that most likely holds it, in plain words. None when no rule fits (libyaml's words are kept)."""
    problem, at = e.problem or "", e.problem_mark.line
    lines = [*lines, ""]  # the end of the file is a line too
    above = next((n for n in range(at - 1, -1, -1) if _content(lines[n])), None)
    if "mapping values are not allowed" in problem or "could not find expected ':'" in problem:
        # `block basic` then `shortcut: auto`: YAML reads both lines as one text, then meets a colon
        start = min(e.context_mark.line, at) if e.context_mark and e.context else at
        for n in dict.fromkeys(x for x in (above, start, at) if x is not None):
            if missing := _KEY_WITHOUT_COLON.match(lines[n]):
                indent, key, value = missing.groups()
                key, value = _fragment(key), _fragment(value.rstrip())  # the line may be a secret's
                return _Problem(f"missing ':' after '{key}'", f"a `key: value` pair needs a colon and a space: "
                                f"`{key}: {value}`", at=(n + 1, len(indent) + 1))
        if _content(lines[start]).startswith(("{", "[")):
            return _Problem("a list item without its '- '", "list items start with `- `",
                            at=(start + 1, _indent(lines[start]) + 1))
        if above is not None and _indent(lines[at]) > _indent(lines[above]):
            return _Problem(f"line {at + 1} is indented more than line {above + 1}",
                            f"keys of one mapping line up under each other (or is line {above + 1} a list item "
                            "missing its `- `?)", at=(at + 1, _indent(lines[at]) + 1))
    if above is not None and ("did not find expected '-'" in problem or "did not find expected key" in problem):
        spaces = _indent(lines[at])
        return _Problem(f"line {at + 1} is indented by {spaces} space{'s' * (spaces != 1)}, like no key above it",
                        f"keys of one mapping line up under each other: {_alignments(lines, at)}; "
                        "list items start with `- `", at=(at + 1, _indent(lines[at]) + 1))
    return None


def _fragment(text: str) -> str:
    """A short piece of a line, for a message: at most 24 characters."""
    return text if len(text) <= 24 else text[:20] + " ..."


def _alignments(lines: list[str], at: int) -> str:
    """'indent it 4 spaces, under `depth` (line 9), or 0, under `stages` (line 8)': the nearest keys
    above line `at` indented more and less than it."""
    indent, found = _indent(lines[at]), {}
    for n in range(at - 1, -1, -1):
        key = _KEY.match(lines[n])
        column = len(key[1]) if key else None
        if key and column != indent and (column > indent) not in found:
            found[column > indent] = f"{column}, under `{_fragment(key[2])}` (line {n + 1})"
        if column is not None and column < indent:
            break  # the keys above this one belong to other mappings
    return "indent it " + " or ".join(found[k] for k in (True, False) if k in found).replace(",", " spaces,", 1)


def _content(line: str) -> str:
    """The line without its indentation; '' for a blank or comment line."""
    text = line.strip()
    return "" if text.startswith("#") else text


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# ---- alias expansion ----------------------------------------------------------------

def _children(node: yaml.Node) -> list:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return node.value if isinstance(node, SequenceNode) else []


def _measure(root: yaml.Node) -> None:
    """Refuse cycles, alias bombs and deep nesting before building anything.

    An alias is the very same node object as its anchor, so each node's expanded size
    and height are memoised by id: a billion-laughs file costs what its text costs.
    """
    memo: dict[int, tuple[int, int]] = {}  # id -> (expanded size, collection height)
    open_nodes: set[int] = set()
    shared = False

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        nonlocal shared
        key, collection = id(node), not isinstance(node, ScalarNode)
        if key in memo:
            shared = True
            size, height = memo[key]
        elif key in open_nodes:
            raise _Problem("an alias refers to a node that contains it (a cycle)",
                           "an alias can only repeat a node that is complete", "AS104", node)
        else:
            if collection and depth > limits.MAX_DEPTH:
                raise _too_deep(node)
            open_nodes.add(key)
            size, height = 1, 0
            for child in _children(node):
                child_size, child_height = visit(child, depth + 1)
                size, height = size + child_size, max(height, child_height)
                if size > limits.MAX_NODES:  # stops at the smallest node that is too big
                    what = "aliases expand to" if shared else "the file has"
                    raise _Problem(f"{what} more than {count(limits.MAX_NODES)} nodes",
                                   "a spec never needs this many", "AS104", node)
            height += collection
            open_nodes.discard(key)
            memo[key] = (size, height)
        if height and depth + height - 1 > limits.MAX_DEPTH:  # a shared node reused deeper down
            raise _too_deep(node)
        return size, height

    visit(root, 1)


def _too_deep(at: Any) -> _Problem:
    return _Problem(f"nesting is deeper than {limits.MAX_DEPTH} levels",
                    "a spec never nests this deep: check for runaway brackets or aliases", "AS104", at)


# ---- nodes -> tree ------------------------------------------------------------------

class _Builder:
    """Builds the plain tree from measured nodes, recording positions and problems."""

    def __init__(self, file: str):
        self.file = file
        self.problems: list[_Problem] = []
        self.positions: dict[tuple, Origin] = {}
        self.key_positions: dict[tuple, Origin] = {}

    def build(self, node: yaml.Node, path: tuple) -> Any:
        self.positions[path] = Origin(self.file, *_position(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if node.tag != _STD + ("map" if isinstance(node, MappingNode) else "seq"):
            return self.fail(_tag_problem(node))
        if isinstance(node, SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        tree: dict = {}
        first_line: dict = {}
        for key_node, value_node in node.value:
            key = self.key(key_node)
            if key is _BAD:
                continue
            if key in tree:  # also 1 and true: they are one dict key in Python
                self.fail(_Problem(f"duplicate key {key!r} (first at line {first_line[key]})",
                                   "remove one of them", "AS102", key_node))
                continue
            first_line[key] = _position(key_node)[0]
            self.key_positions[path + (key,)] = Origin(self.file, *_position(key_node))
            tree[key] = self.build(value_node, path + (key,))
        return tree

    def key(self, node: yaml.Node) -> Any:
        if not isinstance(node, ScalarNode):
            return self.fail(_Problem(f"a mapping key must be a plain value, not {_describe(node)}",
                                      "write the key as a string", "AS103", node))
        if node.tag == _PLAIN and node.value == "<<":
            return self.fail(_Problem("merge keys ('<<') are not allowed",
                                      "write the keys out in full", "AS103", node))
        return self.scalar(node)

    def scalar(self, node: ScalarNode) -> Any:
        try:
            return self._scalar(node)
        except _Problem as e:  # a number too long
            return self.fail(_Problem(e.message, e.hint, e.code, node))

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag == _PLAIN:
            return _plain_value(node.value)
        wanted = _SCALAR_TAGS.get(node.tag[len(_STD):]) if node.tag.startswith(_STD) else None
        if wanted is None:
            return self.fail(_tag_problem(node))
        if wanted is str:
            return node.value
        value = _plain_value(node.value)
        if wanted is float and type(value) is int:
            value = float(value)
        if type(value) is not wanted:
            return self.fail(_Problem(f"{node.value!r} is not a valid {node.tag[len(_STD):]}",
                                      "remove the tag, or write a value of that type", "AS103", node))
        return value

    def fail(self, problem: _Problem) -> Any:
        self.problems.append(problem)
        return _BAD


_BAD = object()  # stands for a value that has a problem; never reaches a caller


def _tag_problem(node: yaml.Node) -> _Problem:
    name = node.tag[len(_STD):] if node.tag.startswith(_STD) else None
    shown = node.tag if name is None else "!!" + name
    if name in _SCALAR_TAGS or name in ("map", "seq"):  # a standard tag on the wrong kind of node
        return _Problem(f"tag '{shown}' cannot be used on {_describe(node)}", "remove the tag", "AS103", node)
    return _Problem(f"tag '{shown}' is not allowed", "archspec reads plain YAML only: remove the tag",
                    "AS103", node)


def _plain_value(text: str) -> Any:
    """YAML 1.2 core schema: the value of a plain scalar that has no tag."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if match := _INT.fullmatch(text):
        digits, base = match["oct"] or match["hex"] or text, 8 if match["oct"] else 16 if match["hex"] else 10
        try:
            value = int(digits, base)
            str(value)  # 0x…: a value Python cannot print is refused here too
        except ValueError:  # more digits than Python converts (sys.int_info)
            raise _Problem(f"a number of {count(len(digits))} digits is too long to read",
                           "a spec's numbers have a few digits", "AS103") from None
        return value
    if _FLOAT.fullmatch(text):
        return float(text)
    if match := _INF_NAN.fullmatch(text):
        return math.nan if match["nan"] else -math.inf if match["sign"] == "-" else math.inf
    return text


def _position(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _describe(node: yaml.Node) -> str:
    if not isinstance(node, ScalarNode):
        return "a mapping" if isinstance(node, MappingNode) else "a list"
    try:
        value = _plain_value(node.value) if node.tag == _PLAIN else node.value
    except _Problem:
        return "a number"
    names = {bool: "true/false", int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), "a string")
