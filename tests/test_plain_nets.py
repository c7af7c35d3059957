"""Plain and concatenating networks: VGG, SqueezeNet, DenseNet (and their family) as torchvision builds them,
and what the spec format gained for them: `after:` a stage or the stem, an adaptive pool and
dropout between hidden layers in the classifier, a conv classifier."""

from __future__ import annotations

import math

import pytest
import torch

import archspec
from archspec.building.weights import ByOrder, check, convention_of
from archspec.errors import SpecError
from archspec.planning.tensors import state_dict_of
from archspec.reading.source import parse_source
from conftest import SPECS, reference_state_dict

# torchvision 0.29.1's vgg16_bn(weights=None) at 3×224×224 (MACs as tests/data/reference/README.md counts them)
VGG16_BN = {"params": 138_365_992, "macs": 15_470_264_320, "state_dict_entries": 97}


def test_vgg16_bn_equals_torchvision_in_counts():
    p = archspec.plan(SPECS / "examples" / "vgg16_bn.yaml")
    assert (p.params, p.macs, p.output_shape) == (VGG16_BN["params"], VGG16_BN["macs"], (1000,))
    assert len(state_dict_of(p)) == VGG16_BN["state_dict_entries"]


@pytest.mark.parametrize("name, convention", [("vgg11_bn", "torchvision VGG"),
                                              ("squeezenet1_1", "torchvision SqueezeNet"),
                                              ("densenet121", "torchvision DenseNet")])
def test_torchvision_names_are_recognised_and_fit_by_order(name, convention):
    reference = dict(reference_state_dict(name))
    assert isinstance(convention_of(reference), ByOrder)
    report = check(reference, state_dict_of(archspec.plan(SPECS / f"{name}.yaml")))
    assert report.ok and report.convention == convention
    first, last = {"vgg11_bn": (("features.0.weight", "layer1.0.conv.weight"), ("classifier.6.weight", "fc.weight")),
                   "squeezenet1_1": (("features.0.weight", "conv1.weight"),
                                     ("classifier.1.weight", "classifier.weight")),
                   "densenet121": (("features.transition1.conv.weight", "layer1.transition.conv.weight"),
                                   ("features.norm5.running_var", "layer4.final.norm.running_var"))}[name]
    assert report.fits[first[0]] == first[1] and report.fits[last[0]] == last[1]


def test_squeezenet_loads_torchvision_weights_and_runs():
    model = archspec.build(SPECS / "squeezenet1_1.yaml", seed=0).eval()
    reference = {k: torch.randn(shape) for k, shape in reference_state_dict("squeezenet1_1")}
    assert archspec.load_weights(model, reference) == "torchvision SqueezeNet"
    assert torch.equal(model.state_dict()["layer4.1.expand3x3.weight"], reference["features.12.expand3x3.weight"])
    assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_squeezenet_is_initialised_as_torchvision_does_its_last_conv_apart():
    model = archspec.build(SPECS / "squeezenet1_1.yaml", seed=0).requires_grad_(False)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[-1] is model.classifier and all(float(c.bias.abs().max()) == 0 for c in convs)
    assert round(float(model.classifier.weight.std()), 4) == 0.01  # normal(0, 0.01): 512,000 weights
    for conv in convs[:-1]:  # kaiming-uniform, fan in: within ±√(6 / fan in), and reaching near it
        bound = math.sqrt(6 / conv.weight[0].numel())
        assert 0.95 * bound < float(conv.weight.abs().max()) <= bound


def test_the_pools_between_squeezenets_stages_round_up():
    p = archspec.plan(SPECS / "squeezenet1_1.yaml", (3, 225, 225))
    shapes = {l.name: l.shape for l in p.layers}
    assert shapes["maxpool"] == (64, 56, 56)  # 112 → ceil(109 / 2) + 1
    assert shapes["layer1.maxpool"] == (128, 28, 28)


NET = """\
archspec: 1
name: net
input: {channels: 3, size: 32}
blocks:
  conv_relu:
    params: {channels: int}
    nodes:
      - {name: conv, op: conv, channels: channels, kernel: 3}
      - {name: relu, op: relu}
  pool:
    nodes:
      - {name: pool, op: maxpool, kernel: 2}
  halve:
    params: {factor: {type: int, default: 2}}
    nodes:
      - {name: conv, op: conv, channels: in_channels // factor, kernel: 1}
      - {name: pool, op: avgpool, kernel: 2}
defaults: {block: conv_relu, norm: none}
stem: {type: conv, channels: 8, kernel: 3, stride: 1, pool: none, after: pool}
stages:
  - {depth: 2, channels: 16, after: halve}
  - {depth: 1, channels: 32, after: pool}
head: {type: classifier, pool: avg, pool_size: 2, hidden: [64], hidden_dropout: 0.5, classes: 10}
"""


def test_after_runs_a_block_after_the_stem_and_after_a_stage():
    p = archspec.plan(parse_source(NET, "net.yaml"))
    layers = [(l.name, l.kind, l.shape) for l in p.layers if l.depth == 1 or l.name.count(".") == 1]
    assert layers == [
        ("conv1", "conv", (8, 32, 32)), ("relu", "relu", (8, 32, 32)), ("pool", "maxpool", (8, 16, 16)),
        ("layer1", "sequential", (8, 8, 8)), ("layer1.0", "conv_relu", (16, 16, 16)),
        ("layer1.1", "conv_relu", (16, 16, 16)), ("layer1.halve", "halve", (8, 8, 8)),
        ("layer2", "sequential", (32, 4, 4)), ("layer2.0", "conv_relu", (32, 8, 8)),
        ("layer2.pool", "maxpool", (32, 4, 4)),
        ("avgpool", "adaptive_avgpool", (32, 2, 2)), ("flatten", "flatten", (128,)), ("fc1", "linear", (64,)),
        ("relu_fc1", "relu", (64,)), ("dropout_fc1", "dropout", (64,)), ("fc", "linear", (10,))]
    model = archspec.build(p, seed=0)
    assert isinstance(model.avgpool, torch.nn.AdaptiveAvgPool2d) and model.avgpool.output_size == (2, 2)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("old, new, line, message", [
    ("after: halve}", "after: halv}", 21, "stages.0.after: 'halv' is not one of: conv_relu, pool, halve"),
    ("default: 2}}", "}}", 21, "layer1.halve: `after: halve`: a halve block needs `factor`"),
    ("pool: avg, pool_size: 2", "pool: flatten, pool_size: 2", 23, "flatten: `pool_size` is the size a pool gives"),
])
def test_mistakes_in_the_new_keys_are_located(old, new, line, message):
    with pytest.raises(SpecError) as info:
        archspec.plan(parse_source(NET.replace(old, new), "net.yaml"))
    issue = info.value.issues[0]
    assert (issue.line, message in issue.message) == (line, True), issue
    assert issue.hint


def test_a_conv_classifier_gives_the_classes_from_a_1x1_conv():
    text = NET.replace("head: {type: classifier, pool: avg, pool_size: 2, hidden: [64], hidden_dropout: 0.5, "
                       "classes: 10}", "head: {type: conv_classifier, dropout: 0.5, classes: 10, act: relu}")
    p = archspec.plan(parse_source(text, "net.yaml"))
    assert [(l.name, l.kind, l.params) for l in p.layers[-5:]] == [
        ("dropout", "dropout", 0), ("classifier", "conv", 330), ("relu_head", "relu", 0),
        ("avgpool", "global_avgpool", 0), ("flatten", "flatten", 0)]


def test_a_dense_stage_widens_block_by_block_and_its_last_block_gives_its_channels():
    p = archspec.plan(SPECS / "densenet121.yaml")
    shapes = {l.name: l.shape for l in p.layers}
    assert [shapes[f"layer1.{b}"][0] for b in range(6)] == [96, 128, 160, 192, 224, 256]
    assert shapes["layer1.transition"] == (128, 28, 28) and shapes["layer4.final"] == (1024, 7, 7)
    text = (SPECS / "densenet121.yaml").read_text().replace("{depth: 6, channels: 256,", "{depth: 6, channels: 255,")
    with pytest.raises(SpecError) as info:
        archspec.plan(parse_source(text, "densenet121.yaml"))
    assert [(i.line, i.message) for i in info.value.issues] == [
        (38, "layer1.5: a dense_layer block gives 256 channels, but the stage's `channels:` is 255")]
