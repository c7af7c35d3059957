"""ShuffleNetV2 (its unit written in the spec as a graph block) and MNASNet (built-in inverted
residuals): structure, weights loading, initialisation and activation memory. Counts, keys and
output shapes against torchvision's are in test_reference.py; outputs and seeded weights equal to
torchvision's are checked by benchmarks/compare_reference.py (needs torchvision)."""

import math

import pytest
import torch

import archspec
from archspec.building.weights import translate
from conftest import SPECS, reference_state_dict
from test_memory import measured, planned

SHUFFLENET, MNASNET = SPECS / "shufflenet_v2_x1_0.yaml", SPECS / "mnasnet1_0.yaml"

# figures measured on torchvision 0.29.1 (benchmarks/compare_reference.py): params, MACs, state_dict entries
EXAMPLES = {"examples/shufflenet_v2_x0_5": (1_366_792, 40_476_448, 338)}


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_variants_equal_their_reference_counts(name):
    p = archspec.plan(SPECS / f"{name}.yaml")
    assert (p.params, p.macs, p.output_shape) == (*EXAMPLES[name][:2], (1000,))
    model = archspec.build(p, device="meta")
    assert (sum(t.numel() for t in model.parameters()), len(model.state_dict())) == (p.params, EXAMPLES[name][2])


def _unit(p, stage: str, b: int):
    return next(c for c in p.root.children if c.name == stage).children[b]


def test_shufflenet_units_are_wired_as_torchvisions():
    p = archspec.plan(SHUFFLENET)
    down, unit = _unit(p, "layer1", 0), _unit(p, "layer1", 1)
    # stride 2: no split (its `if:` fails), so both branches read the whole input
    assert down.args["wiring"] == [("branch1", ["x"]), ("branch2", ["x"]), ("cat", ["branch1", "branch2"]),
                                   ("shuffle", ["cat"])]
    # stride 1: no branch1; the first half passes untouched, the second goes through branch2
    assert unit.args["wiring"] == [("split", ["x"]), ("branch2", ["split.1"]), ("cat", ["split.0", "branch2"]),
                                   ("shuffle", ["cat"])]
    assert [c.shape for c in down.children] == [(58, 28, 28), (58, 28, 28), (116, 28, 28), (116, 28, 28)]
    assert [s.depth for s in p.spec.stages] == [4, 8, 4] and [s.channels for s in p.spec.stages] == [116, 232, 464]


def test_mnasnet_blocks_are_torchvisions():
    p = archspec.plan(MNASNET)
    model = archspec.build(p, device="meta")
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 52 and {(m.momentum, m.eps) for m in norms} == {(0.0003, 1e-5)}  # 1 - 0.9997
    separable = model.layer1[0]  # 3×3 depthwise + BN + ReLU, 1×1 projection + BN
    assert [n for n, _ in separable.named_children()] == ["conv2", "bn2", "relu2", "conv3", "bn3"]
    # the input is added back on every unit of a stack but its first (which changes the width or the size)
    assert [[b.add for b in stage] for stage in (model.layer2, model.layer5, model.layer6, model.layer7)] == [
        [False, True, True], [False, True], [False, True, True, True], [False]]
    assert (model.layer3[0].conv1.out_channels, model.layer3[0].conv2.kernel_size) == (72, (5, 5))  # 24 × 3
    assert (model.layer5[0].conv1.out_channels, model.layer5[0].conv2.kernel_size) == (480, (3, 3))  # 80 × 6
    assert [type(m).__name__ for m in (model.conv_head, model.bn_head, model.relu_head, model.dropout, model.fc)] == [
        "Conv2d", "BatchNorm2d", "ReLU", "Dropout", "Linear"]


PLACES = {  # torchvision's name → the model's (tests/data/reference/README.md, naming notes)
    "shufflenet_v2_x1_0": {"conv1.0.weight": "conv1.weight", "conv1.1.running_var": "bn1.running_var",
                           "stage2.0.branch1.0.weight": "layer1.0.branch1.0.weight",
                           "stage2.1.branch2.6.bias": "layer1.1.branch2.6.bias",
                           "stage4.3.branch2.5.weight": "layer3.3.branch2.5.weight",
                           "conv5.0.weight": "conv_head.weight", "conv5.1.bias": "bn_head.bias",
                           "fc.weight": "fc.weight"},
    "mnasnet1_0": {"layers.0.weight": "conv1.weight", "layers.1.bias": "bn1.bias",
                   "layers.3.weight": "layer1.0.conv2.weight", "layers.4.running_mean": "layer1.0.bn2.running_mean",
                   "layers.6.weight": "layer1.0.conv3.weight", "layers.7.weight": "layer1.0.bn3.weight",
                   "layers.8.0.layers.0.weight": "layer2.0.conv1.weight",
                   "layers.8.0.layers.4.bias": "layer2.0.bn2.bias",
                   "layers.13.0.layers.6.weight": "layer7.0.conv3.weight",
                   "layers.12.3.layers.7.num_batches_tracked": "layer6.3.bn3.num_batches_tracked",
                   "layers.14.weight": "conv_head.weight", "layers.15.running_var": "bn_head.running_var",
                   "classifier.1.weight": "fc.weight", "classifier.1.bias": "fc.bias"},
}


@pytest.mark.parametrize("name,convention", [("shufflenet_v2_x1_0", "torchvision ShuffleNetV2"),
                                             ("mnasnet1_0", "torchvision MNASNet")])
def test_torchvision_state_dicts_load_strictly_each_tensor_in_its_place(name, convention):
    source = {key: torch.full(shape, float(i)) for i, (key, shape) in enumerate(reference_state_dict(name))}
    model = archspec.build(SPECS / f"{name}.yaml", device="meta").to_empty(device="cpu")
    assert archspec.load_weights(model, source) == convention
    ours, (_, names) = model.state_dict(), translate(source, model.state_dict())
    assert {key: names[key] for key in PLACES[name]} == PLACES[name]
    assert all(ours[names[key]].min() == ours[names[key]].max() == i for i, key in enumerate(source))


def test_initialisation_is_as_torchvisions():
    """ShuffleNetV2 keeps PyTorch's own initialisation (torchvision re-initialises nothing); MNASNet's
    linear layer is kaiming-uniform over its outputs with gain 1, its bias zero."""
    shufflenet = archspec.build(SHUFFLENET, seed=0)
    assert 0.9 / math.sqrt(27) < shufflenet.conv1.weight.abs().max() <= 1 / math.sqrt(27)  # uniform(±1/√fan_in)
    assert 0.9 / math.sqrt(1024) < shufflenet.fc.bias.abs().max() <= 1 / math.sqrt(1024)
    mnasnet = archspec.build(MNASNET, seed=0)
    assert 0.9 * math.sqrt(3 / 1000) < mnasnet.fc.weight.abs().max() <= math.sqrt(3 / 1000)
    assert not mnasnet.fc.bias.any() and not mnasnet.bn1.bias.any() and mnasnet.bn1.weight.eq(1).all()
    assert 0.9 < mnasnet.conv1.weight.std() * math.sqrt(32 * 9 / 2) < 1.1  # kaiming normal over the outputs


def test_shufflenet_at_224_saves_what_the_plan_says():
    """The split's halves are views, the concat and the shuffle one copy each: layer by layer, the
    plan's figure is what autograd saves (the unit at 224×224; every shipped spec in test_memory.py)."""
    p, threads = archspec.plan(SHUFFLENET), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert planned(p, 2, "float32") == measured(p, 2, "float32")
    finally:
        torch.set_num_threads(threads)
    assert p.activation_memory(1) == 20_449_680  # 19.50 MiB, as `archspec build` prints
