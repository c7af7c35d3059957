"""`archspec eject`: standalone source with the same state_dict and outputs as archspec.build."""

import importlib.util
import py_compile
import subprocess
import sys

import pytest
import torch

import archspec
from archspec.eject import eject
from conftest import ROOT, shipped_specs, spec_id


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


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("spec", shipped_specs(), ids=spec_id)
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
