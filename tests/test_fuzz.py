"""Fuzzing: YAML text, bytes and spec-shaped trees through load, check and plan.

Whatever comes in, the only exception out is SpecError, and each of its issues names
the file and, unless the whole file is at fault, a line. A spec that passes prints.
A bounded, derandomised number of examples runs by default (the same ones on every
run, so CI is stable); set ARCHSPEC_FUZZ_EXAMPLES=N to fuzz longer, on new examples.
"""

import copy
import json
import os

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec import SpecError, load, plan
from archspec.report import summary
from archspec.source import parse_source
from conftest import shipped_specs

EXAMPLES = os.environ.get("ARCHSPEC_FUZZ_EXAMPLES")  # set: fuzz longer, with new examples each run
FUZZ = settings(derandomize=EXAMPLES is None, deadline=None, max_examples=int(EXAMPLES or 150),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FILE = "fuzz.yaml"
FILE_LEVEL = {"file is empty"}  # issues about the whole file, which have no line


def check(text: str | bytes) -> None:
    """Load, check and plan `text`: a plan that prints, or a SpecError with located issues."""
    try:
        p = plan(load(parse_source(text, FILE)))
    except SpecError as e:
        assert e.issues
        for issue in e.issues:
            assert issue.file == FILE
            assert issue.line is not None or issue.message in FILE_LEVEL, issue
            assert issue.message
            str(issue)
        return
    summary(p)
    json.dumps(p.to_dict())


# ---- YAML text ----------------------------------------------------------------------

TOKENS = [
    ":", ": ", "- ", "-", "[", "]", "{", "}", ",", "\n", "\n  ", "\n    ", "\t", " ", "#", "'", '"', "|", ">", "?",
    "&a ", "*a", "&b ", "*b", "<<: ", "---\n", "...\n", "%YAML 1.1\n", "!", "!!str ", "!!int ", "!!float ",
    "!!python/object/apply:os.system ", "!!binary ", "!!set ", "!custom ", "!<tag:yaml.org,2002:str> ",
    "1", "0", "-1", "64", "1e-5", "1e999", ".nan", ".inf", "-.inf", "0x1F", "0o17", "1_000", "true", "yes", "no",
    "null", "~", "9" * 60, "\\", "\\e", "\\x00", "\u202e", "\x00", "\x7f", "\ufeff", "é",
    "archspec", "name", "input", "stem", "stages", "head", "defaults", "channels", "depth", "stride", "size",
    "kernel", "classes", "dropout", "type", "block", "shortcut", "conv", "none", "classifier", "bottleneck",
]

yaml_texts = st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=80).map("".join)

SPEC_TEXTS = [p.read_text() for p in shipped_specs()]


@st.composite
def edited_specs(draw) -> str:
    """A shipped spec with a few tokens inserted and a few characters deleted."""
    text = draw(st.sampled_from(SPEC_TEXTS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
    return text


@FUZZ
@given(yaml_texts)
def test_random_yaml_text(text):
    check(text)


@FUZZ
@given(edited_specs())
def test_edited_specs(text):
    check(text)


@FUZZ
@given(st.binary(max_size=200) | edited_specs().map(lambda t: t.encode("utf-8", "surrogatepass")[:-3] + b"\xff\xfe"))
def test_random_bytes(data):
    check(data)


# ---- spec-shaped trees --------------------------------------------------------------

ABSURD = [0, -1, -(2**63), 2**63, 10**9, 10**12, 10**4000, 1.5, 64.0, float("nan"), float("inf"), True, None, "64",
          "", [], {}]
scalars = (st.integers(-3, 70) | st.sampled_from(ABSURD) | st.floats() | st.booleans() | st.none()
           | st.text(max_size=8))
KEYS = st.sampled_from(["type", "channels", "depth", "size", "extra", "<<", "1"]) | st.text(max_size=4)
anything = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(KEYS, kids, max_size=3),
                        max_leaves=6)


def mapping(required: dict, optional: dict | None = None) -> st.SearchStrategy:
    return st.fixed_dictionaries(required, optional=optional or {})


small = st.integers(1, 4)
huge = st.sampled_from([10**9, 10**12, 10**4000])  # valid to the schema; the planner refuses them
channels = st.sampled_from([1, 3, 4, 8, 16, 64])
settings_fields = {
    "block": st.sampled_from(["basic", "bottleneck"]),
    "shortcut": st.sampled_from(["auto", "identity", "projection", "zeropad", "none"]),
    "norm": st.sampled_from(["batchnorm", "none"]),
    "act": st.sampled_from(["relu", "none"]),
    "width": channels,
    "zero_init_residual": st.booleans(),
}
stage = mapping({"depth": small | small | huge, "channels": channels | channels | huge},
                {"stride": small, **settings_fields})
stem = mapping({"type": st.just("conv"), "channels": channels},
               {"kernel": st.integers(1, 7), "stride": small, "padding": st.integers(0, 3),
                "pool": st.sampled_from(["max", "avg", "none"])}) | st.just({"type": "none"})
head = mapping({"type": st.just("classifier"), "classes": st.integers(1, 20)},
               {"pool": st.sampled_from(["avg", "max", "flatten"]), "dropout": st.floats(0, 0.99)}) \
    | st.just({"type": "none"})
valid_trees = mapping(
    {"archspec": st.just(1), "name": st.from_regex(r"[a-z0-9_.\-]{1,8}", fullmatch=True),
     "input": mapping({"channels": small, "size": st.integers(1, 64) | st.lists(st.integers(1, 64), min_size=2,
                                                                                 max_size=2) | huge}),
     "stem": stem, "stages": st.lists(stage, min_size=1, max_size=4), "head": head},
    {"description": st.text(max_size=20), "defaults": mapping({}, settings_fields)},
)


@st.composite
def spec_trees(draw) -> dict:
    """A tree the schema accepts, with up to three entries replaced, added or deleted."""
    tree = copy.deepcopy(draw(valid_trees))  # st.just gives the same dict every time
    for _ in range(draw(st.integers(0, 3))):
        _corrupt(draw, tree)
    return tree


def _corrupt(draw, node) -> None:
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = draw(st.sampled_from(keys)) if keys else None
        if key is not None and isinstance(node[key], (dict, list)) and node[key] and draw(st.booleans()):
            node = node[key]  # go deeper
            continue
        action = draw(st.sampled_from(["replace", "delete", "add"])) if key is not None else "add"
        if action == "replace":
            node[key] = draw(anything)
        elif action == "delete":
            del node[key]
        elif isinstance(node, dict):
            node[draw(KEYS)] = draw(anything)
        else:
            node.append(draw(anything))
        return


@FUZZ
@given(spec_trees())
def test_spec_shaped_trees(tree):
    check(yaml.safe_dump(tree, sort_keys=False, allow_unicode=True))
