"""Invalid specs: each error is reported at its exact line:column with a useful message."""

from pathlib import Path

import pytest

import archspec
from archspec import SpecError
from conftest import TINY_SPEC

BASE = TINY_SPEC


def variant(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


CASES = {
    "unknown top-level key": (BASE + "heads: 3\n", 10, 1, "unknown key 'heads' in top level — did you mean 'head'?"),
    "unknown stage key": (variant("channels: 32, stride: 2", "channels: 32, strides: 2"), 8, 30,
                          "unknown key 'strides' in stages.1 — did you mean 'stride'?"),
    "unknown stem key": (variant("channels: 16, kernel", "chanels: 16, kernel"), 5, 20,
                         "unknown key 'chanels' in stem — did you mean 'channels'?"),
    "missing key": (variant("name: tiny\n", ""), 1, 1, "missing key 'name' in top level"),
    "missing stage depth": (variant("{depth: 2, channels: 32, stride: 2}", "{channels: 32, stride: 2}"), 8, 5,
                            "missing key 'depth' in stages.1"),
    "unknown block kind": (variant("block: basic", "block: bottlenek"), 4, 19,
                           "defaults.block: 'bottlenek' is not one of: basic, bottleneck, convnext, fused_inverted_residual, inverted_residual, preact_basic, preact_bottleneck, regnet — did you mean 'bottleneck'?"),
    "unknown head type": (variant("type: classifier", "type: classifer"), 9, 14,
                          "head.type: 'classifer' is not one of: classifier, conv_classifier, none, features, block"),
    "unknown shortcut": (variant("shortcut: auto", "shortcut: projected"), 4, 36,
                         "defaults.shortcut: 'projected' is not one of: auto, identity, projection, zeropad, avgpool, none"),
    "zero depth": (variant("{depth: 2, channels: 16", "{depth: 0, channels: 16"), 7, 13,
                   "stages.0.depth: 0 is too small — use a number ≥ 1"),
    "float channels": (variant("channels: 32,", "channels: 32.5,"), 8, 26, "stages.1.channels: expected a whole number, got 32.5"),
    "bool stride": (variant("stride: 2}", "stride: true}"), 8, 38, "stages.1.stride: expected a whole number, got true"),
    "negative classes": (variant("classes: 10", "classes: -1"), 9, 46, "head.classes: -1 is too small — use a number ≥ 1"),
    "dropout of one": (variant("classes: 10", "classes: 10, dropout: 1.0"), 9, 59, "head.dropout: 1.0 is too large — use a number < 1"),
    "nan dropout": (variant("classes: 10", "classes: 10, dropout: .nan"), 9, 59, "head.dropout: nan is not a finite number"),
    "empty stages": (variant("""  - {depth: 2, channels: 16, stride: 1}
  - {depth: 2, channels: 32, stride: 2}
""", "").replace("stages:\n", "stages: []\n"), 6, 9, "stages: has 0 items; it needs at least 1"),
    "size of three numbers": (variant("size: 32", "size: [32, 32, 3]"), 3, 28, "input.size: has 3 items; it needs at most 2 — size: one number for a square input, or [height, width]"),
    "wrong version": (variant("archspec: 1", "archspec: 2"), 1, 11, "archspec: 2 is not one of: 1"),
    "identity shortcut with a stride": (variant("defaults: {block: basic, shortcut: auto}",
                                                "defaults: {block: basic, shortcut: identity}"), 8, 5,
                                        "layer2.0: identity shortcut cannot carry 16×32×32 to 32×16×16 "
                                        "(stride 2, channels change) — use `shortcut: auto` or `projection`"),
    "zeropad that shrinks": (variant("channels: 32, stride: 2}", "channels: 8, stride: 2, shortcut: zeropad}"), 8, 5,
                             "layer2.0: zeropad shortcut cannot reduce 16 channels to 8"),
    "stem collapses the input": (variant("size: 32", "size: 4").replace("kernel: 3, stride: 1", "kernel: 7, stride: 2, padding: 0"),
                                 5, 7, "conv1: conv 7×7, stride 2, padding 0 reduces 4×4 to 0×0 — use an input of at least 7×7 (the smallest this spec accepts)"),
    "bottleneck narrower than 1": (variant("block: basic", "block: bottleneck").replace("channels: 16, stride: 1}", "channels: 2, stride: 1}"),
                                   7, 5, "layer1.0: bottleneck width is channels / 4 = 0.5 (and 1 more like it in layer1) — set `width:`"),
}


@pytest.mark.parametrize("text,line,column,fragment", CASES.values(), ids=CASES.keys())
def test_invalid_spec_is_located(write_spec, text, line, column, fragment):
    path = write_spec(text)
    with pytest.raises(SpecError) as e:
        archspec.plan(path)
    hits = [i for i in e.value.issues if fragment in str(i)]
    assert hits, f"no issue contains {fragment!r}: {e.value}"
    assert (hits[0].file, hits[0].line, hits[0].column) == (str(path), line, column)


def test_mnist_small_with_identity_shortcuts_fails_at_each_stage_line(tmp_path):
    text = Path("specs/examples/mnist_small.yaml").read_text().replace("shortcut: auto", "shortcut: identity")
    path = tmp_path / "mnist_identity.yaml"
    path.write_text(text)
    stage_lines = [n for n, l in enumerate(text.splitlines(), 1) if l.startswith("  - {depth")]
    with pytest.raises(SpecError) as e:
        archspec.plan(path)
    assert [(i.line, i.column) for i in e.value.issues] == [(n, 5) for n in stage_lines]
    assert "layer1.0: identity shortcut cannot carry 1×28×28 to 16×14×14 (stride 2, channels change)" in str(e.value)


def test_every_mistake_of_a_file_is_reported_in_line_order(write_spec):
    text = (variant("block: basic", "block: bottlenek").replace("classes: 10", "classes: 0")
            .replace("{depth: 2, channels: 16", "{depth: 2, chanels: 16"))
    with pytest.raises(SpecError) as e:
        archspec.load(write_spec(text))
    assert [(i.line, i.code) for i in e.value.issues] == [(4, "AS205"), (7, "AS202"), (7, "AS201"), (9, "AS204")]
