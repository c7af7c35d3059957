"""archspec.reading.source: YAML text -> tree + positions, YAML 1.2 scalars, safety limits."""

import math
import os
import time

import pytest

from archspec import limits
from archspec.errors import SpecError
from archspec.limits import MAX_DEPTH, MAX_FILE_BYTES
from archspec.reading.source import Source, load_source, parse_source


def issues_of(text, path="spec.yaml"):
    with pytest.raises(SpecError) as info:
        parse_source(text, path)
    return info.value.issues


def only_issue(text, path="spec.yaml"):
    issues = issues_of(text, path)
    assert len(issues) == 1, issues
    return issues[0]


def check(issue, line, column, code, fragment):
    assert (issue.line, issue.column, issue.code) == (line, column, code), issue
    assert fragment in issue.message, issue
    assert issue.file == "spec.yaml"


def value(yaml_value):
    return parse_source(f"v: {yaml_value}\n").tree["v"]


# ---- tree and positions ------------------------------------------------------------

SPEC = """\
archspec: 1
name: resnet50
input: {channels: 3, size: 224}
stem:
  type: conv
  channels: 64
stages:
  - {depth: 3, channels: 256}
  - depth: 4
    channels: 512
"""


def test_tree_is_plain_python():
    src = parse_source(SPEC, "r50.yaml")
    assert isinstance(src, Source)
    assert src.path == "r50.yaml" and src.text == SPEC
    assert src.tree == {
        "archspec": 1, "name": "resnet50", "input": {"channels": 3, "size": 224},
        "stem": {"type": "conv", "channels": 64},
        "stages": [{"depth": 3, "channels": 256}, {"depth": 4, "channels": 512}],
    }
    assert list(src.tree) == ["archspec", "name", "input", "stem", "stages"]


def test_positions_of_values_and_keys():
    src = parse_source(SPEC)
    assert src.positions[()][1:] == (1, 1)
    assert src.positions[("name",)][1:] == (2, 7)
    assert src.key_positions[("name",)][1:] == (2, 1)
    # flow mapping
    assert src.positions[("input",)][1:] == (3, 8)
    assert src.key_positions[("input", "size")][1:] == (3, 22)
    assert src.positions[("input", "size")][1:] == (3, 28)
    # nested block mapping
    assert src.positions[("stem",)][1:] == (5, 3)
    assert src.key_positions[("stem", "channels")][1:] == (6, 3)
    assert src.positions[("stem", "channels")][1:] == (6, 13)
    # list items, flow and block
    assert src.positions[("stages", 0)][1:] == (8, 5)
    assert src.positions[("stages", 0, "channels")][1:] == (8, 26)
    assert src.positions[("stages", 1)][1:] == (9, 5)
    assert src.key_positions[("stages", 1, "channels")][1:] == (10, 5)
    assert src.positions[("stages", 1, "channels")][1:] == (10, 15)
    assert () not in src.key_positions


def test_locate_uses_deepest_existing_prefix():
    src = parse_source(SPEC)
    assert src.locate(("stem", "channels"))[1:] == (6, 13)
    assert src.locate(("stem", "channels"), key=True)[1:] == (6, 3)
    assert src.locate(("stem", "kernel"))[1:] == (5, 3)  # missing field -> its parent
    assert src.locate(("stem", "kernel"), key=True)[1:] == (4, 1)
    assert src.locate(("stages", 7, "depth"))[1:] == (8, 3)
    assert src.locate(())[1:] == (1, 1)
    assert src.locate((), key=True)[1:] == (1, 1)
    assert src.locate(("nope", 3))[1:] == (1, 1)


def test_columns_count_characters_not_bytes():
    src = parse_source("é: {ü: 1}\n")
    assert src.key_positions[("é", "ü")][1:] == (1, 5)
    assert src.positions[("é", "ü")][1:] == (1, 8)


def test_bytes_input_and_byte_order_mark():
    src = parse_source("\ufeffa: é\n".encode())
    assert src.tree == {"a": "é"}
    assert src.text == "a: é\n"


def test_aliases_are_expanded_into_independent_copies():
    src = parse_source("base: &b {act: relu}\nx: *b\ny: *b\n")
    assert src.tree == {"base": {"act": "relu"}, "x": {"act": "relu"}, "y": {"act": "relu"}}
    assert src.tree["x"] is not src.tree["y"]
    assert src.positions[("y", "act")][1:] == (1, 16)  # where the anchored text is


# ---- scalars: YAML 1.2 core schema --------------------------------------------------

@pytest.mark.parametrize("text", ["null", "Null", "NULL", "~", ""])
def test_null(text):
    assert value(text) is None


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("True", True), ("TRUE", True),
    ("false", False), ("False", False), ("FALSE", False),
])
def test_bool(text, expected):
    assert value(text) is expected


@pytest.mark.parametrize("text, expected", [
    ("0", 0), ("42", 42), ("-7", -7), ("+12", 12), ("0o17", 15), ("0x1F", 31), ("0x1f", 31),
])
def test_int(text, expected):
    result = value(text)
    assert type(result) is int and result == expected


@pytest.mark.parametrize("text, expected", [
    ("1.5", 1.5), ("-2.", -2.0), (".5", 0.5), ("1e-5", 1e-5), ("6.0E+3", 6000.0), ("1E3", 1000.0),
    (".inf", math.inf), (".Inf", math.inf), (".INF", math.inf), ("+.inf", math.inf),
    ("-.inf", -math.inf), ("-.Inf", -math.inf),
])
def test_float(text, expected):
    result = value(text)
    assert type(result) is float and result == expected


@pytest.mark.parametrize("text", [".nan", ".NaN", ".NAN"])
def test_nan(text):
    assert math.isnan(value(text))


@pytest.mark.parametrize("text", [
    "yes", "no", "on", "off", "y", "n", "Yes", "OFF", "25.6M", "1_000", "1_000.5", "0b101",
    "0O17", "0X1F", "+0x1F", "nan", "inf", "12:30", "1.2.3", "relu",
])
def test_everything_else_is_a_string(text):
    result = value(text)
    assert type(result) is str and result == text


@pytest.mark.parametrize("text", ["'1'", '"true"', "'null'", "'~'", '"1e-5"', "''"])
def test_quoted_scalars_are_strings(text):
    assert value(text) == text[1:-1]


def test_block_scalars_are_strings():
    assert parse_source("v: |\n  42\n").tree["v"] == "42\n"


def test_keys_are_resolved_like_values():
    assert parse_source("1: a\nfalse: b\n'2': c\nyes: d\n").tree == {1: "a", False: "b", "2": "c", "yes": "d"}


def test_keys_equal_in_python_are_duplicates():
    # 1 and true are different YAML keys but the same dict key: refuse rather than lose one
    check(only_issue("1: a\ntrue: b\n"), 2, 1, "AS102", "duplicate key True (first at line 1)")


@pytest.mark.parametrize("text, expected", [
    ("!!str 12", "12"), ("!!str true", "true"), ("!!str", ""), ("!!int '12'", 12),
    ("!!int 0x10", 16), ("!!float 3", 3.0), ("!!float 1e-5", 1e-5), ("!!bool false", False),
    ("!!null ~", None), ("!!null", None), ("!!map {a: 1}", {"a": 1}), ("!!seq [1]", [1]),
])
def test_standard_tags_are_applied(text, expected):
    result = value(text)
    assert result == expected and type(result) is type(expected)


# ---- tags, keys, merges -------------------------------------------------------------

@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system", "!!python/name:os.system", "!!binary", "!!set",
    "!!omap", "!!timestamp", "!!merge", "!custom", "!<tag:example.com,2000:x>",
])
def test_other_tags_are_refused(tag):
    issue = only_issue(f"archspec: 1\nv: {tag} [ls]\n")
    check(issue, 2, 4, "AS103", f"tag '{tag.strip('!<>') if tag.startswith('!<') else tag}' is not allowed")
    assert issue.hint == "archspec reads plain YAML only: remove the tag"


def test_python_object_tag_never_runs(tmp_path):
    marker = tmp_path / "ran"
    issues_of(f"v: !!python/object/apply:os.system ['touch {marker}']\n")
    assert not marker.exists()


@pytest.mark.parametrize("text, column, fragment", [
    ("v: !!int abc", 4, "'abc' is not a valid int"),
    ("v: !!int 1.5", 4, "'1.5' is not a valid int"),
    ("v: !!float yes", 4, "'yes' is not a valid float"),
    ("v: !!bool yes", 4, "'yes' is not a valid bool"),
    ("v: !!null 0", 4, "'0' is not a valid null"),
    ("v: !!str [1]", 4, "tag '!!str' cannot be used on a list"),
    ("v: !!seq {a: 1}", 4, "tag '!!seq' cannot be used on a mapping"),
    ("v: !!map abc", 4, "tag '!!map' cannot be used on a string"),
])
def test_standard_tag_that_does_not_fit(text, column, fragment):
    check(only_issue(text), 1, column, "AS103", fragment)


def test_all_tag_errors_are_reported():
    issues = issues_of("a: !x 1\nb:\n  - !!binary aGk=\n  - ok\nc: !!python/name:os.system\n")
    assert [(i.line, i.column, i.code) for i in issues] == [(1, 4, "AS103"), (3, 5, "AS103"), (5, 4, "AS103")]


def test_duplicate_keys_are_all_reported():
    text = "stem:\n  stride: 2\n  kernel: 7\n\n  stride: 1\nname: a\ninput: {size: 1, size: 2}\nname: b\n"
    issues = issues_of(text)
    assert len(issues) == 3
    check(issues[0], 5, 3, "AS102", "duplicate key 'stride' (first at line 2)")
    assert issues[0].hint == "remove one of them"
    check(issues[1], 7, 18, "AS102", "duplicate key 'size' (first at line 7)")
    check(issues[2], 8, 1, "AS102", "duplicate key 'name' (first at line 6)")


def test_duplicate_inside_an_alias_is_reported_once():
    issues = issues_of("a: &x {k: 1, k: 2}\nb: *x\nc: *x\n")
    assert len(issues) == 1
    check(issues[0], 1, 14, "AS102", "duplicate key 'k'")


def test_merge_key_is_refused():
    issue = only_issue("base: &b {act: relu}\nstem:\n  <<: *b\n  channels: 64\n")
    check(issue, 3, 3, "AS103", "merge keys ('<<') are not allowed")
    assert "write the keys out" in issue.hint


def test_quoted_merge_key_is_an_ordinary_string():
    assert parse_source("'<<': 1\n").tree == {"<<": 1}


@pytest.mark.parametrize("text, line, column, fragment", [
    ("? [a, b]\n: 1\n", 1, 3, "not a list"),
    ("a: 1\n{x: 1}: 2\n", 2, 1, "not a mapping"),
])
def test_collection_keys_are_refused(text, line, column, fragment):
    check(only_issue(text), line, column, "AS103", fragment)


# ---- aliases, size, depth -----------------------------------------------------------

def billion_laughs(levels=9, width=10):
    lines = ["a: &a [" + ", ".join(['"lol"'] * width) + "]"]
    names = "abcdefghijklmnopqrstuvwxyz"
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ", ".join([f"*{names[i - 1]}"] * width) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_quickly():
    start = time.perf_counter()
    issue = only_issue(billion_laughs())
    assert time.perf_counter() - start < 1.0
    # a: 11 nodes, b: 111, c: 1,111, d: 11,111, e: 111,111 > 20,000
    check(issue, 5, 4, "AS104", "aliases expand to more than 20,000 nodes")
    assert issue.hint


def test_many_nodes_without_aliases_are_refused_where_they_pass_the_limit():
    text = "v: [" + ", ".join(["1"] * 100_000) + "]\n"
    start = time.perf_counter()
    issue = only_issue(text)
    assert time.perf_counter() - start < 1.0  # refused from the event stream, before composing
    # node 20,001 is item 19,998 of the list, after the top-level mapping, the key and the list
    check(issue, 1, len("v: [") + 3 * 19_997 + 1, "AS104", "the file has more than 20,000 nodes")


def test_modest_aliases_are_fine():
    assert len(parse_source(billion_laughs(levels=3)).tree) == 3


@pytest.mark.parametrize("text, line, column", [
    ("a: &x [*x]\n", 1, 4),
    ("a: &x {b: [1, {c: *x}]}\n", 1, 4),
])
def test_alias_cycle_is_refused(text, line, column):
    check(only_issue(text), line, column, "AS104", "cycle")


def nested(depth):
    return "v: " + "[" * depth + "]" * depth + "\n"


def test_nesting_up_to_the_limit_is_fine():
    value, depth = parse_source(nested(MAX_DEPTH - 1)).tree["v"], 0  # the top-level mapping is level 1
    while value:
        value, depth = value[0], depth + 1
    assert (value, depth) == ([], MAX_DEPTH - 2)


def test_nesting_too_deep_points_at_first_too_deep_node():
    # level 1 is the top-level mapping, so the 64th '[' is level 65, at column 3 + 64
    check(only_issue(nested(MAX_DEPTH)), 1, 3 + MAX_DEPTH, "AS104", "deeper than 64 levels")


def test_block_nesting_too_deep():
    text = "".join("  " * i + f"k{i}:\n" for i in range(70)) + "  " * 70 + "x: 1\n"
    check(only_issue(text), 65, 129, "AS104", "deeper than 64 levels")


def test_very_deep_nesting_is_refused_not_crashed():
    # libyaml's composer recurses in C: 100,000 levels would crash the interpreter
    # (libyaml 0.2.5 as bundled with PyYAML 6.0.4 stops by itself at level 1000, scanning ahead first)
    issue = only_issue(nested(100_000))
    assert issue.column in (3 + MAX_DEPTH, 3 + 1000)
    check(issue, 1, issue.column, "AS104", "deeper than 64 levels")


def test_aliases_that_nest_too_deep_are_refused():
    inner = "[" * 60 + "]" * 60
    text = f"a: &a {inner}\nb: [[[[[*a]]]]]\n"
    check(only_issue(text), 1, 4, "AS104", "deeper than 64 levels")  # the anchored node, from '&a'


def test_long_alias_chain_does_not_recurse_without_bound():
    text = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 3000))
    check(only_issue(text), MAX_DEPTH - 1, 6, "AS104", "deeper than 64 levels")


# ---- file-level errors --------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n...\n"])
def test_empty_file(text):
    issue = only_issue(text)
    assert (issue.line, issue.code, issue.message) == (None, "AS101", "file is empty")
    assert "`archspec show resnet18 > my.yaml`" in issue.hint and "specs/" not in issue.hint  # a pip user has no specs/


@pytest.mark.parametrize("text, what", [
    ("- a\n- b\n", "not a list"), ("resnet\n", "not a string"), ("42\n", "not a number"),
    ("null\n", "not null"), ("true\n", "not true/false"),
])
def test_top_level_must_be_a_mapping(text, what):
    check(only_issue(text), 1, 1, "AS101", f"the top level must be a mapping of keys (archspec, name, input, ...), {what}")


def test_several_documents():
    check(only_issue("a: 1\n---\nb: 2\n"), 2, 1, "AS101", "one YAML document")
    check(only_issue("---\na: 1\n---\nb: 2\n"), 3, 1, "AS101", "one YAML document")


@pytest.mark.parametrize("text, line, column, fragment, hint", [
    ("a:\n\tb: 1\n", 2, 1, "cannot start any token", "indent with spaces"),
    ("a:\n  b: 1\n\tc: 2\n", 3, 1, "", "indent with spaces"),
    ("a: 'abc\nb: 2\n", 3, 1, "quoted scalar at line 1, column 4", "close the quote"),
    ('a: "abc\n', 2, 1, "end of stream", "close the quote"),
    ("a: 1\n b: 2\n", 2, 2, "line 2 is indented more than line 1", "keys of one mapping line up"),
    ("a: [1, 2\nb: 3\n", 2, 2, "flow sequence", ""),
    ("a: {b: 1\n", 2, 1, "flow mapping", ""),
    ("a: 1\nb\n", 3, 1, "could not find expected ':'", "key: value"),
    ("a: *nope\n", 1, 4, "undefined alias", "anchor"),
    ("a: &x 1\nb: &x 2\n", 2, 4, "anchor defined twice (first at line 1)", ""),
])
def test_syntax_errors(text, line, column, fragment, hint):
    issue = only_issue(text)
    check(issue, line, column, "AS101", fragment)
    assert hint in issue.hint


def test_control_character():
    check(only_issue("a: é\nb: [1, \x00]\n"), 2, 8, "AS101", "U+0000 is not allowed")


def test_not_utf8():
    check(only_issue(b"a: 1\nb: \xc3\xa9 \xff\n"), 2, 6, "AS100", "not UTF-8 (byte 0xff)")
    check(only_issue("a: \udc80\n"), 1, 4, "AS100", "not UTF-8")
    check(only_issue("a: 1\n".encode("utf-16")), 1, 1, "AS100", "not UTF-8")


def test_too_large_text():
    issue = only_issue("a: " + "x" * MAX_FILE_BYTES)
    assert (issue.line, issue.code) == (None, "AS100")
    assert issue.message == f"file is {MAX_FILE_BYTES + 3:,} bytes; the limit is 1,000,000"


def test_limits_can_be_changed(monkeypatch):
    monkeypatch.setattr(limits, "MAX_NODES", 5)
    check(only_issue("v: [1, 2, 3, 4, 5]\n"), 1, 11, "AS104", "more than 5 nodes")
    monkeypatch.setattr(limits, "MAX_DEPTH", 2)
    check(only_issue("v: [[1]]\n"), 1, 5, "AS104", "deeper than 2 levels")


@pytest.mark.parametrize("data, outcome", [
    (b"\x00\x01", (1, 1)), (b"{", (2, 1)), (b"]", (1, 1)), (b"&", (1, 2)), (b"*", (1, 2)), (b"!", (1, 1)),
    (b"%YAML 1.1\n%YAML 1.1\n", (2, 1)), (b"a: !<> 1", (1, 6)), (b"a: |\n b\nc", (4, 1)), (b": :", (1, 1)),
    (b"- &a\n- *a\n", (1, 1)), (b"\xef\xbb\xbf", (None, None)),
    (b"? ", {None: None}), ("\u2028a: 1\n".encode(), {"a": 1}),
    (b"{a: [b, {c: d}], e: f}", {"a": ["b", {"c": "d"}], "e": "f"}),
])
def test_odd_input_gives_a_tree_or_one_located_syntax_error(data, outcome):
    if isinstance(outcome, dict):
        assert parse_source(data).tree == outcome
    else:
        issue = only_issue(data)
        assert ((issue.line, issue.column), issue.code) == (outcome, "AS101"), issue


@pytest.mark.parametrize("text", ["a: " + "9" * 5000, "a: 0x" + "f" * 5000, "a: !!int " + "9" * 5000])
def test_a_number_too_long_to_print_is_refused_where_it_is(text):
    check(only_issue(text), 1, 4, "AS103", "a number of 5,000 digits is too long to read")


# ---- load_source --------------------------------------------------------------------

def test_load_source(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(SPEC)
    src = load_source(path)
    assert src.path == str(path) and src.tree["stem"]["channels"] == 64
    assert load_source(str(path)).tree == src.tree


def test_load_source_reports_the_path(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\na: 2\n")
    with pytest.raises(SpecError) as info:
        load_source(path)
    [issue] = info.value.issues
    assert (issue.file, issue.line, issue.column, issue.code) == (str(path), 2, 1, "AS102")


def test_missing_file(tmp_path):
    with pytest.raises(SpecError) as info:
        load_source(tmp_path / "nope.yaml")
    [issue] = info.value.issues
    assert (issue.line, issue.code, issue.message) == (None, "AS100", "no such file or folder")  # as validate says


def test_directory(tmp_path):
    with pytest.raises(SpecError) as info:
        load_source(tmp_path)
    [issue] = info.value.issues
    assert (issue.file, issue.line, issue.code) == (str(tmp_path), None, "AS100")
    assert "directory" in issue.message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.yaml"
    path.write_text("a: 1\n")
    path.chmod(0)
    with pytest.raises(SpecError) as info:
        load_source(path)
    assert [(i.line, i.code) for i in info.value.issues] == [(None, "AS100")]


def test_too_large_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(1_234_567)  # sparse: nothing needs to be read to refuse it
    with pytest.raises(SpecError) as info:
        load_source(path)
    [issue] = info.value.issues
    assert (issue.line, issue.code) == (None, "AS100")
    assert issue.message == "file is 1,234,567 bytes; the limit is 1,000,000"


def test_not_utf8_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_source(path)
    [issue] = info.value.issues
    assert (issue.line, issue.column, issue.code) == (1, 10, "AS100")


def test_shipped_specs_load():
    from conftest import shipped_specs
    for path in shipped_specs():
        assert isinstance(load_source(path).tree, dict)


SLIP_BASE = """\
archspec: 1
defaults:
  block: basic
  shortcut: auto
stem: {type: conv, channels: 16}
stages:
  - depth: 2
    channels: 16
  - {depth: 2, channels: 32}
"""


@pytest.mark.parametrize("old, new, expected", [
    ("  block: basic", "  block basic",
     "spec.yaml:3:3: error: missing ':' after 'block' — a `key: value` pair needs a colon and a space: "
     "`block: basic`"),
    ("  shortcut: auto", "  shortcut auto",
     "spec.yaml:4:3: error: missing ':' after 'shortcut' — a `key: value` pair needs a colon and a space: "
     "`shortcut: auto`"),
    ("stem: {type", "stem {type",
     "spec.yaml:5:1: error: missing ':' after 'stem' — a `key: value` pair needs a colon and a space: "
     "`stem: {type: conv, channel ...`"),
    ("  - {depth: 2, channels: 32}", "  {depth: 2, channels: 32}",
     "spec.yaml:9:3: error: a list item without its '- ' — list items start with `- `"),
    ("  shortcut: auto", "    shortcut: auto",
     "spec.yaml:4:5: error: line 4 is indented more than line 3 — keys of one mapping line up under each other "
     "(or is line 3 a list item missing its `- `?)"),
    ("    channels: 16", "   channels: 16",
     "spec.yaml:8:4: error: line 8 is indented by 3 spaces, like no key above it — keys of one mapping line up "
     "under each other: indent it 4 spaces, under `depth` (line 7) or 0, under `stages` (line 6); "
     "list items start with `- `"),
    ("  shortcut: auto", " shortcut: auto",
     "spec.yaml:4:2: error: line 4 is indented by 1 space, like no key above it — keys of one mapping line up "
     "under each other: indent it 2 spaces, under `block` (line 3) or 0, under `defaults` (line 2); "
     "list items start with `- `"),
])
def test_a_structure_slip_points_at_its_line_in_plain_words(old, new, expected):
    assert old in SLIP_BASE
    assert str(only_issue(SLIP_BASE.replace(old, new))) == expected
