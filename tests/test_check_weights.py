"""`archspec check-weights SPEC FILE` and `load_weights(..., strict=False)`: which tensors would load."""

import json
import os
import pickle

import pytest
import torch

import archspec
from archspec.building.checkpoint import save_weights
from archspec.planning.tensors import state_dict_of
from archspec.building.weights import check
from conftest import ROOT, imported_modules, reference_state_dict, run_cli

R50_TENSORS, R50_PARAMS = 320, 25_557_032


def tiny(shape) -> torch.Tensor:
    """A tensor of `shape` that stores one number: a ResNet-101's worth of them saves in kilobytes."""
    return torch.zeros(()).expand(shape)


def write_pth(path, keys_and_shapes) -> str:
    torch.save({key: tiny(shape) for key, shape in keys_and_shapes}, path)
    return str(path)


@pytest.mark.parametrize("name,tensors,params,convention", [
    ("resnet50", R50_TENSORS, R50_PARAMS, "archspec (torchvision/timm ResNet)"),
    ("regnet_x_400mf", 428, 5_495_976, "torchvision RegNet"),
])
def test_a_torchvision_state_dict_saved_as_pth_loads_fully(cli, tmp_path, name, tensors, params, convention):
    file = write_pth(tmp_path / f"{name}.pth", reference_state_dict(name))  # torchvision's own keys, in its order
    r = cli("check-weights", f"specs/{name}.yaml", file, "--strict")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [
        f"{file}: {tensors} tensors, {convention} names",
        f"loads {tensors} of {name}'s {tensors} tensors: {params:,} of {params:,} parameters (100%)",
        "everything fits: a strict load succeeds",
    ]


def test_resnet101_weights_against_the_resnet50_spec(cli, tmp_path):
    file = write_pth(tmp_path / "resnet101.pth", reference_state_dict("resnet101"))
    r = cli("check-weights", "specs/resnet50.yaml", file)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[:4] == [
        f"{file}: 626 tensors, archspec (torchvision/timm ResNet) names",
        f"loads 320 of resnet50's 320 tensors: {R50_PARAMS:,} of {R50_PARAMS:,} parameters (100%)",
        "0 missing, 306 unexpected, 0 of the wrong shape",  # layer3.6 … layer3.22: 17 blocks of 18 tensors
        "first differences:",
    ]
    assert lines[4] == "  layer3.6.conv1.weight: no such tensor in the model"
    assert lines[14:] == ["  … and 296 more (--format json lists all)"]
    assert cli("check-weights", "specs/resnet50.yaml", file, "--strict").returncode == 1
    report = json.loads(cli("check-weights", "specs/resnet50.yaml", file, "--format", "json").stdout)
    assert (report["ok"], report["loaded"], report["tensors"], len(report["unexpected"]), report["missing"]) == (
        False, 320, 320, 306, [])
    assert report["unexpected"][-1] == {"key": "layer3.22.bn3.num_batches_tracked",
                                        "name": "layer3.22.bn3.num_batches_tracked"}


def test_resnet50_weights_fill_part_of_resnet101(cli, tmp_path):
    file = write_pth(tmp_path / "resnet50.pth", reference_state_dict("resnet50"))
    lines = cli("check-weights", "specs/resnet101.yaml", file).stdout.splitlines()
    assert lines[1:4] == [f"loads 320 of resnet101's 626 tensors: {R50_PARAMS:,} of 44,549,160 parameters (57.3%)",
                          "306 missing, 0 unexpected, 0 of the wrong shape", "first differences:"]
    assert lines[4] == "  layer3.6.conv1.weight: missing from the state_dict"


def test_one_wrong_shape_is_reported_in_full(cli, tmp_path):
    keys = [(k, [10, 2048] if k == "fc.weight" else s) for k, s in reference_state_dict("resnet50")]
    file = write_pth(tmp_path / "ten_classes.pth", keys)
    r = cli("check-weights", "specs/resnet50.yaml", file)
    assert r.returncode == 0
    assert r.stdout.splitlines()[1:] == [
        f"loads 319 of resnet50's 320 tensors: {R50_PARAMS - 2_048_000:,} of {R50_PARAMS:,} parameters (91.9%)",
        "0 missing, 0 unexpected, 1 of the wrong shape",
        "differences:",
        "  fc.weight: shape [10, 2048] does not fit fc.weight [1000, 2048]",
    ]
    assert cli("check-weights", "specs/resnet50.yaml", file, "--strict").returncode == 1


def test_a_wrapped_training_checkpoint_is_unwrapped(cli, tmp_path):
    torch.save({"epoch": 90, "state_dict": {k: tiny(s) for k, s in reference_state_dict("resnet50")}},
               tmp_path / "ckpt.pth")
    assert cli("check-weights", "specs/resnet50.yaml", tmp_path / "ckpt.pth", "--strict").returncode == 0


def test_archspec_weights_files_are_checked_without_torch(tmp_path):
    file = tmp_path / "resnet20.safetensors"
    save_weights(archspec.build("specs/cifar/resnet20.yaml", seed=0), file, "", 0, (3, 32, 32))
    r = run_cli("check-weights", "specs/cifar/resnet32.yaml", file, "--format", "json", flags=("-X", "importtime"))
    report = json.loads(r.stdout)
    # resnet32 has 2 more basic blocks per stage: 6 blocks × (2 convs + 2 batch norms of 5 tensors)
    assert (report["loaded"], report["tensors"], len(report["missing"])) == (116, 188, 72)
    assert (report["params_loaded"], report["params"]) == (269_722, 464_154)
    assert not {name for name in imported_modules(r) if name.split(".")[0] == "torch"}


def test_a_file_that_is_not_weights_is_a_clean_error(cli, tmp_path):
    for name in ("notes.pth", "notes.safetensors"):
        (tmp_path / name).write_text("archspec: 1\nname: not weights\n")
        r = cli("check-weights", "specs/resnet50.yaml", tmp_path / name)
        assert (r.returncode, r.stdout) == (2, "")
        assert r.stderr.startswith(f"{tmp_path / name}: error: not a ") and r.stderr.count("\n") == 1


class RunsCode:
    """Unpickling this calls os.mkdir: what a malicious checkpoint does with os.system."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


REFUSED = "refused: it refers to posix.mkdir, not only tensors, and unpickling it could run code — save the " \
          "weights as .safetensors, or as a plain state_dict"


@pytest.mark.parametrize("writer,message", [
    ("torch.save", REFUSED),
    ("pickle protocol 2", REFUSED),
    ("pickle protocol 5", "not a PyTorch weights file: torch's safe loader cannot read it"),  # stops at its framing
])
def test_a_pickle_that_runs_code_is_refused_and_runs_nothing(cli, tmp_path, writer, message):
    file = tmp_path / "evil.pth"
    payload = {"conv1.weight": RunsCode(tmp_path / "pwned")}
    if writer == "torch.save":
        torch.save(payload, file)
    else:
        file.write_bytes(pickle.dumps(payload, protocol=int(writer[-1])))
    r = cli("check-weights", "specs/resnet50.yaml", file)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"{file}: error: {message}\n"
    assert not (tmp_path / "pwned").exists()
    if writer != "torch.save":  # the file is truly hostile: an ordinary unpickler runs it
        pickle.loads(file.read_bytes())
        assert (tmp_path / "pwned").is_dir()


def test_load_weights_not_strict_loads_what_fits_and_returns_the_report():
    small, large = archspec.build("specs/cifar/resnet20.yaml", seed=0), archspec.build("specs/cifar/resnet32.yaml", seed=1)
    source = large.state_dict()
    source["fc.weight"] = torch.ones(5, 64)
    report = archspec.load_weights(small, source, strict=False)
    assert not report.ok
    assert (len(report.fits), report.tensors, len(report.unexpected), len(report.mismatched)) == (115, 116, 72, 1)
    assert report.params_loaded == 269_722 - 640
    assert report.problems()[-1] == "fc.weight: shape [5, 64] does not fit fc.weight [10, 64]"
    assert torch.equal(small.layer3[2].conv2.weight, large.layer3[2].conv2.weight)
    assert not torch.equal(small.fc.weight[:5], source["fc.weight"])  # the misfit stays as it was


def test_the_report_counts_from_the_plan_equal_those_from_the_model():
    plan = archspec.plan("specs/examples/mnist_small.yaml")
    model = archspec.build(plan, device="meta")
    source = {k: tiny(t.shape) for k, t in state_dict_of(archspec.plan("specs/cifar/resnet20.yaml")).items()}
    planned = check({k: v.shape for k, v in source.items()}, state_dict_of(plan))
    built = archspec.load_weights(model.to_empty(device="cpu"), source, strict=False)
    assert planned.to_dict() == built.to_dict()
    assert (len(planned.fits), len(planned.missing), len(planned.unexpected), len(planned.mismatched)) == (36, 18, 78, 2)


def test_the_docs_show_real_output(cli, tmp_path, monkeypatch):
    command = "archspec check-weights specs/resnet50.yaml resnet101.pth"
    write_pth(tmp_path / "resnet101.pth", reference_state_dict("resnet101"))
    monkeypatch.chdir(tmp_path)
    r = cli("check-weights", ROOT / "specs/resnet50.yaml", "resnet101.pth")
    doc = (ROOT / "docs/review.md").read_text(encoding="utf-8")
    assert doc.split(f"$ {command}\n", 1)[1].split("```", 1)[0] == r.stdout + r.stderr


def test_the_network_an_archspec_file_records_is_named(cli, tmp_path):
    file = tmp_path / "resnet20.safetensors"
    save_weights(archspec.build("specs/cifar/resnet20.yaml", seed=0), file,
                 (ROOT / "specs/cifar/resnet20.yaml").read_text(), 0, (3, 32, 32))
    r = cli("check-weights", "specs/cifar/resnet32.yaml", file)
    assert r.stdout.splitlines()[0] == f"{file}: 116 tensors, archspec (torchvision/timm ResNet) names, the weights of resnet20"
    assert json.loads(cli("check-weights", "specs/cifar/resnet32.yaml", file, "--format", "json").stdout)["network"] == "resnet20"
