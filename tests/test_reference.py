"""Shipped specs against the reference implementations' figures (tests/data/reference)."""

import pytest
import torch

import archspec
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


@pytest.mark.parametrize("path", REFERENCED, ids=spec_id)
def test_state_dict_keys_and_shapes_equal_reference_in_order(path):
    model = archspec.build(path, device="meta")
    ours = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    assert ours == reference_state_dict(spec_id(path))


@pytest.mark.parametrize("path", SPECS, ids=spec_id)
def test_meta_forward_gives_every_planned_shape(path):
    p = archspec.plan(path)
    model = archspec.build(p, device="meta")
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen.setdefault(name, tuple(output.shape))
        return hook

    for layer in p.layers:
        model.get_submodule(layer.name).register_forward_hook(record(layer.name))
    out = model(torch.empty(2, *p.input_shape, device="meta"))
    assert tuple(out.shape) == (2, *p.output_shape)
    assert seen == {l.name: (2, *l.shape) for l in p.layers}
    assert sum(t.numel() for t in model.parameters()) == p.params


@pytest.mark.parametrize("path", REFERENCED, ids=spec_id)
def test_top_level_outputs_equal_reference(path):
    """The reference's per-child output shapes, for the children both share (names agree)."""
    ref = reference_figures()[spec_id(path)]["layer_outputs"]["top_level"]
    planned = {l.name: (1, *l.shape) for l in archspec.plan(path).layers if l.depth == 1}
    shared = [(name, tuple(shape)) for name, _, shape in ref if name in planned]
    assert len(shared) >= len(ref) - 2  # the stem activation and nothing else may be named differently
    assert shared == [(name, planned[name]) for name, _ in shared]
