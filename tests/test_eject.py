"""`archspec eject`: standalone source with the same state_dict and outputs as archspec.build."""

import importlib.util
import os
import py_compile
import subprocess
import sys

import pytest
import torch

import archspec
from archspec.commands.eject import EjectError, eject
from conftest import ROOT, TINY_SPEC, shipped_specs, spec_id


def load_ejected(path):
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    """Two tiny forwards: more threads only spin (measured: 10× the CPU time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def every_spec() -> list:
    """Every shipped spec; those over 50M parameters (which share their block kinds with
    smaller ones) in the slow run, for the time their weights take to make."""
    return [pytest.param(s, marks=pytest.mark.slow) if archspec.plan(s).params > 50_000_000 else s
            for s in shipped_specs()]


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("spec", every_spec(), ids=spec_id)
def test_ejected_source_round_trips(spec, tmp_path):
    shipped = archspec.plan(spec)
    channels, height, width = shipped.input_shape
    p = archspec.plan(spec, (channels, min(height, 32), min(width, 32)))  # small: a quick forward
    path = tmp_path / "model.py"
    path.write_text(eject(p))
    py_compile.compile(str(path), doraise=True)
    torch.manual_seed(0)
    model = archspec.build(p).eval()
    with torch.device("meta"):
        ejected = load_ejected(path).build()
    expected = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert [(k, tuple(v.shape)) for k, v in ejected.state_dict().items()] == expected
    ejected.load_state_dict(model.state_dict(), strict=True, assign=True)
    x = torch.randn(1, *p.input_shape)
    with torch.no_grad():
        assert torch.equal(ejected.eval()(x), model(x))


def test_the_ejected_resnet50_in_docs_is_current():
    text = eject(archspec.plan("specs/resnet50.yaml"))
    assert (ROOT / "docs" / "resnet50_ejected.py").read_text() == text, \
        "regenerate: python -m archspec eject specs/resnet50.yaml -o docs/resnet50_ejected.py"
    doc = (ROOT / "docs/artifacts.md").read_text(encoding="utf-8")
    shown = doc.split("## Standalone source", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert shown.startswith("class BottleneckBlock") and shown in text


def test_cli_writes_the_file_without_importing_torch(tmp_path):
    out = tmp_path / "model.py"
    code = ("import sys; from archspec.commands.cli import main; "
            f"assert main(['eject', 'specs/cifar/resnet20.yaml', '-o', {str(out)!r}]) == 0; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stderr == f"wrote {out}\n"
    assert "class BasicBlock(nn.Module):" in out.read_text()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # a source file, not a private one


def test_bad_input_is_one_located_line_and_writes_nothing(tmp_path, write_spec):
    bad = write_spec(TINY_SPEC.replace("shortcut: auto", "shortcut: identity"))  # 16 → 32 channels
    out = tmp_path / "model.py"
    run = subprocess.run([sys.executable, "-m", "archspec", "eject", str(bad), "-o", str(out)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"{bad}:") and "identity shortcut cannot carry" in run.stderr
    assert not out.exists()


def test_a_primitive_without_a_template_is_named():
    p = archspec.plan("specs/cifar/resnet20.yaml")
    p.root.children[1].kind = "mystery_norm"  # as a new primitive would arrive
    with pytest.raises(EjectError, match="eject has no template for the primitive 'mystery_norm' yet"):
        eject(p)


def test_an_unwritable_output_is_one_line_before_any_work(tmp_path):
    out = tmp_path / "missing" / "model.py"
    run = subprocess.run([sys.executable, "-m", "archspec", "eject", "specs/resnet18.yaml", "-o", str(out)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1  # as every command's unwritable output (cli.py)
    assert run.stderr == f"{out}: error: folder {str(out.parent)!r} does not exist\n" and run.stdout == ""


def test_a_features_head_returns_the_same_maps(tmp_path):
    p = archspec.plan("specs/resnet18.yaml", (3, 64, 64), features=["bn1", "layer2", "layer4"])
    path = tmp_path / "backbone.py"
    path.write_text(eject(p))
    model = archspec.build(p, seed=0).eval()
    ejected = load_ejected(path).build().eval()
    ejected.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        maps, ejected_maps = model(x), ejected(x)
    assert [m.shape[1] for m in ejected_maps] == [64, 128, 512]
    assert all(torch.equal(a, b) for a, b in zip(maps, ejected_maps))
