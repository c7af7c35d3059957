"""A `features` head: the maps of the named modules, planned statically (name, channels,
reduction) and equal to what the built model returns."""

import pytest
import torch

import archspec
from archspec import SpecError
from conftest import ROOT, TINY_SPEC, shipped_specs, spec_id

RESNET50 = ROOT / "specs" / "resnet50.yaml"


def test_resnet50_stages_2_to_4_as_planned_and_as_run():
    p = archspec.plan(RESNET50, features=["layer2", "layer3", "layer4"])
    assert [(f.name, f.channels, f.reduction, f.shape) for f in p.features] == [
        ("layer2", 512, 8, (512, 28, 28)), ("layer3", 1024, 16, (1024, 14, 14)), ("layer4", 2048, 32, (2048, 7, 7))]
    assert p.params == 25_557_032 - 2_049_000  # no fc
    maps = archspec.build(p, device="meta")(torch.empty(2, 3, 224, 224, device="meta"))
    assert [tuple(m.shape) for m in maps] == [(2, *f.shape) for f in p.features]


def test_the_stems_output_and_any_order():
    p = archspec.plan(RESNET50, (3, 160, 128), features=["layer1", "maxpool", "relu"])
    assert [(f.name, f.channels, f.reduction, f.shape) for f in p.features] == [
        ("layer1", 256, 4, (256, 40, 32)), ("maxpool", 64, 4, (64, 40, 32)), ("relu", 64, 2, (64, 80, 64))]
    assert [c.name for c in p.root.children] == ["conv1", "bn1", "relu", "maxpool", "layer1"]  # nothing after


def test_a_features_head_in_the_file_returns_the_classifiers_intermediate_maps(write_spec):
    spec = write_spec(TINY_SPEC.replace("head: {type: classifier, pool: avg, classes: 10}",
                                        "head: {type: features, outputs: [bn1, layer2, layer1]}"))
    backbone = archspec.build(spec).eval()
    classifier = archspec.build(write_spec(TINY_SPEC, "classifier.yaml"), seed=0).eval()
    result = backbone.load_state_dict(classifier.state_dict(), strict=False)  # a classifier's weights fit
    assert result.missing_keys == [] and result.unexpected_keys == ["fc.weight", "fc.bias"]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        bn1 = classifier.bn1(classifier.conv1(x))
        layer1 = classifier.layer1(classifier.relu(bn1.clone()))
        expected = [bn1, classifier.layer2(layer1), layer1]
        got = backbone(x)
    assert (bn1 < 0).any()  # so the relu after bn1 would have shown, had it run in place on the returned map
    assert len(got) == 3 and all(torch.equal(g, e) for g, e in zip(got, expected))


def test_an_unknown_output_is_located_with_a_suggestion(write_spec):
    spec = write_spec(TINY_SPEC.replace("head: {type: classifier, pool: avg, classes: 10}",
                                        "head:\n  type: features\n  outputs: [layer1, layr2, layer1]"))
    with pytest.raises(SpecError) as info:
        archspec.plan(spec)
    assert [str(i) for i in info.value.issues] == [
        f"{spec}:11:21: error: head.outputs.1: there is no module 'layr2' to take features from — did you mean "
        "'layer2'? the network's modules: conv1, bn1, relu, layer1, layer2",
        f"{spec}:11:28: error: head.outputs.2: 'layer1' is listed twice — list each module once"]
    assert [i.code for i in info.value.issues] == ["AS800", "AS801"]


def test_features_asked_for_in_build_name_the_argument(write_spec):
    spec = write_spec(TINY_SPEC)
    with pytest.raises(SpecError) as info:
        archspec.build(spec, features=["layer3"])
    assert str(info.value) == (f"{spec}: error: features: there is no module 'layer3' to take features from — did "
                               "you mean 'layer2'? the network's modules: conv1, bn1, relu, layer1, layer2")


@pytest.mark.slow  # about 10 s alone, more on a busy machine
def test_the_features_model_exports_with_a_dynamic_batch_and_size():
    model = archspec.build(RESNET50, seed=0, features=["layer2", "layer3", "layer4"]).eval()
    auto = torch.export.Dim.AUTO
    exported = torch.export.export(model, (torch.randn(2, 3, 64, 64),), dynamic_shapes=({0: auto, 2: auto, 3: auto},))
    x = torch.randn(3, 3, 96, 64)
    with torch.no_grad():
        for got, expected in zip(exported.module()(x), model(x), strict=True):
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert [tuple(m.shape) for m in model(x)] == [(3, 512, 12, 8), (3, 1024, 6, 4), (3, 2048, 3, 2)]


@pytest.mark.slow  # a meta build of every shipped spec: about a minute on a busy machine
@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_every_stage_of_every_shipped_spec_as_planned_and_as_run(path):
    whole = archspec.plan(path)
    names = [c.name for c in whole.root.children if c.kind == "sequential" and c.name.startswith("layer")]
    p = archspec.plan(path, features=names)
    maps = archspec.build(p, device="meta")(torch.empty(1, *p.input_shape, device="meta"))
    assert [tuple(m.shape[1:]) for m in maps] == [f.shape for f in p.features]
    _, h, w = p.input_shape
    unpadded = path.stem == "squeezenet1_1"  # its stem conv and pools do not pad: 224 → 111 → 55 → 27 → 13
    for f in p.features:  # the reduction is the product of the strides: exact where the size divides
        if h % f.reduction == 0 and w % f.reduction == 0:
            expected = (h // f.reduction - unpadded, w // f.reduction - unpadded)
            assert f.shape[1:] == expected, f
