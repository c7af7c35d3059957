"""A `block` head: a block written in the spec on several maps of the network (a neck, a
decoder). torchvision's resnet_fpn_backbone and segmentation_models_pytorch's U-Net, checked
against tests/data/reference (counts, output maps, state_dict names and shapes); the network as
planned and as run; the mistakes, each one located line."""

import json

import pytest
import torch

import archspec
from archspec import SpecError
from archspec.building.weights import check
from archspec.building.export import export
from archspec.commands.eject import eject
from archspec.planning.tensors import state_dict_of
from conftest import REFERENCE, ROOT, TINY_SPEC, reference_figures
from test_memory import measured, planned

FPN = ROOT / "specs" / "examples" / "resnet50_fpn.yaml"
UNET = ROOT / "specs" / "examples" / "unet_resnet34.yaml"
FIGURES = reference_figures()

# A small network with a two-level FPN-like head: quick to build, run and export.
TINY_NECK = TINY_SPEC.replace("head: {type: classifier, pool: avg, classes: 10}", """\
head: {type: block, block: neck, from: [layer1, layer2], channels: 8}
blocks:
  neck:
    params: {channels: int}
    inputs: [fine, coarse]
    nodes:
      - {name: lateral1, op: conv, in: coarse, channels: channels, kernel: 1, bias: true}
      - {name: lateral0, op: conv, in: fine, channels: channels, kernel: 1, bias: true}
      - {name: up, op: upsample, in: [lateral1, lateral0]}
      - {name: add, op: add, in: [lateral0, up]}
      - {name: out0, op: conv, in: add, channels: channels, kernel: 3, bias: true}
      - {name: out1, op: conv, in: lateral1, channels: channels, kernel: 3, bias: true}
      - {name: pool, op: maxpool, in: out1, kernel: 1, stride: 2}
    out: [out0, out1, pool]
""")


def reference_keys(library: str, name: str) -> dict[str, tuple]:
    return {k: tuple(s) for k, s in json.loads((REFERENCE / "state_dicts" / library / f"{name}.json").read_text())}


# ---- resnet50_fpn: torchvision's resnet_fpn_backbone("resnet50", norm_layer=BatchNorm2d) ----------------


def test_fpn_counts_and_maps_are_torchvisions():
    p = archspec.plan(FPN)
    figures = FIGURES["resnet50_fpn"]
    assert (p.params, p.macs) == (figures["params"], figures["macs"]) == (26_852_416, 6_929_104_896)
    # the maps torchvision returns as 0, 1, 2, 3, pool are the block's out0 … out3, pool
    assert [(f.name, f.shape, f.reduction) for f in p.features] == [
        ("out0", (256, 56, 56), 4), ("out1", (256, 28, 28), 8), ("out2", (256, 14, 14), 16),
        ("out3", (256, 7, 7), 32), ("pool", (256, 4, 4), 64)]
    assert [f.shape for f in p.features] == [tuple(s[1:]) for s in figures["output_maps"].values()]
    assert list(figures["output_maps"]) == ["0", "1", "2", "3", "pool"]
    assert [c.name for c in p.root.children] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                                                 "layer4", "fpn"]


def test_fpn_state_dict_is_torchvisions_through_its_convention():
    p = archspec.plan(FPN)
    source = reference_keys("torchvision", "resnet50_fpn")
    assert len(source) == FIGURES["resnet50_fpn"]["state_dict_entries"] == len(state_dict_of(p))
    report = check(source, state_dict_of(p))
    assert report.convention == "torchvision FPN backbone"
    assert (report.unexpected, report.duplicates, report.mismatched, report.missing) == ([], [], [], [])
    assert report.fits["fpn.inner_blocks.3.0.weight"] == "fpn.inner3.weight"
    assert report.fits["fpn.layer_blocks.0.0.bias"] == "fpn.out0.bias"
    assert report.fits["body.layer4.2.bn3.running_var"] == "layer4.2.bn3.running_var"


@pytest.mark.slow  # a meta build of ResNet-50 FPN and load_weights: about 6 s on a busy machine
def test_fpn_loads_a_state_dict_of_torchvisions_names_strictly():
    model = archspec.build(FPN, device="meta")
    source = {k: torch.zeros(s, device="meta") for k, s in reference_keys("torchvision", "resnet50_fpn").items()}
    assert archspec.load_weights(model, source) == "torchvision FPN backbone"


def test_fpn_as_planned_and_as_run_on_meta():
    p = archspec.plan(FPN, (3, 256, 192))
    maps = archspec.build(p, device="meta")(torch.empty(2, 3, 256, 192, device="meta"))
    assert isinstance(maps, tuple) and [tuple(m.shape) for m in maps] == [(2, *f.shape) for f in p.features]
    assert [f.shape[1:] for f in p.features] == [(64, 48), (32, 24), (16, 12), (8, 6), (4, 3)]


@pytest.mark.slow  # a training forward of ResNet-50 at 224 on the CPU
def test_fpn_saves_what_the_plan_says_at_224():
    p = archspec.plan(FPN)
    assert planned(p, 1, "float32") == measured(p, 1, "float32")
    assert p.activation_memory(1) == 90_461_696


def test_fpn_summary_names_each_output():
    text = archspec.plan(FPN).summary()
    assert "outputs out0 256×56×56 (stride 4)" in text and "pool 256×4×4 (stride 64)" in text
    assert "\nfpn       fpn         256×56×56   3,344,384    2.84 G" in text


# ---- unet_resnet34: segmentation_models_pytorch's Unet("resnet34", classes=1) at 256×256 ----------------


def test_unet_counts_and_mask_are_smps():
    p = archspec.plan(UNET)
    figures = FIGURES["unet_resnet34"]
    assert (p.params, p.macs) == (figures["params"], figures["macs"]) == (24_436_369, 7_813_988_352)
    assert [(f.name, f.shape, f.reduction) for f in p.features] == [("head", (1, 256, 256), 1)]
    assert [f.shape for f in p.features] == [tuple(s[1:]) for s in figures["output_maps"].values()]
    shapes = {l.name: l.shape for l in p.layers}
    assert [shapes[f"decoder.block{i}"] for i in range(5)] == [
        tuple(s[1:]) for n, _, s in figures["layer_outputs"]["second_level"] if n.startswith("decoder.blocks.")]


def test_unet_state_dict_is_smps_through_its_convention():
    p = archspec.plan(UNET)
    source = reference_keys("smp", "unet_resnet34")
    assert len(source) == FIGURES["unet_resnet34"]["state_dict_entries"] == len(state_dict_of(p))
    report = check(source, state_dict_of(p))
    assert report.convention == "segmentation_models_pytorch U-Net"
    assert (report.unexpected, report.duplicates, report.mismatched, report.missing) == ([], [], [], [])
    assert report.fits["decoder.blocks.0.conv1.1.running_mean"] == "decoder.block0.conv1.1.running_mean"
    assert report.fits["segmentation_head.0.weight"] == "decoder.head.weight"
    model = archspec.build(p, device="meta")
    assert archspec.load_weights(model, {k: torch.zeros(s, device="meta") for k, s in source.items()}) == \
        "segmentation_models_pytorch U-Net"


def test_unet_as_planned_and_as_run_on_meta_and_its_memory():
    p = archspec.plan(UNET, (3, 64, 96))
    mask = archspec.build(p, device="meta")(torch.empty(2, 3, 64, 96, device="meta"))
    assert tuple(mask.shape) == (2, 1, 64, 96) == (2, *p.output_shape)
    assert planned(p, 2, "float32") == measured(p, 2, "float32")


# ---- the tools on a small block head -----------------------------------------------------------


def test_a_tiny_neck_runs_saves_and_exports(write_spec, tmp_path):
    p = archspec.plan(write_spec(TINY_NECK), (3, 40, 36))
    assert [(f.name, f.shape, f.reduction) for f in p.features] == [
        ("out0", (8, 40, 36), 1), ("out1", (8, 20, 18), 2), ("pool", (8, 10, 9), 4)]
    assert planned(p, 2, "float32") == measured(p, 2, "float32")
    for kind in ("pt2", "onnx"):  # verified against eager, with its three outputs
        done = export(p, tmp_path / f"neck.{kind}", kind)
        assert done.dynamic == ["batch", "height", "width"]
        assert [c.shape for c in done.checks] == [(2, 3, 40, 36), (3, 3, 30, 27)]
        assert all(c.delta <= 1e-5 * c.scale for c in done.checks)


def test_a_taken_map_is_not_overwritten_by_an_in_place_act(write_spec):
    spec = write_spec(TINY_NECK.replace("from: [layer1, layer2]", "from: [bn1, layer2]"))
    model = archspec.build(spec, seed=0).eval()
    assert model.relu.inplace is False
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        bn1 = model.bn1(model.conv1(x))
        expected = model.neck(bn1, model.layer2(model.layer1(torch.relu(bn1))))
        assert all(torch.equal(a, b) for a, b in zip(model(x), expected, strict=True))


def test_eject_writes_a_block_head_with_its_maps_out_of_place(write_spec, tmp_path):
    p = archspec.plan(write_spec(TINY_NECK.replace("from: [layer1, layer2]", "from: [bn1, layer2]")))
    text = eject(p)
    assert "        self.relu = nn.ReLU()\n" in text  # bn1's map is taken: the relu after it is out of place
    assert "        return self.neck(bn1, layer2)\n" in text
    path = tmp_path / "neck.py"
    path.write_text(text)
    namespace = {}
    exec(compile(text, str(path), "exec"), namespace)
    model = archspec.build(p, seed=0).eval()
    ejected = namespace["build"]().eval()
    ejected.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(ejected(x), model(x), strict=True))


def test_the_diagram_marks_each_output_on_the_head(write_spec):
    from archspec.commands.diagram import boxes

    head = boxes(archspec.plan(write_spec(TINY_NECK)))[-1]
    assert [line for line in head.lines if line.startswith("▶")] == [
        "▶ output 0 (out0): 8×32×32, stride 1", "▶ output 1 (out1): 8×16×16, stride 2",
        "▶ output 2 (pool): 8×8×8, stride 4"]


# ---- mistakes: each one located line ---------------------------------------------------------------


def issues(path) -> list[str]:
    with pytest.raises(SpecError) as info:
        archspec.plan(path)
    return [f"{str(i)} [{i.code}]" for i in info.value.issues]


def test_an_unknown_module_in_from_is_located_with_a_suggestion(write_spec):
    spec = write_spec(TINY_NECK.replace("from: [layer1, layer2]", "from: [layer1, layr2]"))
    assert issues(spec) == [
        f"{spec}:9:49: error: head.from.1: there is no module 'layr2' to take a map from — did you mean "
        "'layer2'? the network's modules: conv1, bn1, relu, layer1, layer2 [AS800]"]


def test_a_module_taken_twice_is_located(write_spec):
    spec = write_spec(TINY_NECK.replace("from: [layer1, layer2]", "from: [layer2, layer2]"))
    assert issues(spec) == [f"{spec}:9:49: error: head.from.1: 'layer2' is listed twice — name each module "
                            "once [AS801]"]


def test_a_block_whose_inputs_differ_from_from_is_located(write_spec):
    spec = write_spec(TINY_NECK.replace("from: [layer1, layer2]", "from: [relu, layer1, layer2]"))
    assert issues(spec) == [
        f"{spec}:9:40: error: head.from: names 3 modules, but a neck block takes 2 inputs (fine, coarse) — "
        "name one module per input of the block, in its order [AS802]"]


def test_an_unknown_head_block_is_located_with_a_suggestion(write_spec):
    spec = write_spec(TINY_NECK.replace("block: neck,", "block: nek,"))
    assert issues(spec) == [f"{spec}:9:28: error: head.block: no block is called 'nek' — did you mean 'neck'? "
                            "the spec's blocks: neck [AS802]"]


def test_a_head_parameter_is_checked_as_a_stages(write_spec):
    spec = write_spec(TINY_NECK.replace("channels: 8}", "chanels: 8}"))
    assert issues(spec) == [
        f"{spec}:9:7: error: missing key 'channels' in head — neck blocks need `channels` (int) [AS202]",
        f"{spec}:9:58: error: unknown key 'chanels' in head — did you mean 'channels'? neck blocks take "
        "channels [AS201]"]


def test_maps_that_do_not_match_in_an_add_are_located_at_the_node(write_spec):
    spec = write_spec(TINY_NECK.replace("{name: up, op: upsample, in: [lateral1, lateral0]}",
                                        "{name: up, op: upsample, in: lateral1, scale: 1}"))
    assert issues(spec) == [f"{spec}:18:9: error: neck.add: add of 8×32×32 and 8×16×16: an add takes maps of one "
                            "shape — check the strides and channels of its inputs [AS301]"]
