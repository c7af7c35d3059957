"""Summaries at any input size, depth, batch and dtype: `build` and `Plan.summary`."""

import json

import pytest

import archspec
from archspec.commands.cli import main
from archspec.planning.memory import layer_memory
from conftest import SPECS
from test_memory import RESNET50_BFLOAT16
from test_properties import measured

RESNET50 = str(SPECS / "resnet50.yaml")


def build(capsys, *args) -> tuple[int, str, str]:
    code = main(["build", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_macs_at_512_equal_a_meta_forward_pass(capsys):
    code, out, _ = build(capsys, RESNET50, "--input", "3x512x512", "--json")
    planned = json.loads(out)
    p = archspec.plan(RESNET50, (3, 512, 512))
    _, macs = measured(archspec.build(p, device="meta"), p)
    assert (code, planned["input"], planned["macs"]) == (0, [3, 512, 512], sum(macs.values()))
    assert planned["macs"] == 21_355_249_664


@pytest.mark.parametrize("written", ["3,512,512", "3×512×512", "3X512X512"])
def test_input_sizes_are_written_with_x_or_commas(capsys, written):
    assert build(capsys, RESNET50, "--input", written) == build(capsys, RESNET50, "--input", "3x512x512")


def test_a_too_small_input_gives_its_located_error(capsys, write_spec):
    path = write_spec("archspec: 1\nname: small\ninput: {channels: 3, size: 32}\ndefaults: {block: basic}\n"
                      "stem: {type: conv, channels: 16, kernel: 7, stride: 2, padding: 0, pool: none}\n"
                      "stages: [{depth: 1, channels: 16}]\nhead: {type: classifier, classes: 10}\n")
    code, out, err = build(capsys, path, "--input", "3x4x4")
    assert (code, out) == (1, "")
    assert err == (f"{path}:5:7: error: conv1: conv 7×7, stride 2, padding 0 reduces 4×4 to 0×0 — "
                   "use an input of at least 7×7 (the smallest this spec accepts), or fewer stride-2 layers\n")


def test_depth_stages_folds_each_stage_into_one_row():
    p = archspec.plan(RESNET50)
    lines = p.summary(depth="stages").splitlines()
    assert [l.split()[0] for l in lines[4:-4]] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                                                   "layer4", "avgpool", "flatten", "fc"]
    assert lines[10].split() == ["layer3", "bottleneck", "×6", "1024×14×14", "7,098,368", "1.46", "G", "15.77", "MiB"]
    per_layer = layer_memory(p)
    assert per_layer["layer3"] == sum(per_layer[f"layer3.{b}"] for b in range(6)) == 16_539_648
    # a stride-1 block: bn1 and bn2's inputs and ReLU outputs (256×14×14), bn3's input and the sum
    # after ReLU (1024×14×14), 4 bytes each, and each norm's mean and inverse std
    assert per_layer["layer3.1"] == (4 * 256 + 2 * 1024) * 14 * 14 * 4 + 2 * (256 + 256 + 1024) * 4


def test_depth_layers_lists_every_module():
    p = archspec.plan(SPECS / "cifar" / "resnet20.yaml")
    lines = p.summary(depth="layers").splitlines()
    assert [l.split()[0] for l in lines[4:-4]] == [l.name for l in p.layers]
    assert lines[4 + [l.name for l in p.layers].index("layer2.0.downsample")].split() == [
        "layer2.0.downsample", "zeropad", "32×16×16", "0", "0", "0"]


def test_print_and_repr():
    p = archspec.plan(RESNET50)
    assert str(p) == p.summary() == p.summary("blocks", 1, "float32")
    assert repr(p) == "<Plan resnet50: 25,557,032 parameters, 4.09 G MACs, input 3×224×224>"
    assert p.summary(batch=8, dtype="bfloat16").splitlines()[-2:] == [
        "for backward at batch 8 in bfloat16 (weights, gradients and optimizer state not included).",
        "total: 25,557,032 parameters, 4.09 G MACs (4,089,184,256), 8.18 G FLOPs, 333.95 MiB of activations"]


def test_json_gives_memory_per_layer_stage_and_total(capsys):
    code, out, _ = build(capsys, RESNET50, "--json", "--batch", "4", "--dtype", "bfloat16")
    planned = json.loads(out)
    p = archspec.plan(RESNET50)
    assert (code, planned["batch"], planned["dtype"]) == (0, 4, "bfloat16")
    statistics = 2 * 2 * 26_560  # the norms' mean and inverse std in bfloat16: the same for any batch
    assert planned["activation_bytes"] == p.activation_memory(4, "bfloat16") == 175_136_512
    assert planned["activation_bytes"] == 4 * (RESNET50_BFLOAT16 - statistics) + statistics
    layers = {l["name"]: l["activation_bytes"] for l in planned["layers"]}
    assert sum(layers[l.name] for l in p.layers if l.depth == 1) == planned["activation_bytes"]
    assert layers["layer2"] == sum(layers[f"layer2.{b}"] for b in range(4))
    assert layers["maxpool"] == 4 * 64 * 56 * 56 * 8  # int64 indices; its input is the ReLU's, counted there


@pytest.mark.parametrize("kwargs,message", [
    ({"batch": 0}, "batch must be at least 1, not 0"),
    ({"dtype": "float64"}, "dtype must be one of float32, bfloat16, float16, not 'float64'"),
])
def test_bad_batch_or_dtype_from_python(kwargs, message):
    with pytest.raises(ValueError, match=message):
        archspec.plan(RESNET50).activation_memory(**kwargs)


@pytest.mark.parametrize("args,message", [
    (["--batch", "0"], "argument --batch: expected a whole number from 1 to 1000000000, got '0'"),
    (["--batch", "1e3"], "argument --batch: expected a whole number from 1 to 1000000000, got '1e3'"),
    (["--batch", "²"], "argument --batch: expected a whole number from 1 to 1000000000, got '²'"),
    (["--batch", "9" * 5000], "argument --batch: expected a whole number from 1 to 1000000000, got '9999"),
    (["--dtype", "float64"], "argument --dtype: invalid choice: 'float64'"),
    (["--depth", "modules"], "argument --depth: invalid choice: 'modules'"),
    (["--input", "3x512x512x1"], "argument --input: expected CxHxW, HxW or one size, such as 3x224x224, 224x224 or "
                                 "224, got '3x512x512x1'"),
    (["--input", "3x0x512"], "argument --input: sizes must be positive, got '3x0x512'"),
])
def test_bad_options_are_usage_errors(capsys, args, message):
    with pytest.raises(SystemExit) as exit:
        main(["build", RESNET50, *args])
    err = capsys.readouterr().err
    assert exit.value.code == 2
    assert err.splitlines()[-1].startswith(f"archspec build: error: {message}")
