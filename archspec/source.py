"""YAML text -> plain Python tree plus a map from every key path to its line:column.

Safe by construction: the YAML is composed into nodes (libyaml when available) and
the tree is built here from those nodes, so no tag ever constructs an object.
Scalars follow the YAML 1.2 core schema (``yes``/``on`` stay strings, ``1e-5`` is a
float). Files that are too large, too deep, cyclic or alias bombs are refused before
anything is built. Every problem is reported as a located ``Issue`` in a ``SpecError``.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import CollectionEndEvent, CollectionStartEvent, DocumentStartEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .errors import Issue, SpecError

MAX_FILE_BYTES = 1_000_000  # a spec is a few kilobytes
MAX_NODES = 100_000  # nodes (keys included) after alias expansion
MAX_DEPTH = 64  # nested mappings/sequences; the top-level mapping is level 1

_STD = "tag:yaml.org,2002:"
_PLAIN = "!archspec-untagged-plain"  # our tag for plain scalars without an explicit tag
_ALLOWED_SCALAR_TAGS = {"str", "int", "float", "bool", "null"}

_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")

_SYNTAX_HINTS = [  # (fragment of the yaml problem, hint)
    ("tab", "indent with spaces, not tabs"),
    ("end of stream", "close the quote or bracket that starts there"),
    ("mapping values are not allowed", "check the indentation, or quote a value that contains ': '"),
    ("could not find expected ':'", "write each entry as 'key: value'"),
    ("did not find expected ','", "separate items with ',' and close the bracket"),
    ("did not find expected '-'", "do not mix '- item' lines and 'key: value' lines at one level"),
    ("undefined alias", "define the anchor (&name) before using *name"),
]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Composes nodes only; tags explicit in the file are kept verbatim, never resolved."""

    def resolve(self, kind, value, implicit):  # called only for nodes without an explicit tag
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STD + "str"  # quoted or '!' -> string
        return _STD + ("seq" if kind is SequenceNode else "map")


@dataclass(frozen=True)
class Source:
    path: str
    text: str
    tree: Any
    positions: dict[tuple, tuple[int, int]]  # path -> (line, col) of the value node, 1-based
    key_positions: dict[tuple, tuple[int, int]]  # path -> (line, col) of its key, 1-based

    def locate(self, path: tuple, key: bool = False) -> tuple[int | None, int | None]:
        """Position of the deepest prefix of `path` that exists (key position if key=True and available)."""
        path = tuple(path)
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if key and prefix in self.key_positions:
                return self.key_positions[prefix]
            if prefix in self.positions:
                return self.positions[prefix]
        return (None, None)


class _Refused(Exception):
    """Stops loading at the first problem that makes the rest meaningless."""

    def __init__(self, issue: Issue):
        self.issue = issue


def load_source(path: str | os.PathLike) -> Source:
    """Read and parse a spec file; raises SpecError (code AS100 when the file cannot be read)."""
    name = os.fsdecode(path)
    try:
        info = os.stat(name)
        if stat.S_ISDIR(info.st_mode):
            raise _Refused(_file_issue(name, "is a directory, not a spec file"))
        if not stat.S_ISREG(info.st_mode):
            raise _Refused(_file_issue(name, "is not a regular file"))
        if info.st_size > MAX_FILE_BYTES:  # checked before reading anything
            raise _Refused(_too_large(name, info.st_size))
        with open(name, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # the file may have grown since stat
    except _Refused as e:
        raise SpecError([e.issue]) from None
    except FileNotFoundError:
        raise SpecError([_file_issue(name, "does not exist")]) from None
    except OSError as e:
        raise SpecError([_file_issue(name, f"cannot be read: {e.strerror or e}")]) from None
    except ValueError as e:  # e.g. a NUL character in the path
        raise SpecError([_file_issue(name, f"cannot be read: {e}")]) from None
    return parse_source(data, name)


def parse_source(text: str | bytes, path: str = "<string>") -> Source:
    """Parse spec text; raises SpecError listing every problem found."""
    try:
        text = _decode(text, path)
        root = _compose(text, path)
        _measure(root, path)
        builder = _Builder(path)
        tree = builder.build(root, ())
    except _Refused as e:
        raise SpecError([e.issue]) from None
    except RecursionError:  # not expected: depth is bounded before any recursion
        raise SpecError([Issue(path, None, None, "nesting is too deep", code="AS104")]) from None
    if builder.issues:
        raise SpecError(list(dict.fromkeys(builder.issues)))  # aliases can repeat an issue
    return Source(path, text, tree, builder.positions, builder.key_positions)


# ---- file level ---------------------------------------------------------------------

def _file_issue(path: str, problem: str) -> Issue:
    return Issue(path, None, None, f"file {problem}", code="AS100")


def _too_large(path: str, size: int) -> Issue:
    return Issue(path, None, None, f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}",
                 "a spec is a few kilobytes: is this the right file? "
                 "(the limit is archspec.source.MAX_FILE_BYTES)", "AS100")


def _decode(text: str | bytes, path: str) -> str:
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if len(data) > MAX_FILE_BYTES:
        raise _Refused(_too_large(path, len(data)))
    if isinstance(text, str) and text.isascii():
        return text
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark is harmless
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = data.rfind(b"\n", 0, e.start) + 1
        column = len(data[line_start:e.start].decode("utf-8")) + 1
        raise _Refused(Issue(path, data.count(b"\n", 0, e.start) + 1, column,
                             f"file is not UTF-8 (byte 0x{data[e.start]:02x})",
                             "save the file as UTF-8", "AS100")) from None


# ---- YAML syntax --------------------------------------------------------------------

def _compose(text: str, path: str) -> yaml.Node:
    """The single document's root node, after checking nesting depth on the event stream."""
    try:
        _check_nesting(text, path)  # libyaml's composer recurses in C and crashes on deep input
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        raise _Refused(_syntax_issue(e, text, path)) from None
    except yaml.reader.ReaderError as e:
        line, column = _position_of(text, text.find(chr(e.character)))
        raise _Refused(Issue(path, line, column, f"character U+{e.character:04X} is not allowed in YAML",
                             "remove it", "AS101")) from None
    except yaml.YAMLError as e:
        raise _Refused(Issue(path, None, None, str(e), code="AS101")) from None
    if root is None or (isinstance(root, ScalarNode) and root.tag == _PLAIN and root.value == ""):
        raise _Refused(Issue(path, None, None, "file is empty",
                             "start from one of the examples in specs/", "AS101"))
    if not isinstance(root, MappingNode):
        raise _Refused(_issue(path, root, "the top level must be a mapping of keys "
                                          f"(archspec, name, input, ...), not {_describe(root)}", "", "AS101"))
    return root


def _check_nesting(text: str, path: str) -> None:
    loader = _Loader(text)
    try:
        depth = documents = 0
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    return  # the composer reports the second document
            elif isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _Refused(_too_deep(path, event))
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    finally:
        loader.dispose()


def _syntax_issue(e: yaml.MarkedYAMLError, text: str, path: str) -> Issue:
    mark = e.problem_mark or e.context_mark
    if mark is None:
        return Issue(path, None, None, str(e), code="AS101")
    if e.context == "expected a single document in the stream":
        return _issue(path, e, "a spec file holds one YAML document; a second one starts here",
                      "remove the '---' line and what follows, or split the file", "AS101", mark)
    if "duplicate anchor" in (e.context or ""):
        return _issue(path, e, f"anchor defined twice (first at line {e.context_mark.line + 1})",
                      "give each anchor its own name", "AS101", mark)
    message = e.problem or "invalid YAML"
    if e.context and e.context_mark and e.problem_mark:
        cm = e.context_mark
        same = (cm.line, cm.column) == (e.problem_mark.line, e.problem_mark.column)
        message += f" ({e.context}" + ("" if same else f" at line {cm.line + 1}, column {cm.column + 1}") + ")"
    found_tab = mark is not None and text[mark.index:mark.index + 1] == "\t"
    hint = next((h for fragment, h in _SYNTAX_HINTS
                 if fragment in message or (found_tab and fragment == "tab")), "")
    return _issue(path, e, message, hint, "AS101", mark)


# ---- alias expansion ------------------------------------------------------------------

def _children(node: yaml.Node) -> list:
    if isinstance(node, MappingNode):
        return [child for pair in node.value for child in pair]
    return node.value if isinstance(node, SequenceNode) else []


def _measure(root: yaml.Node, path: str) -> None:
    """Refuse cycles, alias bombs and deep nesting, before building anything.

    Aliases make shared node objects, so each node's expanded size and height are
    memoised by id: a billion-laughs file costs as much as its physical nodes.
    """
    memo: dict[int, tuple[int, int]] = {}
    active: set[int] = set()
    shared = False

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        nonlocal shared
        key, collection = id(node), not isinstance(node, ScalarNode)
        if key in memo:
            shared = True
            size, height = memo[key]
        elif key in active:
            raise _Refused(_issue(path, node, "an alias refers to a node that contains it (a cycle)",
                                  "an alias can only repeat a node that is complete where it is used",
                                  "AS104"))
        else:
            if collection and depth > MAX_DEPTH:
                raise _Refused(_too_deep(path, node))
            active.add(key)
            size, height = 1, 0
            for child in _children(node):
                child_size, child_height = visit(child, depth + 1)
                size, height = size + child_size, max(height, child_height)
                if size > MAX_NODES:
                    what = "aliases expand to" if shared else "the file has"
                    raise _Refused(_issue(path, node, f"{what} more than {MAX_NODES:,} nodes",
                                          "a spec never needs this many; repeat less with aliases"
                                          if shared else "is this the right file?", "AS104"))
            height += collection
            active.discard(key)
            memo[key] = (size, height)
        if height and depth + height - 1 > MAX_DEPTH:  # a shared node reused deeper down
            raise _Refused(_too_deep(path, node))
        return size, height

    visit(root, 1)


def _too_deep(path: str, node_or_event) -> Issue:
    return _issue(path, node_or_event, f"nesting is deeper than {MAX_DEPTH} levels",
                  "a spec never nests this deep: check for runaway brackets or aliases", "AS104")


# ---- tree building ------------------------------------------------------------------

class _Builder:
    """Builds the plain tree from (already measured) nodes, recording every position."""

    def __init__(self, path: str):
        self.path = path
        self.issues: list[Issue] = []
        self.positions: dict[tuple, tuple[int, int]] = {}
        self.key_positions: dict[tuple, tuple[int, int]] = {}

    def build(self, node: yaml.Node, where: tuple) -> Any:
        self.positions[where] = _position(node)
        kind = "map" if isinstance(node, MappingNode) else "seq" if isinstance(node, SequenceNode) else None
        if kind is None:
            return self.scalar(node)
        if node.tag != _STD + kind:
            return self.fail(node, *_tag_problem(node))
        if kind == "seq":
            return [self.build(item, where + (i,)) for i, item in enumerate(node.value)]
        tree: dict = {}
        first_line: dict = {}
        for key_node, value_node in node.value:
            key = self.key(key_node)
            if key is _BAD:
                continue
            if key in tree:
                self.fail(key_node, f"duplicate key {key!r} (first at line {first_line[key]})",
                          "remove one of them", "AS102")
                continue
            first_line[key] = _position(key_node)[0]
            self.key_positions[where + (key,)] = _position(key_node)
            tree[key] = self.build(value_node, where + (key,))
        return tree

    def key(self, node: yaml.Node) -> Any:
        if not isinstance(node, ScalarNode):
            return self.fail(node, f"a mapping key must be a plain value, not {_describe(node)}",
                             "write the key as a string", "AS103")
        if node.tag == _PLAIN and node.value == "<<":
            return self.fail(node, "merge keys ('<<') are not allowed",
                             "write the keys out in full", "AS103")
        return self.scalar(node)

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag == _PLAIN:
            return _plain_value(node.value)
        name = node.tag[len(_STD):] if node.tag.startswith(_STD) else None
        if name == "str":
            return node.value
        if name not in _ALLOWED_SCALAR_TAGS:
            return self.fail(node, *_tag_problem(node))
        value = _plain_value(node.value)
        if name == "float" and type(value) is int:
            return float(value)
        wanted = {"int": int, "float": float, "bool": bool, "null": type(None)}[name]
        if type(value) is not wanted:
            return self.fail(node, f"{node.value!r} is not a valid {name}",
                             "remove the tag, or write a value of that type", "AS103")
        return value

    def fail(self, node, message: str, hint: str, code: str) -> Any:
        self.issues.append(_issue(self.path, node, message, hint, code))
        return _BAD


_BAD = object()  # placeholder for a value that had an issue; never reaches a caller


def _tag_problem(node: yaml.Node) -> tuple[str, str, str]:
    shown = "!!" + node.tag[len(_STD):] if node.tag.startswith(_STD) else node.tag
    name = shown[2:] if shown.startswith("!!") else None
    if name in _ALLOWED_SCALAR_TAGS | {"map", "seq"}:  # a standard tag on the wrong kind
        return f"tag '{shown}' cannot be used on {_describe(node)}", "remove the tag", "AS103"
    return f"tag '{shown}' is not allowed", "archspec reads plain YAML only: remove the tag", "AS103"


def _plain_value(text: str) -> Any:
    """YAML 1.2 core schema resolution of an untagged plain scalar."""
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    try:
        if _INT.fullmatch(text):
            return int(text)
        if _OCT.fullmatch(text) or _HEX.fullmatch(text):
            return int(text[2:], 8 if text[1] == "o" else 16)
    except ValueError:  # more digits than Python converts (sys.int_info); keep the text
        return text
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return -math.inf if text[0] == "-" else math.inf
    if _NAN.fullmatch(text):
        return math.nan
    return text


# ---- positions ----------------------------------------------------------------------

def _position(node_or_event) -> tuple[int, int]:
    mark = node_or_event.start_mark
    return (mark.line + 1, mark.column + 1)


def _position_of(text: str, index: int) -> tuple[int | None, int | None]:
    if index < 0:
        return (None, None)
    return (text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index))


def _issue(path: str, where, message: str, hint: str, code: str, mark=None) -> Issue:
    """An Issue at a node's or event's start, or at an explicit yaml mark."""
    mark = mark or where.start_mark
    return Issue(path, mark.line + 1, mark.column + 1, message, hint, code)


def _describe(node: yaml.Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = _plain_value(node.value) if node.tag == _PLAIN else node.value
    kinds = {bool: "true/false", int: "a number", float: "a number", type(None): "null"}
    return kinds.get(type(value), "a string")
