"""MobileNet, EfficientNet, ConvNeXt, ECA and ResNet-RS: structure, weights loading, initialisation
and located errors. Counts and keys against the references are in test_reference.py."""

import math

import pytest
import torch

import archspec
from archspec import SpecError
from archspec.planning.primitives.attention import eca_kernel
from conftest import reference_state_dict

# ---- the example variants: figures measured on torchvision 0.29.1 / timm 1.0.31 (benchmarks/compare_reference.py) --

EXAMPLES = {  # spec: (params, MACs, state_dict entries, reference it equals)
    "examples/mobilenet_v3_small": (2_542_856, 56_510_400, 244, "torchvision mobilenet_v3_small"),
    "examples/efficientnet_v2_s": (21_458_488, 8_365_617_152, 782, "torchvision efficientnet_v2_s at 384×384"),
    "examples/ecaresnet50d": (25_576_350, 4_328_824_832, 348, "timm ecaresnet50d"),
    "examples/resnetrs50": (35_691_912, 2_278_629_376, 402, "timm resnetrs50 at 160×160"),
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_variants_equal_their_reference_counts(name):
    p = archspec.plan(f"specs/{name}.yaml")
    assert (p.params, p.macs) == EXAMPLES[name][:2]
    model = archspec.build(p, device="meta")
    assert (sum(t.numel() for t in model.parameters()), len(model.state_dict())) == (p.params, EXAMPLES[name][2])


def layers(name: str) -> dict:
    return {l.name: l for l in archspec.plan(f"specs/{name}.yaml").layers}


def test_inverted_residual_expands_only_above_ratio_one_and_adds_only_at_equal_shapes():
    found = layers("mobilenet_v2")
    assert [n for n in found if n.startswith("layer1.0.")] == [
        "layer1.0.conv2", "layer1.0.bn2", "layer1.0.relu62", "layer1.0.conv3", "layer1.0.bn3"]
    model = archspec.build("specs/mobilenet_v2.yaml", device="meta")
    assert model.layer2[0].conv2.groups == 96 and model.layer2[0].conv1.out_channels == 96  # 16 × 6
    assert [model.layer2[b].add for b in (0, 1)] == [False, True]  # 16→24 stride 2; then 24→24
    assert not hasattr(model.layer2[0], "relu63")  # the projection is linear


def test_mobilenet_v3_se_width_is_rounded_as_torchvision():
    model = archspec.build("specs/mobilenet_v3_large.yaml", device="meta")
    se = model.layer4[0].se  # expanded 72: 72 / 4 = 18 rounds to 16, more than 10% below, so 24
    assert (se.fc1.out_channels, type(se.gate).__name__, model.layer4[0].bn1.eps, model.layer4[0].bn1.momentum) == (
        24, "Hardsigmoid", 0.001, 0.01)
    assert type(model.layer1[0].relu2).__name__ == "ReLU" and type(model.layer5[0].hardswish2).__name__ == "Hardswish"
    assert [type(m).__name__ for m in (model.fc1, model.hardswish_fc1, model.dropout, model.fc)] == [
        "Linear", "Hardswish", "Dropout", "Linear"]


def test_efficientnet_se_is_a_quarter_of_the_block_input_with_silu():
    model = archspec.build("specs/efficientnet_b0.yaml", device="meta")
    assert model.layer2[0].se.fc1.out_channels == 4  # 16 inputs, not the 96 expanded
    assert type(model.layer2[0].se.act).__name__ == "SiLU"
    rates = [b.drop_path.p for stage in (model.layer1, model.layer6) for b in stage if hasattr(b, "drop_path")]
    assert rates == pytest.approx([0.2 * i / 16 for i in (12, 13, 14)])  # torchvision's 0.2 × i / 16, where it adds


def test_convnext_downsamples_between_stages_and_scales_its_branch():
    found = layers("convnext_tiny")
    assert [n for n in found if n.startswith("layer2.downsample")] == [
        "layer2.downsample", "layer2.downsample.0", "layer2.downsample.1"]
    assert found["layer2.downsample.1"].shape == (192, 28, 28) and "layer1.downsample" not in found
    assert found["layer1.0.fc1"].shape == (56, 56, 384)  # the MLP runs channels-last
    assert found["layer1.0.fc1"].macs == 56 * 56 * 96 * 384
    model = archspec.build("specs/convnext_tiny.yaml")
    assert torch.equal(model.layer1[0].layer_scale.gamma, torch.full((96, 1, 1), 1e-6))
    assert (model.bn1.eps, model.head_norm.eps) == (1e-6, 1e-6)


def test_eca_kernel_follows_the_channel_count():
    assert [eca_kernel(c) for c in (64, 256, 512, 1024, 2048)] == [3, 5, 5, 5, 7]
    model = archspec.build("specs/examples/ecaresnet50d.yaml", device="meta")
    assert model.layer4[0].se.conv.weight.shape == (1, 1, 7)


def test_resnet_rs_stem_replaces_the_pool_with_a_strided_conv():
    found = layers("examples/resnetrs50")
    assert [(n, found[n].kind) for n in found if n.startswith("maxpool")] == [
        ("maxpool", "sequential"), ("maxpool.0", "conv"), ("maxpool.1", "batchnorm"), ("maxpool.2", "relu")]
    assert found["maxpool"].shape == (64, 40, 40)


# ---- weights in torchvision's `features.N` naming ------------------------------------------------------------

@pytest.mark.parametrize("name", ["mobilenet_v3_large", "convnext_tiny"])
def test_torchvision_features_weights_load_each_into_its_place(name):
    """Every reference key, with a distinct value, lands where its name says."""
    model = archspec.build(f"specs/{name}.yaml")
    reference = {k: torch.full(shape, float(i)) for i, (k, shape) in enumerate(reference_state_dict(name))}
    assert archspec.load_weights(model, reference) == "torchvision features (MobileNet, EfficientNet, ConvNeXt)"
    ours = model.state_dict()
    value = {k: v.flatten()[0].item() if v.numel() else None for k, v in reference.items()}
    places = {  # torchvision → archspec
        "mobilenet_v3_large": {"features.0.0.weight": "conv1.weight", "features.1.block.0.0.weight": "layer1.0.conv2.weight",
                               "features.4.block.2.fc1.weight": "layer4.0.se.fc1.weight",
                               "features.4.block.3.1.running_var": "layer4.0.bn3.running_var",
                               "features.16.0.weight": "conv_head.weight", "classifier.0.weight": "fc1.weight",
                               "classifier.3.bias": "fc.bias"},
        "convnext_tiny": {"features.1.0.layer_scale": "layer1.0.layer_scale.gamma",
                          "features.2.1.weight": "layer2.downsample.1.weight", "features.5.8.block.5.bias": "layer3.8.fc2.bias",
                          "classifier.0.weight": "head_norm.weight", "classifier.2.weight": "fc.weight"},
    }[name]
    for theirs, mine in places.items():
        assert ours[mine].flatten()[0].item() == value[theirs], (theirs, mine)


def test_a_features_state_dict_of_another_network_is_refused_whole():
    model = archspec.build("specs/mobilenet_v2.yaml")
    before = model.conv1.weight.clone()
    reference = {k: torch.zeros(shape) for k, shape in reference_state_dict("mobilenet_v3_large")}
    with pytest.raises(archspec.WeightsError, match="does not fit"):
        archspec.load_weights(model, reference)
    assert torch.equal(model.conv1.weight, before)


# ---- initialisation as each family's reference ---------------------------------------------------------------

def test_each_family_initialises_its_linear_layers_as_its_reference():
    mobilenet = archspec.build("specs/mobilenet_v2.yaml", seed=0)
    efficientnet = archspec.build("specs/efficientnet_b0.yaml", seed=0)
    convnext = archspec.build("specs/convnext_tiny.yaml", seed=0)
    assert mobilenet.fc.weight.std().item() == pytest.approx(0.01, rel=0.02)
    assert efficientnet.fc.weight.abs().max().item() <= 1 / math.sqrt(1000)
    assert efficientnet.fc.weight.std().item() == pytest.approx(1 / math.sqrt(3000), rel=0.02)  # uniform(±1/√1000)
    assert convnext.fc.weight.std().item() == pytest.approx(0.02, rel=0.02)
    assert not mobilenet.fc.bias.any() and not convnext.layer1[0].fc1.bias.any()


# ---- every new setting, checked statically where it is written --------------------------------------------------

BASE = """\
archspec: 1
name: net
input: {channels: 3, size: 32}
defaults: {block: inverted_residual, act: relu6}
stem: {type: conv, channels: 16, kernel: 3, stride: 2, pool: none}
stages:
  - {depth: 2, channels: 24, stride: 2, expand: 6}
head: {type: classifier, conv: 64, pool: avg, classes: 10}
"""
STAGE = "{depth: 2, channels: 24, stride: 2, expand: 6}"


def stage(extra: str) -> str:
    return BASE.replace(STAGE, STAGE[:-1] + f", {extra}}}")


CASES = {  # text, line, column, code, message fragment
    "even depthwise kernel": (stage("kernel: 4"), 7, 60, "AS310",
                              "layer1.0: kernel 4 is even: the conv could not keep the map centred (and 1 more like it in layer1) — use an odd kernel"),
    "expand rounding to no channels": (stage("expand: 0.01").replace("expand: 6, ", ""), 7, 49, "AS311",
                                       "layer1.0: expand 0.01 of 16 input channels rounds to 0 channels"),
    "layer scale on a bottleneck": (stage("block: bottleneck, layer_scale: 0.1"), 7, 84, "AS305",
                                    "stages.0.layer_scale: `layer_scale` does not apply to bottleneck blocks — "
                                    "it applies to convnext blocks"),
    "depthwise kernel on a basic block": (stage("block: basic, kernel: 5").replace("expand: 6, ", ""), 7, 63, "AS305",
                                          "stages.0.kernel: `kernel` does not apply to basic blocks"),
    "shortcut on an inverted residual": (stage("shortcut: projection"), 7, 62, "AS305",
                                         "stages.0.shortcut: `shortcut` does not apply to inverted_residual blocks"),
    "eca together with se": (stage("se: 0.25, eca: true"), 7, 67, "AS305",
                             "layer1.0: both eca and se are set (and 1 more like it in layer1) — choose one attention"),
    "norm eps of zero": (BASE.replace("act: relu6}", "act: relu6, norm_eps: 0}"), 4, 60, "AS204",
                         "defaults.norm_eps: 0 is too small — use a number > 0"),
    "unknown SE gate": (stage("se: 0.25, se_gate: relu"), 7, 71, "AS205",
                        "stages.0.se_gate: 'relu' is not one of: sigmoid, hardsigmoid"),
    "head conv whose groups do not divide": (
        BASE.replace("act: relu6}", "act: relu6, norm: groupnorm, norm_groups: 8}").replace("conv: 64", "conv: 60"),
        4, 80, "AS307", "bn_head: groupnorm with 8 groups cannot split 60 channels"),
    "patch larger than the input": (BASE.replace("{type: conv, channels: 16, kernel: 3, stride: 2, pool: none}",
                                                 "{type: patchify, channels: 16, patch: 64}"), 5, 7, "AS302",
                                    "conv1: conv 64×64, stride 64, padding 0 reduces 32×32 to 0×0 — use an input of at least 64×64"),
    "stem pool of an unknown kind": (BASE.replace("pool: none}", "pool: strided}"), 5, 62, "AS205",
                                     "stem.pool: 'strided' is not one of: max, avg, conv, none"),
    "hidden layer of no width": (BASE.replace("conv: 64,", "hidden: [0],"), 8, 35, "AS204",
                                 "head.hidden.0: 0 is too small — use a number ≥ 1"),
}


@pytest.mark.parametrize("text,line,column,code,fragment", CASES.values(), ids=CASES.keys())
def test_invalid_new_setting_is_located(write_spec, text, line, column, code, fragment):
    path = write_spec(text)
    with pytest.raises(SpecError) as e:
        archspec.plan(path)
    hits = [i for i in e.value.issues if fragment in str(i)]
    assert hits, f"no issue contains {fragment!r}: {e.value}"
    assert (hits[0].line, hits[0].column, hits[0].code) == (line, column, code)
