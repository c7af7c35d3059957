"""Every message says where, what is wrong and how to fix it; budgets and warnings give the figures."""

import pytest

from archspec import load, plan
from archspec.planning.checks import check_plan
from archspec.errors import SpecError
from archspec.reading.source import parse_source

RESNET18 = """\
archspec: 1
name: net
input: {channels: 3, size: 224}
defaults: {block: basic}
stem: {type: conv, channels: 64, kernel: 7, stride: 2, pool: max}
stages:
  - {depth: 2, channels: 64}
  - {depth: 2, channels: 128, stride: 2}
  - {depth: 2, channels: 256, stride: 2}
  - {depth: 2, channels: 512, stride: 2}
head: {type: classifier, pool: avg, classes: 1000}
"""


def messages(text: str) -> list[str]:
    """What validate prints for `text`, errors and warnings, one string each."""
    try:
        p = plan(load(parse_source(text, "net.yaml")))
    except SpecError as e:
        return [str(i) for i in e.issues]
    return [str(i) for i in check_plan(p)]


def edit(old: str, new: str, text: str = RESNET18) -> str:
    assert old in text
    return text.replace(old, new)


@pytest.mark.parametrize("old, new, expected", [
    ("size: 224}", "size: two}",
     "net.yaml:3:28: error: input.size: expected a list, got 'two' — size: one number for a square input, or [height, width]"),
    ("size: 224}", "size: [224, 224, 3]}",
     "net.yaml:3:28: error: input.size: has 3 items; it needs at most 2 — size: one number for a square input, or [height, width]"),
    ("{block: basic}", "{block: basic, zero_init_residual: yes}",
     "net.yaml:4:46: error: defaults.zero_init_residual: expected true or false, got 'yes' — archspec reads YAML 1.2: write true or false"),
    ("{block: basic}", "{block: basic, width: 2.5}",
     "net.yaml:4:33: error: defaults.width: expected a whole number, got 2.5 — write a whole number"),
    ("archspec: 1", "archspec: 2", "net.yaml:1:11: error: archspec: 2 is not one of: 1 — write 1"),
    ("name: net", "name: my net", "net.yaml:2:7: error: name: 'my net' has characters that are not allowed — "
                                  "name: use letters (of any alphabet), digits, '_', '.' and '-' only"),
    ("{type: conv, channels: 64, ", "{channels: 64, ",
     "net.yaml:5:7: error: missing key 'type' in stem — add `type:`, one of: conv, deep, patchify, none"),
    ("head: {type: classifier, pool: avg, classes: 1000}", "head: 1000",
     "net.yaml:11:7: error: head: expected a mapping, got 1000 — write a mapping whose `type:` is one of: classifier, conv_classifier, none, features, block"),
    ("  - {depth: 2, channels: 64}\n", "  - 64\n",
     "net.yaml:7:5: error: stages.0: expected a mapping, got 64 — write a mapping with keys from: "
     "block, norm, norm_groups, norm_eps, norm_momentum, act, shortcut, zero_init_residual, se, se_base, se_divisor, "
     "se_round_limit, se_act, se_gate, eca, width, bottleneck_ratio, groups, group_width, stride_on, kernel, expand, "
     "layer_scale, depth, channels, stride, dilation, after"),
    ("{depth: 2, channels: 64}", "{depth: 2, channels: 64, strides: 2}",
     "net.yaml:7:30: error: unknown key 'strides' in stages.0 — did you mean 'stride'?"),
    ("{depth: 2, channels: 64}", "{depth: 2, channels: 64, groups: 2}",
     "net.yaml:7:38: error: stages.0.groups: `groups` does not apply to basic blocks — "
     "it applies to bottleneck, preact_bottleneck, regnet blocks; remove it here"),
    ("{depth: 2, channels: 64}", "{depth: 2, channels: 64, 3: 3}",
     "net.yaml:7:30: error: unknown key '3' in stages.0 — allowed keys: "
     "block, norm, norm_groups, norm_eps, norm_momentum, act, shortcut, zero_init_residual, se, se_base, se_divisor, "
     "se_round_limit, se_act, se_gate, eca, width, bottleneck_ratio, groups, group_width, stride_on, kernel, expand, "
     "layer_scale, depth, channels, stride, dilation, after"),
    ("{depth: 2, channels: 64}", "{depth: 2}",
     "net.yaml:7:5: error: missing key 'channels' in stages.0 — add `channels:` (channels the stage outputs)"),
    ("classes: 1000}", "classes: 1000, dropout: .nan}",
     "net.yaml:11:61: error: head.dropout: nan is not a finite number — use a finite number"),
    ("pool: avg, classes", "pool: average, classes",
     "net.yaml:11:32: error: head.pool: 'average' is not one of: avg, max, flatten — did you mean 'avg'?"),
])
def test_schema_errors_teach(old, new, expected):
    assert messages(edit(old, new)) == [expected]


def test_shape_error_names_the_stage_block_and_sizes():
    text = edit("{block: basic}", "{block: basic, shortcut: identity}")
    assert messages(text) == [
        "net.yaml:8:5: error: layer2.0: identity shortcut cannot carry 64×56×56 to 128×28×28 "
        "(stride 2, channels change) — use `shortcut: auto` or `projection`",
        "net.yaml:9:5: error: layer3.0: identity shortcut cannot carry 128×28×28 to 256×14×14 "
        "(stride 2, channels change) — use `shortcut: auto` or `projection`",
        "net.yaml:10:5: error: layer4.0: identity shortcut cannot carry 256×14×14 to 512×7×7 "
        "(stride 2, channels change) — use `shortcut: auto` or `projection`",
    ]


@pytest.mark.parametrize("written, value", [
    ("11689512", 11_689_512), ("11.7M", 11_700_000), ("'11.7M'", 11_700_000), ("11.7 M", 11_700_000),
    ("1.82G", 1_820_000_000), (".5k", 500), ("2.5e7", 25_000_000), ("1T", 10**12),
])
def test_counts_may_be_written_with_a_suffix(written, value):
    spec = load(parse_source(RESNET18 + f"constraints: {{max_params: {written}}}\n"))
    assert spec.constraints.max_params == value


@pytest.mark.parametrize("written, expected", [
    ("11.7Q", "constraints.max_params: '11.7Q' is not a count — write a whole number, or a decimal with K, M, G "
              "or T: 25.6M, 4.1G"),
    ("'1.5'", "constraints.max_params: '1.5' is not a whole number — write a whole number, or a decimal with K, M, "
              "G or T: 25.6M, 4.1G"),
    ("0", "constraints.max_params: 0 is too small — use a number ≥ 1"),
    ("-3M", "constraints.max_params: '-3M' is not a count — write a whole number, or a decimal with K, M, G or T: "
            "25.6M, 4.1G"),
    ("true", "constraints.max_params: expected a whole number, got true — max_params: most parameters allowed, "
             "e.g. 25.6M"),
])
def test_bad_counts_are_located(written, expected):
    assert messages(RESNET18 + f"constraints: {{max_params: {written}}}\n") == [f"net.yaml:12:27: error: {expected}"]


def test_budgets_give_the_measured_figures_and_where_they_go():
    text = RESNET18 + "constraints: {max_params: 11M, max_macs: 1.5G}\n"
    assert messages(text) == [
        "net.yaml:12:27: error: the network has 11,689,512 parameters (11.69 M), more than max_params 11,000,000 "
        "— stages.3 (layer4) has 8,393,728 of them (71%): make it narrower or shallower, or raise max_params",
        "net.yaml:12:42: error: the network needs 1,814,073,344 MACs (1.81 G) at 3×224×224, more than max_macs "
        "1,500,000,000 — stages.0 (layer1) has 462,422,016 of them (25%): make it narrower or shallower, use a smaller input, "
        "or raise max_macs",
    ]


def test_budgets_that_are_met_say_nothing():
    assert messages(RESNET18 + "constraints: {max_params: 11.7M, max_macs: 1.82G, min_input: 1}\n") == []


def test_min_input_that_collapses_names_the_layer():
    text = edit("kernel: 7, stride: 2, pool: max", "kernel: 7, stride: 2, padding: 0, pool: max")
    assert messages(text + "constraints: {min_input: [6, 32]}\n") == [
        "net.yaml:12:26: error: the network must accept 6×32 inputs, but at that size conv1: conv 7×7, stride 2, "
        "padding 0 reduces 6×32 to 0×13 (line 5) — use an input of at least 7×7 (the smallest this spec accepts), "
        "or fewer stride-2 layers"]


def test_min_input_with_a_flatten_head_needs_the_same_linear_layer():
    text = edit("pool: avg, classes", "pool: flatten, classes")
    assert messages(text + "constraints: {min_input: 112}\n") == [
        "net.yaml:12:26: error: the network must accept 112×112 inputs, but fc has 25,089,000 parameters for "
        "224×224 and would need 8,193,000 for 112×112 — a `pool: flatten` head fixes the input size: "
        "use `pool: avg` to accept any size"]


def test_warns_when_the_map_is_1x1_long_before_the_head():
    assert messages(edit("size: 224", "size: 8")) == [
        "net.yaml:8:5: warning: stages.1 (layer2) already outputs 1×1 (layer2.0.conv1 takes 2×2 to 1×1), "
        "so layer3–layer4 see a single pixel — use an input of at least 17×17, or stride 1 in the later stages"]


def test_no_warning_when_only_the_last_stage_is_1x1():
    assert messages(edit("size: 224", "size: 32")) == []


def test_warns_once_for_a_default_width_on_bottlenecks_wider_than_their_output():
    text = edit("{block: basic}", "{block: bottleneck, width: 200}")
    assert messages(text) == [
        "net.yaml:4:38: warning: stages.0 (layer1): bottleneck width 200 is larger than its 64 output channels — a bottleneck "
        "narrows: the default width is channels / 4 = 16; are width and channels swapped?",
        "net.yaml:4:38: warning: stages.1 (layer2): bottleneck width 200 is larger than its 128 output channels — a bottleneck "
        "narrows: the default width is channels / 4 = 32; are width and channels swapped?",
    ]


def test_every_stage_reports_each_distinct_mistake_once_with_a_count_named_as_the_summary_names_layers():
    text = edit("stem: {type: conv, channels: 64, kernel: 7, stride: 2, pool: max}",
                "stem: {type: deep, channels: [32, 32, 64]}")
    text = edit("{block: basic}", "{block: basic, norm: groupnorm, norm_groups: 24}", text)
    hint = "set `norm_groups:` to a divisor of {} such as 8, or change the channels"
    assert messages(text) == [
        f"net.yaml:4:56: error: {name}: groupnorm with 24 groups cannot split {c} channels{more} — {hint.format(c)}"
        for name, c, more in [("conv1.1", 32, " (and 1 more like it in stem)"), ("bn1", 64, ""),
                              ("layer1.0.bn1", 64, " (and 3 more like it in layer1)"),
                              ("layer2.0.bn1", 128, " (and 4 more like it in layer2)"),
                              ("layer3.0.bn1", 256, " (and 4 more like it in layer3)"),
                              ("layer4.0.bn1", 512, " (and 4 more like it in layer4)")]]


def test_an_input_too_small_names_the_first_layer_to_reach_1x1_and_the_smallest_input_that_works():
    p = plan(load(parse_source(RESNET18, "net.yaml")), (3, 1, 1))
    assert [str(i) for i in check_plan(p)] == [
        "net.yaml:7:5: warning: stages.0 (layer1) already outputs 1×1 (the input is 1×1), so layer2–layer4 see "
        "a single pixel — use an input of at least 17×17, or stride 1 in the later stages"]
    p = plan(p.spec, (3, 16, 16))
    assert [str(i) for i in check_plan(p)] == [
        "net.yaml:9:5: warning: stages.2 (layer3) already outputs 1×1 (layer3.0.conv1 takes 2×2 to 1×1), so layer4 "
        "sees a single pixel — use an input of at least 17×17, or stride 1 in the later stages"]
    assert check_plan(plan(p.spec, (3, 17, 17))) == []


def test_an_input_that_changes_the_parameter_count_is_a_warning():
    text = edit("pool: avg, classes", "pool: flatten, classes")
    p = plan(load(parse_source(text, "net.yaml")), (3, 256, 256))
    assert [str(i) for i in check_plan(p)] == [
        "net.yaml:11:32: warning: the input 3×256×256 changes the parameter count: 43,945,512 against 36,265,512 "
        "at the spec's input 3×224×224 (fc depends on the input size) — weights made for 3×224×224 will not load "
        "into this network; a `pool: avg` head accepts any size"]
    assert check_plan(plan(load(parse_source(RESNET18)), (3, 256, 256))) == []  # an avg head: no warning


def test_names_may_use_the_letters_of_any_alphabet():
    assert load(parse_source(edit("name: net", "name: крошка-v1.2_नमस्ते"))).name == "крошка-v1.2_नमस्ते"
    assert messages(edit("name: net", "name: 'a😀'")) == [
        "net.yaml:2:7: error: name: 'a😀' has characters that are not allowed — name: use letters (of any "
        "alphabet), digits, '_', '.' and '-' only"]


def test_the_stem_pads_kernel_minus_one_halved_as_documented_and_an_even_kernel_follows_it():
    text = edit("kernel: 7, stride: 2, pool: max", "kernel: 4, stride: 1, pool: none")
    p = plan(load(parse_source(edit("size: 224", "size: 32", text))))
    assert (p.layers[0].name, p.layers[0].shape) == ("conv1", (64, 31, 31))  # padding (4 - 1) // 2 = 1
    from archspec.reading.spec import ConvStem
    from conftest import ROOT
    documented = "(kernel - 1) // 2"
    assert ConvStem.model_fields["padding"].description.startswith(f"default {documented}")
    assert f"`padding` {documented.replace('-', '−')}" in (ROOT / "docs/spec.md").read_text(encoding="utf-8")
