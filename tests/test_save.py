"""`archspec.save` and `load_model`: a trained model leaves in a file with its spec and comes
back identical in another process; a write that fails says why in one line and leaves nothing."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
import torch
from safetensors.torch import save_file

import archspec
from archspec.building.checkpoint import read_metadata
from conftest import ROOT

RESNET20 = ROOT / "specs" / "cifar" / "resnet20.yaml"
SMALL = ROOT / "specs" / "examples" / "mnist_small.yaml"


def python(code: str, *args, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, **kwargs)


def trained_resnet20(steps: int = 20) -> torch.nn.Module:
    torch.manual_seed(0)
    model = archspec.build(RESNET20, seed=0)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        x, target = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(model(x), target).backward()
        optimiser.step()
    return model.eval()


def test_a_trained_model_comes_back_identical_in_a_fresh_process(tmp_path):
    model = trained_resnet20()
    untrained = archspec.build(RESNET20, seed=0).state_dict()
    assert not torch.equal(model.state_dict()["layer3.2.bn2.running_mean"], untrained["layer3.2.bn2.running_mean"])
    archspec.save(model, tmp_path / "trained.safetensors")
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    save_file({"x": x}, tmp_path / "x.safetensors")

    r = python("import sys, archspec, torch; from safetensors.torch import load_file, save_file\n"
               "model = archspec.load_model(sys.argv[1]).eval()\n"
               "with torch.no_grad(): save_file({'y': model(load_file(sys.argv[2])['x'])}, sys.argv[3])",
               tmp_path / "trained.safetensors", tmp_path / "x.safetensors", tmp_path / "y.safetensors")
    assert r.returncode == 0, r.stderr
    from safetensors.torch import load_file

    with torch.no_grad():
        assert torch.equal(load_file(tmp_path / "y.safetensors")["y"], model(x))
    meta = read_metadata(tmp_path / "trained.safetensors")
    assert meta["input"] == "[3, 32, 32]" and meta["seed"] == "null"
    rebuilt = archspec.Spec.model_validate(yaml.safe_load(meta["spec"]))
    assert rebuilt.model_dump() == archspec.load(RESNET20).model_dump()


def test_the_spec_of_a_features_backbone_travels_too(tmp_path):
    model = archspec.build(RESNET20, seed=0, features=["layer1", "layer3"], input_shape=(3, 40, 40)).eval()
    archspec.save(model, tmp_path / "backbone.safetensors")
    loaded = archspec.load_model(tmp_path / "backbone.safetensors").eval()
    assert [f.name for f in loaded.archspec_plan.features] == ["layer1", "layer3"]
    assert loaded.archspec_plan.input_shape == (3, 40, 40)
    x = torch.randn(2, 3, 40, 40)
    assert all(torch.equal(a, b) for a, b in zip(loaded(x), model(x)))


def test_save_looks_inside_torch_compile(tmp_path):
    model = archspec.build(SMALL, seed=0)
    archspec.save(torch.compile(model), tmp_path / "m.safetensors")  # compiles nothing until it is called
    assert list(archspec.load_model(tmp_path / "m.safetensors").state_dict()) == list(model.state_dict())


def test_a_module_archspec_did_not_build_is_refused(tmp_path):
    with pytest.raises(TypeError, match=r"^archspec.save: this Linear was not built by archspec.build or "
                                        r"archspec.load_model, so it carries no spec"):
        archspec.save(torch.nn.Linear(2, 2), tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_a_plain_state_dict_loads_with_its_spec(tmp_path, write_spec):
    model = archspec.build(SMALL, seed=3).eval()
    save_file(model.state_dict(), tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match=r"not an archspec weights file .*archspec.load_model\(path, spec=...\)"):
        archspec.load_model(tmp_path / "plain.safetensors")
    loaded = archspec.load_model(tmp_path / "plain.safetensors", spec=SMALL).eval()
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(loaded(x), model(x))
    five_classes = write_spec(SMALL.read_text().replace("classes: 10", "classes: 5"))
    with pytest.raises(archspec.WeightsError, match=r"does not fit mnist_small \(archspec \(torchvision/timm ResNet\) "
                       r"names\):\n  2 of the wrong shape: fc.bias \[10\] for \[5\], fc.weight \[10, 1024\] for \[5, 1024\]$"):
        archspec.load_model(tmp_path / "plain.safetensors", spec=five_classes)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_follow_the_users_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        archspec.save(archspec.build(SMALL), tmp_path / "m.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == mode


# One process tries every way a write can fail, each through `archspec build -o`: importing
# torch once keeps this quick. Under `unshare -m` (root in CI, here) a full and a read-only
# file system are mounted for it; elsewhere those two cases are left out.
WRITE_FAILURES = r"""
import contextlib, io, json, os, resource, shutil, signal, sys, tempfile
from archspec.commands import cli
readable = tempfile.mkdtemp()  # the spec where nobody (the permission case) can read it, whatever the checkout's folder
os.chmod(readable, 0o755)
spec = shutil.copy("specs/examples/mnist_small.yaml", readable)
results = {}
for name, target in json.loads(sys.argv[1]).items():
    err, limit = io.StringIO(), resource.getrlimit(resource.RLIMIT_FSIZE)
    if name == "file too large":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so that write() fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, limit[1]))
    if name == "permission" and os.geteuid() == 0:
        os.seteuid(65534)  # root may write anywhere: be nobody for this one
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["build", spec, "-o", target])
    if name == "permission" and os.getuid() == 0:
        os.seteuid(0)
    resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    folder = os.path.dirname(target)
    results[name] = [code, err.getvalue(), sorted(os.listdir(folder)) if os.path.isdir(folder) else None]
shutil.rmtree(readable)
print(json.dumps(results))
"""


def test_every_write_failure_is_one_line_and_leaves_nothing(tmp_path):
    places = {name: tmp_path / name.replace(" ", "_") for name in
              ("no space", "read-only", "file too large", "permission", "folder in the way", "file in the way")}
    for folder in places.values():
        folder.mkdir()
    (places["folder in the way"] / "m.safetensors").mkdir()
    (places["file in the way"] / "a").write_bytes(b"")
    if os.geteuid() != 0:
        places["permission"].chmod(0o555)
    targets = {name: str(folder / "m.safetensors") for name, folder in places.items()}
    targets["no space"] = str(places["no space"] / "old.safetensors")
    targets["file in the way"] = str(places["file in the way"] / "a" / "m.safetensors")
    causes = {
        "no space": "cannot write: No space left on device",
        "read-only": "cannot write: Read-only file system",
        "file too large": "cannot write: File too large",
        "permission": "cannot write: Permission denied",
        "folder in the way": "this is a folder; give a file name such as model.safetensors",
        "file in the way": f"folder '{places['file in the way'] / 'a'}' does not exist",
    }
    mounts = (f"mount -t tmpfs -o size=64k tmpfs {places['no space']} && "
              f"echo -n 'old weights' > {targets['no space']} && "
              f"mount -t tmpfs -o ro,size=64k tmpfs {places['read-only']} && ")
    command = [sys.executable, "-c", WRITE_FAILURES, json.dumps(targets)]
    if shutil.which("unshare") and subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode == 0:
        command = ["unshare", "-m", "sh", "-c", mounts + 'exec "$@"', "sh", *command]
    else:
        for name in ("no space", "read-only"):
            del targets[name], causes[name]
        command[-1] = json.dumps(targets)
    r = subprocess.run(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    left = {"no space": ["old.safetensors"], "folder in the way": ["m.safetensors"], "file in the way": None}
    assert json.loads(r.stdout) == {name: [1, f"{targets[name]}: error: {causes[name]}\n", left.get(name, [])]
                                    for name in targets}


def test_the_suffix_decides_the_format_and_a_pt_file_loads_everywhere(cli, tmp_path):
    """`.pt`/`.pth`: torch.save of {"state_dict", "archspec"}, which torch's safe loader reads."""
    for name in ("m.safetensors", "m.pt"):
        assert cli("build", SMALL, "--seed", "4", "-o", tmp_path / name).returncode == 0
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    assert sorted(saved) == ["archspec", "state_dict"]
    assert json.loads(saved["archspec"])["seed"] == "4"
    reference = archspec.build(SMALL, seed=4).state_dict()
    assert all(torch.equal(saved["state_dict"][k], v) for k, v in reference.items())
    r = cli("check-weights", SMALL, tmp_path / "m.pt")
    assert r.returncode == 0 and "everything fits: a strict load succeeds" in r.stdout
    a, b = archspec.load_model(tmp_path / "m.pt").eval(), archspec.load_model(tmp_path / "m.safetensors").eval()
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(a(x), b(x))
    archspec.save(a, tmp_path / "again.pth")
    assert torch.equal(archspec.load_model(tmp_path / "again.pth").eval()(x), a(x))


@pytest.mark.parametrize("zipped", [True, False])
def test_a_plain_pt_state_dict_loads_with_its_spec(tmp_path, zipped):
    model = archspec.build(SMALL, seed=1).eval()
    torch.save(model.state_dict(), tmp_path / "plain.pt", _use_new_zipfile_serialization=zipped)
    loaded = archspec.load_model(tmp_path / "plain.pt", spec=SMALL).eval()
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(loaded(x), model(x))


@pytest.mark.parametrize("name", ["m.bin", "m", "m.safetensor"])
def test_an_unknown_weights_suffix_is_refused_with_the_ones_archspec_writes(cli, tmp_path, name):
    r = cli("build", SMALL, "-o", tmp_path / name)
    suffix = name.partition(".")[2]
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == (f"{tmp_path / name}: error: unknown weights format {'.' + suffix if suffix else '(no suffix)'!r}: "
                        "name the file .safetensors, .pt or .pth\n")
    with pytest.raises(archspec.WriteError, match="unknown weights format"):
        archspec.save(archspec.build(SMALL), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_fused_model_is_saved_as_fused_and_comes_back_fused(tmp_path):
    model = trained_resnet20(steps=3)
    fused = archspec.fuse(model)
    archspec.save(fused, tmp_path / "fused.safetensors")
    assert read_metadata(tmp_path / "fused.safetensors")["fused"] == "true"
    loaded = archspec.load_model(tmp_path / "fused.safetensors").eval()
    assert list(loaded.state_dict()) == list(fused.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(x), fused(x))
        assert torch.allclose(loaded(x), model(x), atol=1e-4)
    archspec.save(model, tmp_path / "plain.safetensors")  # and an unfused one is not
    assert "fused" not in read_metadata(tmp_path / "plain.safetensors")
    with pytest.raises(archspec.WeightsError) as e:
        archspec.load_model(tmp_path / "fused.safetensors", spec=RESNET20)  # given the spec, it is read unfused
    assert str(e.value).splitlines()[1:] == [
        "  95 missing: bn1.weight, bn1.bias, bn1.running_mean, bn1.running_var and 91 more",
        "  19 unexpected: conv1.bias, layer1.0.conv1.bias, layer1.0.conv2.bias and 16 more"]
