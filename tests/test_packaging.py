"""The core install holds no torch, and everything but building works without it."""

import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

import archspec
from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


CPU_TORCH_THEN_EXTRA = ("pip install torch --index-url https://download.pytorch.org/whl/cpu, "
                        "then pip install 'archspec-nn[torch]'")


def _name(requirement: str) -> str:
    return requirement.split(">")[0].split("=")[0].split("[")[0].strip().lower()


def test_the_core_dependencies_hold_no_torch_and_the_torch_extra_does():
    assert {_name(r) for r in PYPROJECT["dependencies"]} == {"pyyaml", "pydantic"}
    assert {_name(r) for r in PYPROJECT["optional-dependencies"]["torch"]} == {"torch", "safetensors", "numpy"}


def test_the_version_is_the_package_metadata():
    assert archspec.__version__ == PYPROJECT["version"]
    result = subprocess.run([sys.executable, "-m", "archspec", "--version"], cwd=ROOT, capture_output=True, text=True)
    assert (result.stdout, result.returncode) == (f"archspec-nn {PYPROJECT['version']}\n", 0)


@pytest.fixture(scope="module")
def without_torch(tmp_path_factory) -> dict:
    """An environment for `python -S` whose site-packages is this one's minus torch and safetensors
    (links to everything else), as after `pip install archspec-nn` without the extra."""
    site = tmp_path_factory.mktemp("site-packages")
    packages = Path(sysconfig.get_paths()["purelib"])
    for entry in packages.iterdir():
        if not entry.name.lower().startswith(("torch", "safetensors")):
            (site / entry.name).symlink_to(entry)
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{site}"}


def _run(env: dict, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    command = ["-c", code] if code else ["-m", "archspec", *args]
    return subprocess.run([sys.executable, "-S", *command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("args,out", [
    (["validate", "specs"], ""),
    (["build", "specs/resnet18.yaml"], "resnet18: ResNet-18 (He et al. 2015), torchvision layout\n"),
    (["schema"], "{\n"),
    (["--version"], f"archspec-nn {PYPROJECT['version']}\n"),
    (["diff", "specs/resnet50.yaml", "specs/resnet101.yaml"], "resnet50 (specs/resnet50.yaml) → resnet101"),
    (["diagram", "specs/resnet18.yaml"], "---\ntitle: resnet18"),
])
def test_the_core_commands_run_without_torch(without_torch, args, out):
    result = _run(without_torch, *args)
    assert (result.returncode, result.stdout[:len(out)]) == (0, out), result.stderr
    assert "Traceback" not in result.stderr


def test_building_without_torch_says_how_to_install_it_in_one_line(without_torch, tmp_path):
    out = tmp_path / "model.safetensors"
    result = _run(without_torch, "build", "specs/resnet18.yaml", "-o", str(out))
    assert (result.stdout, result.returncode) == ("", 2)
    assert result.stderr == ("archspec: error: archspec build -o needs PyTorch: pip install torch --index-url "
                             "https://download.pytorch.org/whl/cpu, then pip install 'archspec-nn[torch]' "
                             "(torch and safetensors are not installed)\n")
    assert f"```text\n{result.stderr}```" in (ROOT / "README.md").read_text(encoding="utf-8")  # quoted as it is
    assert list(tmp_path.iterdir()) == []


def test_the_api_plans_without_torch_and_names_what_needs_it(without_torch):
    code = ("import archspec\n"
            "p = archspec.plan('specs/resnet50.yaml')\n"
            "print(p.params)\n"
            "for call in (lambda: archspec.build(p), lambda: archspec.load_model('x.safetensors')):\n"
            "    try:\n"
            "        call()\n"
            "    except archspec.TorchMissing as e:\n"
            "        print(e)\n")
    result = _run(without_torch, code=code)
    assert result.stdout.splitlines() == [
        "25557032",
        f"archspec.build needs PyTorch: {CPU_TORCH_THEN_EXTRA} (torch and safetensors are not installed)",
        f"archspec.load_model needs PyTorch: {CPU_TORCH_THEN_EXTRA} (torch and safetensors are not installed)",
    ], result.stderr


def test_check_weights_reads_safetensors_without_torch_and_names_it_for_pickles(without_torch, tmp_path):
    from safetensors.torch import save_file
    import torch

    save_file({"fc.weight": torch.zeros(1000, 512)}, tmp_path / "fc.safetensors")
    result = _run(without_torch, "check-weights", "specs/resnet18.yaml", str(tmp_path / "fc.safetensors"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith("loads 1 of resnet18's 122 tensors: 512,000 of 11,689,512")
    (tmp_path / "fc.pth").write_bytes(b"")
    result = _run(without_torch, "check-weights", "specs/resnet18.yaml", str(tmp_path / "fc.pth"))
    assert (result.stdout, result.returncode) == ("", 2)
    assert result.stderr == (f"archspec: error: reading a .pth file needs PyTorch: {CPU_TORCH_THEN_EXTRA} "
                             "(torch and safetensors are not installed)\n")
