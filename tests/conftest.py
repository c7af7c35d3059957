import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs a fixed, bounded set of examples; HYPOTHESIS_PROFILE=dev searches longer and at random.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=50, print_blob=True)
settings.register_profile("dev", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
REFERENCE = Path(__file__).resolve().parent / "data" / "reference"


# A small valid spec that tests edit into invalid ones.
TINY_SPEC = """\
archspec: 1
name: tiny
input: {channels: 3, size: 32}
defaults: {block: basic, shortcut: auto}
stem: {type: conv, channels: 16, kernel: 3, stride: 1, pool: none}
stages:
  - {depth: 2, channels: 16, stride: 1}
  - {depth: 2, channels: 32, stride: 2}
head: {type: classifier, pool: avg, classes: 10}
"""


def shipped_specs() -> list[Path]:
    """The shipped specs; the design spaces (specs/spaces/) are not specs."""
    return sorted(p for p in SPECS.rglob("*.yaml") if p.parent != SPECS / "spaces")


def spec_id(path: Path) -> str:
    return str(path.relative_to(SPECS).with_suffix(""))


def reference_figures() -> dict[str, dict]:
    """figures.json by model name (the CIFAR nets under cifar/<name>)."""
    records = json.loads((REFERENCE / "figures.json").read_text())
    torchvision = {rec["name"] for rec in records if rec["library"] == "torchvision"}
    out = {}
    for rec in records:  # timm's namesakes of torchvision models (convnext_tiny…) as timm/<name>
        if rec["library"] == "cifar_reference":
            key = f"cifar/{rec['name']}"
        elif rec["library"] == "timm" and rec["name"] in torchvision:
            key = f"timm/{rec['name']}"
        else:
            key = rec["name"]
        out[key] = rec
    return out


def reference_state_dict(key: str) -> list[tuple[str, list[int]]] | None:
    rec = reference_figures().get(key)
    if rec is None:
        return None
    folder = {"cifar_reference": "cifar"}.get(rec["library"], rec["library"])
    return [(k, shape) for k, shape in json.loads((REFERENCE / "state_dicts" / folder / f"{rec['name']}.json").read_text())]


def only_issue(call):
    """The one issue of the SpecError that `call()` raises."""
    from archspec.errors import SpecError

    with pytest.raises(SpecError) as e:
        call()
    assert len(e.value.issues) == 1, e.value
    return e.value.issues[0]


def hook_macs(model) -> dict[str, int]:
    """Hooks on every module of `model` that count, as the reference figures do, each Conv2d's
    and Linear's multiply-adds per image (a Linear on a channels-last map: once per pixel) into
    the returned {module name: MACs}, filled by the next forward pass."""
    import torch

    found: dict[str, int] = {}

    def count(name):
        def hook(module, inputs, output):
            if isinstance(module, torch.nn.Conv2d):
                kh, kw = module.kernel_size
                found[name] = output[0].numel() * module.in_channels // module.groups * kh * kw
            elif isinstance(module, torch.nn.Linear):
                found[name] = output[0].numel() * module.in_features
        return hook

    for name, module in model.named_modules():
        module.register_forward_hook(count(name))
    return found


@pytest.fixture
def write_spec(tmp_path):
    """Write YAML text to a file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


def run_cli(*args, **how) -> subprocess.CompletedProcess:
    """`python [flags] -m archspec args...` from the repository root, as a user or CI runs it: the
    one way tests start the command line in a process of its own (options as `run_python`'s)."""
    return run_python("-m", "archspec", *args, **how)


def run_python(*args, flags: tuple = (), stdin: str | None = None, stdout=subprocess.PIPE, cwd: Path = ROOT,
               env: dict | None = None, timeout: float = 120, preexec_fn=None) -> subprocess.CompletedProcess:
    """`python [flags] args...` (`-c CODE ...` or `-m archspec ...`) in `cwd`, with this checkout
    importable. `stdout` may be a file instead of a pipe; `env` replaces the whole environment;
    `preexec_fn` runs in the child before Python starts (a resource limit)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)} if env is None else env
    return subprocess.run([sys.executable, *flags, *map(str, args)], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          encoding="utf-8", cwd=cwd, env=env, input=stdin, timeout=timeout, preexec_fn=preexec_fn)


def imported_modules(result: subprocess.CompletedProcess) -> set[str]:
    """The modules a `run_cli(..., flags=("-X", "importtime"))` run imported."""
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


@pytest.fixture
def cli(capsys):
    """Run the command line in this process (no interpreter start-up): returns what `run_cli` does."""
    from archspec.commands.cli import main

    def run(*args) -> subprocess.CompletedProcess:
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run
