"""`archspec.load_weights`: reference state_dicts of any understood naming land in the right place."""

import pytest
import torch

import archspec
from archspec.building.weights import ARCHSPEC, WeightsError, translate
from conftest import reference_state_dict

FOREIGN = ["regnet_x_400mf", "regnet_y_400mf", "regnet_x_1_6gf", "regnet_y_1_6gf", "resnetv2_50"]


def fake_reference(name: str) -> dict[str, torch.Tensor]:
    """A state_dict with exactly the reference's keys and shapes; every tensor holds its own index."""
    return {key: torch.full(shape, float(i)) for i, (key, shape) in enumerate(reference_state_dict(name))}


@pytest.mark.parametrize("name", FOREIGN + ["resnet50d"])
def test_each_reference_tensor_lands_where_its_name_says(name):
    source = fake_reference(name)
    model = archspec.build(f"specs/{name}.yaml", device="meta").to_empty(device="cpu")
    convention = archspec.load_weights(model, source)
    assert (convention == ARCHSPEC.name) == (name not in FOREIGN)
    _, names = translate(source)
    ours = model.state_dict()
    for i, key in enumerate(source):
        tensor = ours[names[key]]
        assert tensor.min() == tensor.max() == i, key


PLACES = {  # rows of the naming notes' tables: timm's name → the model's
    "efficientnet_b0": {"conv_stem.weight": "conv1.weight", "blocks.0.0.conv_dw.weight": "layer1.0.conv2.weight",
                        "blocks.0.0.se.conv_reduce.weight": "layer1.0.se.fc1.weight",
                        "blocks.0.0.conv_pw.weight": "layer1.0.conv3.weight",
                        "blocks.1.0.conv_pw.weight": "layer2.0.conv1.weight",
                        "blocks.1.0.conv_dw.weight": "layer2.0.conv2.weight",
                        "blocks.1.0.conv_pwl.weight": "layer2.0.conv3.weight",
                        "blocks.6.0.bn3.bias": "layer7.0.bn3.bias", "bn2.num_batches_tracked": "bn_head.num_batches_tracked",
                        "classifier.weight": "fc.weight"},
    "convnext_tiny": {"stem.0.weight": "conv1.weight", "stem.1.bias": "bn1.bias",
                      "stages.0.blocks.0.conv_dw.bias": "layer1.0.conv1.bias",
                      "stages.0.blocks.0.mlp.fc2.bias": "layer1.0.fc2.bias",
                      "stages.0.blocks.2.gamma": "layer1.2.layer_scale.gamma",
                      "stages.1.downsample.1.bias": "layer2.downsample.1.bias",
                      "stages.1.blocks.0.norm.weight": "layer2.0.norm.weight",
                      "head.norm.bias": "head_norm.bias", "head.fc.weight": "fc.weight"},
}


@pytest.mark.parametrize("name,convention", [("efficientnet_b0", "timm EfficientNet/MobileNet"),
                                             ("convnext_tiny", "timm ConvNeXt")])
def test_timm_efficientnet_and_convnext_load_strictly_each_tensor_in_its_place(name, convention):
    """timm's names for the same networks (tests/data/reference/README.md, "timm efficientnet_b0"):
    every tensor lands in the place the naming notes give it."""
    source = {key: torch.full(shape, float(i)) for i, (key, shape) in enumerate(reference_state_dict(f"timm/{name}"))}
    model = archspec.build(f"specs/{name}.yaml", device="meta").to_empty(device="cpu")
    assert archspec.load_weights(model, source) == convention
    ours = model.state_dict()
    for key, place in PLACES[name].items():
        assert ours[place].min() == ours[place].max() == list(source).index(key), key


def test_timm_names_in_a_block_follow_what_the_block_is():
    """`conv_pw` expands where a projection `conv_pwl` follows, and projects in a depthwise-separable
    block; MobileNetV3's last plain conv block is the head conv, its `conv_head` the first linear."""
    keys = ["conv_stem.weight", "blocks.0.0.conv_dw.weight", "blocks.0.0.bn1.bias", "blocks.0.0.conv_pw.weight",
            "blocks.0.0.bn2.bias", "blocks.1.0.conv_pw.weight", "blocks.1.0.bn1.bias", "blocks.1.0.conv_dw.weight",
            "blocks.1.0.bn2.bias", "blocks.1.0.se.conv_reduce.weight", "blocks.1.0.conv_pwl.weight",
            "blocks.1.0.bn3.bias", "blocks.2.0.conv.weight", "blocks.2.0.bn1.bias", "conv_head.weight",
            "conv_head.bias", "classifier.weight"]
    assert list(translate(keys)[1].values()) == [
        "conv1.weight", "layer1.0.conv2.weight", "layer1.0.bn2.bias", "layer1.0.conv3.weight", "layer1.0.bn3.bias",
        "layer2.0.conv1.weight", "layer2.0.bn1.bias", "layer2.0.conv2.weight", "layer2.0.bn2.bias",
        "layer2.0.se.fc1.weight", "layer2.0.conv3.weight", "layer2.0.bn3.bias", "conv_head.weight",
        "bn_head.bias", "fc1.weight", "fc1.bias", "fc.weight"]


def test_timm_blocks_are_the_models_in_order_whatever_the_stages():
    """timm puts MobileNetV3-Large's blocks 2-3 in one stage; the torchvision-layout spec has two."""
    keys = ["conv_stem.weight", "blocks.1.0.conv_pw.weight", "blocks.1.0.conv_pwl.weight", "blocks.1.1.conv_pw.weight",
            "blocks.1.1.conv_pwl.weight"]
    known = ["conv1.weight", "layer2.0.conv1.weight", "layer2.0.conv3.weight", "layer3.0.conv1.weight", "layer3.0.conv3.weight"]
    assert list(translate(keys, known)[1].values()) == known


def test_regnet_names_map_block_by_block():
    _, names = translate(["stem.0.weight", "stem.1.running_var", "trunk_output.block2.block2-3.f.b.0.weight",
                          "trunk_output.block1.block1-0.proj.1.bias", "trunk_output.block4.block4-0.f.se.fc2.bias",
                          "trunk_output.block3.block3-1.f.c.1.weight", "fc.weight"])
    assert list(names.values()) == ["conv1.weight", "bn1.running_var", "layer2.3.conv2.weight",
                                     "layer1.0.downsample.1.bias", "layer4.0.se.fc2.bias", "layer3.1.bn3.weight",
                                     "fc.weight"]


def test_resnetv2_names_map_block_by_block_and_the_deep_stem():
    _, names = translate(["stem.conv1.weight", "stem.norm1.bias", "stem.conv2.weight", "stem.norm2.weight",
                          "stem.conv3.weight", "stages.3.blocks.2.norm3.weight", "stages.0.blocks.0.downsample.conv.weight",
                          "norm.running_mean", "head.fc.weight"])
    assert list(names.values()) == ["conv1.0.weight", "conv1.1.bias", "conv1.3.weight", "conv1.4.weight",
                                    "conv1.6.weight", "layer4.2.bn3.weight", "layer1.0.downsample.0.weight",
                                    "norm.running_mean", "fc.weight"]


def test_resnetv2_shortcut_conv_behind_an_avgpool_is_found_where_the_model_has_it():
    key = "stages.1.blocks.0.downsample.conv.weight"
    assert translate([key])[1][key] == "layer2.0.downsample.0.weight"
    assert translate([key], known={"layer2.0.downsample.1.weight"})[1][key] == "layer2.0.downsample.1.weight"


def test_the_1x1_conv_classifier_of_resnetv2_loads_into_the_linear_layer():
    source = fake_reference("resnetv2_50")
    source["head.fc.weight"] = torch.randn(1000, 2048, 1, 1)
    model = archspec.build("specs/resnetv2_50.yaml", device="meta").to_empty(device="cpu")
    archspec.load_weights(model, source)
    assert torch.equal(model.fc.weight, source["head.fc.weight"].flatten(1))


def test_an_archspec_state_dict_round_trips():
    a = archspec.build("specs/cifar/resnet20.yaml", seed=1)
    b = archspec.build("specs/cifar/resnet20.yaml", seed=2)
    assert archspec.load_weights(b, a.state_dict()) == ARCHSPEC.name
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


@pytest.mark.parametrize("change,message", [
    (lambda sd: sd.pop("trunk_output.block2.block2-0.f.b.0.weight"), "1 missing: layer2.0.conv2.weight"),
    (lambda sd: sd.update({"trunk_output.block1.block1-0.f.z.weight": torch.zeros(1)}),
     "1 unexpected: trunk_output.block1.block1-0.f.z.weight"),
    (lambda sd: sd.update({"fc.weight": torch.zeros(10, 400)}), "1 of the wrong shape: fc.weight [10, 400] for [1000, 400]"),
])
def test_a_state_dict_that_does_not_fit_is_refused_with_every_problem(change, message):
    source = fake_reference("regnet_x_400mf")
    change(source)
    model = archspec.build("specs/regnet_x_400mf.yaml", seed=0)
    before = model.fc.weight.clone()
    with pytest.raises(WeightsError) as e:
        archspec.load_weights(model, source)
    assert str(e.value) == f"state_dict does not fit the model (torchvision RegNet names):\n  {message}"
    assert torch.equal(model.fc.weight, before)  # nothing loaded


def test_weights_of_another_architecture_are_refused_in_a_few_short_lines():
    model = archspec.build("specs/resnet18.yaml", device="meta").to_empty(device="cpu")
    with pytest.raises(WeightsError) as e:
        archspec.load_weights(model, fake_reference("resnet50"))
    assert str(e.value).splitlines() == [
        "state_dict does not fit the model (archspec (torchvision/timm ResNet) names):",
        "  198 unexpected: layer1.0.conv3.weight, layer1.0.bn3.weight and 196 more",
        "  24 of the wrong shape: layer1.0.conv1.weight [64, 64, 1, 1] for [64, 64, 3, 3] and 23 more"]


@pytest.mark.parametrize("state_dict,kind", [([torch.zeros(1)], "list"), ({"fc.weight": 3}, "dict holding other values")])
def test_a_state_dict_that_is_no_map_of_tensors_is_a_weights_error(state_dict, kind):
    model = archspec.build("specs/cifar/resnet20.yaml", device="meta")
    with pytest.raises(WeightsError, match=f"^state_dict: expected a mapping of names to tensors, got a {kind}$"):
        archspec.load_weights(model, state_dict)
