"""The built-in specs work from a wheel: installed (not editable) into a fresh venv, run in an empty folder."""

import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, shipped_specs


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """Environment variables that run the wheel's `archspec` (the venv sees the system's torch and pydantic)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy, so that the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", ".hypothesis", "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp, source],
                   check=True, cwd=tmp, capture_output=True)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], check=True)
    wheel = next(tmp.glob("archspec_nn-*.whl"))
    subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "-q", wheel], check=True,
                   capture_output=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}", "HOME": str(tmp)}


def archspec(env: dict, cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["archspec", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # builds a wheel and a venv: about 30 s
def test_the_wheel_builds_shipped_specs_by_name_in_an_empty_folder(installed, tmp_path):
    where = archspec(installed, tmp_path, "build", "resnet50")
    assert where.returncode == 0, where.stderr
    assert where.stdout.splitlines()[-1].startswith("total: 25,557,032 parameters, 4.09 G MACs")
    deeper = archspec(installed, tmp_path, "build", "resnet50", "--set", "stages.2.depth=23")
    assert deeper.stdout.splitlines()[-1].startswith("total: 44,549,160 parameters"), deeper.stderr
    assert archspec(installed, tmp_path, "validate", "resnet20", "mnist_small").returncode == 0
    listed = [line.split()[0] for line in archspec(installed, tmp_path, "list").stdout.splitlines()[1:]]
    assert listed == sorted(path.stem for path in shipped_specs())
    imported = subprocess.run(["python", "-c", "import archspec; print(archspec.__file__)"], cwd=tmp_path,
                              env=installed, capture_output=True, text=True)
    assert "site-packages" in imported.stdout and str(ROOT) not in imported.stdout  # the wheel, not this checkout
    version = archspec(installed, tmp_path, "--version")  # read from the wheel's metadata, under its own name
    assert (version.returncode, version.stdout) == (0, "archspec-nn 0.1.0\n")
    assert list(tmp_path.iterdir()) == []
