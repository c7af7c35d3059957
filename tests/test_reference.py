"""Shipped specs against the reference implementations' figures (tests/data/reference)."""

import pytest
import torch

import archspec
from archspec.building.weights import ARCHSPEC, ByOrder, TorchvisionFeatures, compatible, convention_of, translate
from conftest import reference_figures, reference_state_dict, shipped_specs, spec_id

SPECS = shipped_specs()
REFERENCED = [p for p in SPECS if spec_id(p) in reference_figures()]


def test_the_references_cover_the_shipped_classics():
    names = {spec_id(p) for p in REFERENCED}
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "cifar/resnet20", "cifar/resnet110"} <= names


@pytest.mark.parametrize("path", REFERENCED, ids=spec_id)
def test_params_and_macs_equal_reference(path):
    ref = reference_figures()[spec_id(path)]
    p = archspec.plan(path)
    assert (p.params, p.macs) == (ref["params"], ref["macs"])
    assert list(p.input_shape) == ref["input"]


def test_headline_figures():
    assert archspec.plan("specs/resnet50.yaml").params == 25_557_032
    assert archspec.plan("specs/resnet50.yaml").macs == 4_089_184_256
    assert archspec.plan("specs/cifar/resnet20.yaml").params == 269_722


def test_the_references_cover_the_block_vocabulary():
    names = {spec_id(p) for p in REFERENCED}
    assert {"resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
            "resnet50d", "seresnet50", "resnetv2_50", "regnet_x_400mf", "regnet_y_400mf", "regnet_x_1_6gf",
            "regnet_y_1_6gf"} <= names


@pytest.mark.parametrize("path", REFERENCED, ids=spec_id)
def test_state_dict_keys_and_shapes_equal_reference_in_order(path):
    """Same names: same keys, shapes and order. Other names (torchvision RegNet and `features.N`, timm ResNetV2):
    each reference key translates to one of ours, of a shape `load_weights` accepts."""
    model = archspec.build(path, device="meta")
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    reference = reference_state_dict(spec_id(path))
    convention, names = translate([k for k, _ in reference], dict(ours))
    if convention is ARCHSPEC:
        assert ours == reference
        return
    assert len(reference) == len(ours)
    shapes = dict(ours)
    assert sorted(names.values()) == sorted(shapes)
    assert all(compatible(shape, shapes[names[key]]) for key, shape in reference)


@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_meta_forward_gives_every_planned_shape(path):
    p = archspec.plan(path)
    model = archspec.build(p, device="meta")
    seen = {}

    def record(name):
        def hook(module, inputs, output):  # a split gives several maps, each of its planned shape
            seen.setdefault(name, tuple((output[0] if isinstance(output, tuple) else output).shape))
        return hook

    for layer in p.layers:
        model.get_submodule(layer.name).register_forward_hook(record(layer.name))
    out = model(torch.empty(2, *p.input_shape, device="meta"))
    if isinstance(out, tuple):  # a block head of several maps: the first is the plan's output, each as planned
        assert [tuple(m.shape) for m in out] == [(2, *f.shape) for f in p.features]
        out = out[0]
    assert tuple(out.shape) == (2, *p.output_shape)
    assert seen == {l.name: (2, *l.shape) for l in p.layers}
    assert sum(t.numel() for t in model.parameters()) == p.params


# reference modules with no counterpart: timm's act1/global_pool (ours: relu/avgpool), the containers
# that torchvision's RegNet and timm's ResNetV2 put around the stem, the stages and the head, and
# torchvision MNASNet's around its layers and its classifier
UNSHARED = {"act1", "global_pool", "stem", "trunk_output", "stages", "head", "layers", "classifier"}


@pytest.mark.parametrize("path", REFERENCED, ids=spec_id)
def test_top_level_outputs_equal_reference(path):
    """The reference's output shapes per child (and grandchild, where recorded), under our names."""
    outputs = reference_figures()[spec_id(path)]["layer_outputs"]
    ref = outputs["top_level"] + outputs["second_level"]
    if isinstance(convention_of(k for k, _ in reference_state_dict(spec_id(path))), ByOrder):
        # modules named by their place (`features.N`): the reference's outputs, in the order they are made,
        # are among the plan's (each module after its children), in that order
        made = iter(produced(archspec.plan(path).root))
        assert all(tuple(shape) in made for _, _, shape in outputs["second_level"])
        assert tuple(outputs["final_output"]) == (1, *archspec.plan(path).output_shape)
        return
    convention, names = translate(name for name, _, _ in ref)
    if isinstance(convention, TorchvisionFeatures):
        flat = any(kind == "InvertedResidual" for _, kind, _ in outputs["second_level"])
        assert [tuple(shape) for _, _, shape in outputs["second_level"]] == features_outputs(archspec.plan(path), flat)
        return
    planned = {l.name: (1, *l.shape) for l in archspec.plan(path).layers}
    shared = [(names[name], tuple(shape)) for name, _, shape in ref if names[name] in planned]
    assert {name for name, _, _ in ref if names[name] not in planned} <= UNSHARED
    assert shared == [(name, planned[name]) for name, _ in shared]


def features_outputs(p: archspec.Plan, flat: bool) -> list[tuple]:
    """Output shapes in the order of torchvision's `features.N`: the stem, then each block (`flat`,
    MobileNet) or each stage (EfficientNet; ConvNeXt with its downsampling layers between), then
    the head conv."""
    top = p.root.children
    stages = [n for n in top if n.name.startswith("layer")]
    units = [top[top.index(stages[0]) - 1]]  # the stem's last layer
    for stage in stages:
        blocks = [c for c in stage.children if c.name != "downsample"]
        units += [c for c in stage.children if c.name == "downsample"] + (blocks if flat else [stage])
    units += [n for n in top if n.name.endswith("_head")][-1:]  # the head conv's act
    return [(1, *n.shape) for n in units]


def produced(node) -> list[tuple]:
    """The output shape of every module below `node`, each after its children's (batch 1)."""
    return [shape for child in node.children for shape in (*produced(child), (1, *child.shape))]
