"""The expression language of blocks written in the spec: values, every refusal located at
the expression, and properties over random text (only SpecError, never slow)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archspec.errors import SpecError
from archspec.reading.expr import MAX_CHARS, parse
from archspec.reading.source import Origin

AT = Origin("net.yaml", 12, 14)
NAMES = {"channels": 64, "squeeze": 16, "stride": 2, "ratio": 0.25, "in_channels": 32, "deep": True}


def value(text: str, names: dict = NAMES):
    return parse(text, AT, names, "blocks.fire.let.mid").value(names, "layer2.0")


def refusal(text: str, names: dict = NAMES):
    with pytest.raises(SpecError) as info:
        value(text, names)
    (issue,) = info.value.issues
    assert (issue.file, issue.line, issue.column) == ("net.yaml", 12, 14)
    return issue


@pytest.mark.parametrize("text, expected", [
    ("squeeze * 4", 64),
    ("channels // 4 + 1", 17),
    ("channels / 128", 0.5),
    ("-stride ** 2", -4),
    ("(channels + 7) % 8", 7),
    ("2 ** -1", 0.5),
    ("make_divisible(channels * ratio)", 16),
    ("make_divisible(100 * 0.25)", 24),  # torchvision's rule: 25 → 24
    ("make_divisible(37, divisor=4)", 36),
    ("make_divisible(37, 16)", 48),  # 32 would be more than 10 % below 37
    ("min(channels, squeeze, 100)", 16),
    ("max(1, channels * 0.1)", 6.4),
    ("round(channels * 0.3)", 19),
    ("round(2.5)", 2),  # Python's banker's rounding, as torchvision's round()
    ("round(1.23456, 2)", 1.23),
    ("ceil(channels / 3)", 22),
    ("floor(channels / 3)", 21),
    ("int(channels * ratio)", 16),
    ("stride > 1 or in_channels != channels", True),
    ("stride == 1 and not deep", False),
    ("1 < stride <= 2", True),
    ("squeeze if deep else channels", 16),
    ("  channels  ", 64),
])
def test_values(text, expected):
    got = value(text)
    assert got == expected and type(got) is type(expected)


def test_names_read_are_recorded():
    assert parse("min(channels, squeeze) * 2", AT, NAMES).names == {"channels", "squeeze"}


@pytest.mark.parametrize("text, message", [
    ("channels // (stride - 2)", "`channels // (stride - 2)` divides by zero (in layer2.0)"),
    ("1 + squeeze % 0", "`1 + squeeze % 0` divides by zero (at `squeeze % 0`)"),
    ("0 ** -1", "`0 ** -1` divides by zero"),
    ("2 ** channels", "`2 ** channels` gives a number beyond ±10^15"),  # 2 ** 64 is computed, then refused
    ("2 ** (channels + 1)", "`2 ** (channels + 1)` raises to the power 65; the limit is 64"),
    ("9 ** 9 ** 9", "`9 ** 9 ** 9` raises to the power 387420489; the limit"),
    ("10 ** 16", "`10 ** 16` gives a number beyond ±10^15"),
    ("channels * 10 ** 14", "`channels * 10 ** 14` gives a number beyond ±10^15"),
    ("2.0 ** 60", "`2.0 ** 60` gives a number beyond ±10^15"),
    ("(-8) ** 0.5", "`(-8) ** 0.5` takes a fractional power of a negative number"),
    ("deep + 1", "`deep + 1` uses true/false as a number (at `deep`)"),
    ("1 if channels else 2", "`1 if channels else 2` uses the number 64 as a condition (at `channels`)"),
    ("round(ratio, 99)", "`round(ratio, 99)` gives round() 99 digits; it takes a whole number from -15 to 15"),
    ("make_divisible(channels, divisor=0)", "`make_divisible(channels, divisor=0)` gives make_divisible() the divisor 0"),
])
def test_values_that_cannot_be_computed_are_located_errors(text, message):
    issue = refusal(text)
    assert issue.code == "AS902"
    assert issue.message.startswith("blocks.fire.let.mid: " + message)
    assert issue.message.endswith(" (in layer2.0)")


@pytest.mark.parametrize("text, message, hint", [
    ("chanels * 2", "uses the unknown name 'chanels'", "did you mean 'channels'?"),
    ("zzz", "uses the unknown name 'zzz'", "names here: channels, deep, in_channels, ratio, squeeze, stride"),
])
def test_an_unknown_name_says_which_names_there_are(text, message, hint):
    issue = refusal(text)
    assert (issue.code, issue.message) == ("AS901", f"blocks.fire.let.mid: `{text}` {message}")
    assert hint in issue.hint


@pytest.mark.parametrize("text, message", [
    ("channels *", "cannot be read: invalid syntax"),
    ("__import__('os').system('true')", "calls `__import__('os').system`, which is not a function expressions have"),
    ("__import__('os')", "calls __import__(), which is not a function expressions have"),
    ("open('x')", "calls open(), which is not a function expressions have"),
    ("channels.real", "uses attributes (a.b), which expressions do not have"),
    ("(lambda: 1)()", "calls `lambda: 1`, which is not a function"),
    ("[1, 2][0]", "uses indexing ([...]), which expressions do not have"),
    ("'abc'", "uses text, which expressions do not have"),
    ("1j", "uses 1j, which expressions do not have"),
    ("channels << 2", "uses <<, which expressions do not have"),
    ("[x for x in ()]", "uses comprehensions, which expressions do not have"),
    ("(y := 2)", "uses :=, which expressions do not have"),
    ("min(1)", "gives min() 1 argument; it takes 2 to 64"),
    ("ceil(1, 2)", "gives ceil() 2 arguments; it takes 1"),
    ("min(1, 2, key=3)", "gives min() key=, but min() takes no keyword arguments"),
    ("make_divisible(8, size=4)", "gives make_divisible() size=, but make_divisible() takes only divisor="),
    ("1e999", "has a number beyond ±10^15"),
    ("10000000000000000", "has a number beyond ±10^15"),
    ("-" * 30 + "1", "nests deeper than 24 levels"),
    ("+".join(["min(" + ",".join(["1"] * 60) + ")"] * 4), "has more than 200 parts"),
    ("1" * (MAX_CHARS + 1), f"is {MAX_CHARS + 1:,} characters long; an expression may have 500"),
    ("1\x00", "cannot be read"),
])
def test_text_outside_the_language_is_refused_before_anything_runs(text, message):
    issue = refusal(text)
    assert issue.code == "AS900"
    assert message in issue.message
    assert "(in layer2.0)" not in issue.message  # found when the definition is read, not where it is used


def test_flooring_helpers_suggest_a_close_function():
    assert refusal("flor(channels / 3)").hint.startswith("did you mean floor()? functions: min, max, round")


# ---- properties ---------------------------------------------------------------------------

TOKENS = ["channels", "squeeze", "stride", "ratio", "deep", "in_channels", "x", "0", "1", "2", "64", "0.5", "1e15",
          "10", "99", "+", "-", "*", "/", "//", "%", "**", "(", ")", ",", "<", "==", "!=", "and", "or", "not",
          "if", "else", "min", "max", "round", "ceil", "floor", "int", "make_divisible", "divisor=", "True",
          "__import__", ".", "[", "]", "'", "lambda", ":", "\\", "\n", "#"]

token_text = st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)


@given(st.one_of(token_text, st.text(max_size=80)))
def test_any_text_gives_a_value_or_a_located_error_quickly(text):
    start = time.perf_counter()
    try:
        got = value(text)
    except SpecError as e:
        (issue,) = e.issues
        assert (issue.line, issue.column) == (12, 14) and issue.code in ("AS900", "AS901", "AS902")
    else:
        assert type(got) in (int, float, bool) and (type(got) is bool or abs(got) <= 10**15)
    assert time.perf_counter() - start < 0.5  # microseconds when the machine is quiet


powers = st.lists(st.sampled_from(["9", "99", "channels", "10", "1.5", "-2"]), min_size=2, max_size=8)


@given(powers)
def test_towers_of_powers_are_refused_before_they_are_computed(parts):
    start = time.perf_counter()
    try:
        value(" ** ".join(parts))
    except SpecError as e:
        assert e.issues[0].code == "AS902"
    assert time.perf_counter() - start < 0.5
