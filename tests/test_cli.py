"""`archspec build` and `archspec validate`, end to end through a subprocess."""

import pytest
import torch
from safetensors.torch import load_file

import archspec
from archspec.commands import cli
from archspec.building.checkpoint import load_model, read_metadata
from conftest import ROOT, run_cli


def test_build_prints_the_summary_table():
    r = run_cli("build", "specs/resnet50.yaml")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "resnet50: ResNet-50 v1.5 (stride on the 3×3 conv), torchvision layout"
    assert lines[1] == "input 3×224×224 → output 1000"
    assert lines[3].split() == ["layer", "type", "output", "params", "MACs", "memory"]
    assert lines[4].split() == ["conv1", "conv", "64×112×112", "9,408", "118.01", "M", "588.00", "KiB"]
    assert lines[8].split() == ["layer1.0", "bottleneck", "256×56×56", "75,008", "231.21", "M", "13.02", "MiB"]
    assert lines[-3:] == [
        "MACs: multiply-accumulates per image (FLOPs = 2 × MACs). memory: what a training step saves",
        "for backward at batch 1 in float32 (weights, gradients and optimizer state not included).",
        "total: 25,557,032 parameters, 4.09 G MACs (4,089,184,256), 8.18 G FLOPs, 82.13 MiB of activations"]


def test_build_json_and_input_override():
    import json

    r = run_cli("build", "specs/cifar/resnet20.yaml", "--json", "--input", "3,64,64")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert (plan["input"], plan["output"], plan["params"]) == ([3, 64, 64], [10], 269_722)
    assert plan["macs"] == 4 * 40_551_040 - 3 * 64 * 10  # convs scale with the area; fc does not
    assert {"name": "layer3.2", "kind": "basic", "shape": [64, 16, 16], "params": 73_984,
            "macs": 18_874_368, "activation_bytes": 4 * 64 * 16 * 16 * 4 + 4 * 64 * 4} in plan["layers"]
    # kept for backward: each norm's input, mean and inverse std, and each ReLU's output


def test_build_writes_weights_that_load_back(tmp_path):
    out = tmp_path / "resnet20.safetensors"
    r = run_cli("build", "specs/cifar/resnet20.yaml", "-o", out, "--seed", "3")
    assert r.returncode == 0, r.stderr
    meta = read_metadata(out)
    assert (meta["seed"], meta["input"]) == ("3", "[3, 32, 32]")
    assert meta["spec"] == (ROOT / "specs/cifar/resnet20.yaml").read_text()
    fresh = archspec.build("specs/cifar/resnet20.yaml")
    fresh.load_state_dict(load_file(out), strict=True)
    seeded = archspec.build("specs/cifar/resnet20.yaml", seed=3)
    x = torch.randn(2, 3, 32, 32)
    fresh.eval(), seeded.eval()
    assert torch.equal(fresh(x), seeded(x))
    assert torch.equal(load_model(out).eval()(x), seeded(x))
    assert [p.name for p in tmp_path.iterdir()] == ["resnet20.safetensors"]  # no temporary files left


def test_build_of_an_invalid_spec_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "specs/examples/mnist_small.yaml").read_text().replace("shortcut: auto", "shortcut: identity"))
    out = tmp_path / "model.safetensors"
    r = run_cli("build", bad, "-o", out)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith(f"{bad}:13:5: error: layer1.0: identity shortcut cannot carry")
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_validate_reports_every_file_and_exits_1(tmp_path):
    (tmp_path / "good.yaml").write_text((ROOT / "specs/resnet18.yaml").read_text())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.yml").write_text((ROOT / "specs/resnet18.yaml").read_text().replace("depth: 2", "depth: 0"))
    (tmp_path / "notes.txt").write_text("not a spec")
    r = run_cli("validate", tmp_path)
    assert r.returncode == 1
    bad = tmp_path / "sub" / "bad.yml"
    assert r.stdout.splitlines() == [
        f"{bad}:{line}:13: error: stages.{i}.depth: 0 is too small — use a number ≥ 1" for i, line in ((0, 9), (1, 10), (2, 11), (3, 12))
    ]
    assert r.stderr == "2 files checked, 1 invalid\n"


@pytest.mark.parametrize("args,message", [
    (["build", "missing.yaml"], "missing.yaml"),
    (["build", "specs/resnet18.yaml", "--input", "3,224,224,1"], "expected CxHxW"),
    (["frobnicate"], "invalid choice"),
])
def test_usage_errors_exit_2(args, message):
    r = run_cli(*args)
    assert r.returncode == 2
    assert message in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.parametrize("args,line", [
    (["build", "x.yaml", "--seed", "abc"], "build: error: argument --seed: expected a whole number from 0 to 2**64 - 1, "
                                           "got 'abc'"),
    (["build", "x.yaml", "--seed", "-1"], "build: error: argument --seed: expected a whole number from 0 to 2**64 - 1, "
                                          "got '-1'"),
    (["build", "x.yaml", "--input", "3,a,4"], "build: error: argument --input: expected CxHxW, HxW or one size, such "
                                              "as 3x224x224, 224x224 or 224, got '3,a,4'"),
    (["build", "x.yaml", "--input", "0,4,4"], "build: error: argument --input: sizes must be positive, got '0,4,4'"),
    (["build", "x.yaml", "--max-params", "lots"], "build: error: argument --max-params: expected a whole number such "
                                                  "as 4000000000, 4e9, 4G or 25.6M, got 'lots'"),
    (["validate", "x.yaml", "--format", "xml"], "validate: error: argument --format: invalid choice: 'xml' "
                                                "(choose from 'text', 'json', 'github')"),
])
def test_a_bad_option_value_is_named_by_its_option_with_the_expected_form(capsys, args, line):
    with pytest.raises(SystemExit) as exit:
        cli.main(args)
    assert exit.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"archspec {line}"


@pytest.mark.parametrize("page,command", [
    ("README.md", "archspec build specs/resnet50.yaml"),
    ("README.md", "archspec build specs/examples/wide_kernel_net.yaml --depth stages"),
    ("docs/cli.md", "archspec build specs/resnet50.yaml --input 3x512x512 --depth stages"),
    ("docs/cli.md", "archspec build specs/resnet50.yaml --batch 256 --depth stages"),
    ("docs/spec.md", "archspec show specs/examples/resnet20_wide.yaml --set head.classes=100"),
    ("docs/spec.md", "archspec validate tests/hostile/extends_cycle_a.yaml"),
    ("docs/spec.md", "archspec validate resnet50 --set stages.2.dpeth=23"),
    ("docs/review.md", "archspec diff specs/resnet50.yaml specs/resnet101.yaml"),
    ("docs/ci.md", "archspec validate tests/data/ci/broken.yaml tests/data/ci/shape_error.yaml")])
def test_the_docs_show_real_output(page, command):
    doc = (ROOT / page).read_text(encoding="utf-8")
    shown = doc.split(f"$ {command}\n", 1)[1].split("```", 1)[0]
    r = run_cli(*command.split()[1:])
    assert shown == r.stdout + r.stderr  # the page shows the count that goes to stderr after stdout
