"""Fuzzing: YAML text and bytes through load, check and plan (random spec-shaped trees,
mutated, are test_properties.py's).

Whatever comes in, the only exception out is SpecError, and each of its issues names
the file and, unless the whole file is at fault, a line. A spec that passes prints.
A bounded, derandomised number of examples runs by default (the same ones on every
run, so CI is stable); set ARCHSPEC_FUZZ_EXAMPLES=N to fuzz longer, on new examples.
"""

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec import SpecError, load, plan
from archspec.planning.report import summary
from archspec.reading.source import parse_source
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
