"""Invalid uses of the block vocabulary: each is reported at the setting at fault, with its code."""

import pytest

import archspec
from archspec import SpecError
from conftest import TINY_SPEC

# conftest's tiny spec, with bottlenecks wide enough for groups and SE
BASE = (TINY_SPEC.replace("block: basic", "block: bottleneck").replace("channels: 16, stride: 1}", "channels: 64, stride: 1}")
        .replace("channels: 32, stride: 2}", "channels: 128, stride: 2}"))
STAGE_LIST = """\
  - {depth: 2, channels: 64, stride: 1}
  - {depth: 2, channels: 128, stride: 2}
"""


def variant(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


def stage2(extra: str) -> str:
    return variant("channels: 128, stride: 2}", f"channels: 128, stride: 2, {extra}}}")


def defaults(extra: str) -> str:
    return variant("shortcut: auto}", f"shortcut: auto, {extra}}}")


def generated(mapping: str) -> str:
    return variant(STAGE_LIST, "").replace("stages:\n", f"stages: {mapping}\n")


CASES = {  # text, line, column, code, message fragment
    "groups that do not divide the width": (
        stage2("width: 48, groups: 32"), 8, 61, "AS303",
        "layer2.0: groups=32 does not divide the inner width 48 (and 1 more like it in layer2) — choose groups that divide `width`"),
    "groups from defaults": (
        defaults("groups: 5"), 4, 55, "AS303", "layer1.0: groups=5 does not divide the inner width 16"),
    "group width that does not divide the width": (
        stage2("group_width: 24"), 8, 55, "AS303", "group_width 24 does not divide the inner width 32"),
    "both groups and group width": (
        stage2("groups: 2, group_width: 16"), 8, 66, "AS305", "layer2.0: both groups and group_width are set (and 1 more like it in layer2) — set one of them"),
    "groups on a basic block": (
        stage2("block: basic, groups: 2"), 8, 64, "AS305", "stages.1.groups: `groups` does not apply to basic blocks — it applies to bottleneck, preact_bottleneck, regnet"),
    "stride on the 1x1 of a basic block": (
        variant("block: bottleneck", "block: basic, stride_on: 1x1"), 4, 37, "AS305",
        "defaults.stride_on: `stride_on` does not apply to basic blocks (stages 1, 2)"),
    "width of a preact basic block": (
        stage2("block: preact_basic, width: 8"), 8, 70, "AS305", "`width` does not apply to preact_basic blocks"),
    "bottleneck ratio rounding to no channels": (
        stage2("bottleneck_ratio: 0.005"), 8, 60, "AS303", "bottleneck width is channels × 0.005 = 0.64"),
    "stride_on that is not a conv": (
        defaults("stride_on: 3"), 4, 58, "AS205", "defaults.stride_on: 3 is not one of: 3x3, 1x1"),
    "dilation with a stride": (
        stage2("dilation: 2"), 8, 52, "AS306",
        "stages.1 (layer2): dilation 2 with stride 2: dilation replaces the stride — set `stride: 1` on a dilated stage"),
    "SE ratio rounding to zero channels": (
        stage2("se: 0.003"), 8, 46, "AS304",
        "layer2.0: squeeze-excitation ratio 0.003 of 128 channels rounds to 0 channels"),
    "SE divisor rounding to zero channels": (
        defaults("se: 0.03, se_divisor: 8"), 4, 51, "AS304", "ratio 0.03 of 64 channels rounds to 0 channels"),
    "SE ratio above one": (defaults("se: 1.5"), 4, 51, "AS204", "defaults.se: 1.5 is too large — use a number ≤ 1"),
    "SE written as a reduction": (defaults("se: 16"), 4, 51, "AS204", "defaults.se: 16 is too large: `se` is a ratio "
                                  "of channels, at most 1 — a reduction of 16 is `se: 0.0625`"),
    "SE base that is neither in nor out": (
        defaults("se: 0.25, se_base: output"), 4, 66, "AS205",
        "defaults.se_base: 'output' is not one of: out, in, mid — did you mean 'out'?"),
    "groupnorm groups that do not divide the channels": (
        defaults("norm: groupnorm, norm_groups: 24"), 4, 77, "AS307",
        "bn1: groupnorm with 24 groups cannot split 16 channels — set `norm_groups:` to a divisor of 16 such as 8"),
    "unknown norm": (
        defaults("norm: instancenorm"), 4, 53, "AS205",
        "defaults.norm: 'instancenorm' is not one of: batchnorm, groupnorm, layernorm, none"),
    "unknown activation": (
        defaults("act: swish"), 4, 52, "AS205",
        "defaults.act: 'swish' is not one of: relu, relu6, silu, gelu, leaky_relu, hardswish, hardsigmoid, none"),
    "drop path of one": (defaults("drop_path: 1.0"), 4, 58, "AS204", "defaults.drop_path: 1.0 is too large — use a number < 1"),
    "drop path on a stage": (
        stage2("drop_path: 0.1"), 8, 42, "AS201",
        "unknown key 'drop_path' in stages.1 — `drop_path` is a network-wide setting: set it in `defaults`"),
    "deep stem of one conv": (
        variant("{type: conv, channels: 16, kernel: 3, stride: 1, pool: none}", "{type: deep, channels: [16]}"),
        5, 30, "AS204", "stem.channels: has 1 item; it needs at least 2"),
    "deep stem with a kernel": (
        variant("{type: conv, channels: 16, kernel: 3, stride: 1, pool: none}",
                "{type: deep, channels: [8, 16], kernel: 3}"),
        5, 39, "AS201", "unknown key 'kernel' in stem — allowed keys: type, channels, stride, pool"),
    "RegNet w0 not a multiple of 8": (
        generated("{type: regnet, depth: 4, w0: 20, wa: 8.0, wm: 2.5, group_width: 8}"), 6, 38, "AS203",
        "stages.w0: input should be a multiple of 8"),
    "RegNet wm of one": (
        generated("{type: regnet, depth: 4, w0: 24, wa: 8.0, wm: 1, group_width: 8}"), 6, 55, "AS204",
        "stages.wm: 1 is too small — use a number > 1"),
    "RegNet misspelt key": (
        generated("{type: regnet, depth: 4, w0: 24, wa: 8.0, wm: 2.5, groupwidth: 8}"), 6, 60, "AS201",
        "unknown key 'groupwidth' in stages — did you mean 'group_width'?"),
    "RegNet without its type": (
        generated("{depth: 4, w0: 24, wa: 8.0, wm: 2.5, group_width: 8}"), 6, 9, "AS202", "missing key 'type' in stages"),
    "RegNet of an unknown type": (
        generated("{type: regnett, depth: 4, w0: 24, wa: 8.0, wm: 2.5, group_width: 8}"), 6, 16, "AS205",
        "stages.type: 'regnett' is not one of: regnet — write regnet"),
    "stages that are neither a list nor a mapping": (generated("3"), 6, 9, "AS203", "stages: expected a list, got 3"),
    "misspelt dilation": (stage2("dilaton: 2"), 8, 42, "AS201", "unknown key 'dilaton' in stages.1 — did you mean 'dilation'?"),
}


@pytest.mark.parametrize("text,line,column,code,fragment", CASES.values(), ids=CASES.keys())
def test_invalid_block_option_is_located(write_spec, text, line, column, code, fragment):
    path = write_spec(text)
    with pytest.raises(SpecError) as e:
        archspec.plan(path)
    hits = [i for i in e.value.issues if fragment in str(i)]
    assert hits, f"no issue contains {fragment!r}: {e.value}"
    assert (hits[0].file, hits[0].line, hits[0].column, hits[0].code) == (str(path), line, column, code)


def test_generated_stages_are_blamed_on_the_generator(write_spec):
    text = generated("{type: regnet, depth: 4, w0: 24, wa: 8.0, wm: 2.5, group_width: 8}").replace(
        "block: bottleneck", "block: regnet, width: 20")
    with pytest.raises(SpecError) as e:
        archspec.plan(write_spec(text))
    issue = e.value.issues[0]
    assert (issue.line, issue.column, issue.code) == (6, 9, "AS303")
    assert "group_width 8 does not divide the inner width 20" in issue.message


def test_a_stage_own_setting_is_blamed_before_the_default(write_spec):
    text = defaults("groups: 4").replace("channels: 128, stride: 2}", "channels: 128, stride: 2, groups: 3}")
    with pytest.raises(SpecError) as e:
        archspec.plan(write_spec(text))
    assert [(i.line, i.column) for i in e.value.issues] == [(8, 50)]
