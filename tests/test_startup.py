"""What start-up and planning cost, checked by what they do rather than by a clock
(benchmarks/startup.py has the timings)."""

import gc

import pytest

from archspec import limits, load, plan
from archspec.reading.source import parse_source
from conftest import ROOT, run_cli


@pytest.mark.parametrize("args, needed", [
    (["--help"], set()),
    (["--version"], set()),
    (["validate", "specs/resnet50.yaml"], {"yaml", "pydantic"}),
])
def test_each_command_imports_only_what_it_needs(args, needed):
    result = run_cli(*args, flags=("-X", "importtime"))
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert imported & {"yaml", "pydantic", "torch", "safetensors", "numpy"} == needed


def test_planning_runs_no_cyclic_garbage_collection(monkeypatch):
    """The collector would rescan every planned node again and again: planning would grow faster
    than the number of blocks. Planning makes no cycles, so it runs without it."""
    monkeypatch.setattr(limits, "MAX_BLOCKS", 10**5)
    text = (ROOT / "specs" / "cifar" / "resnet20.yaml").read_text().replace("depth: 3", "depth: 1000")
    spec = load(parse_source(text, "deep.yaml"))
    collections = []
    threshold = gc.get_threshold()
    gc.set_threshold(100)  # a collection every 100 new objects, while the collector runs
    gc.callbacks.append(lambda phase, info: collections.append(info["generation"]) if phase == "start" else None)
    try:
        p = plan(spec)
        assert len(p.layers) > 3000 * 7 and gc.isenabled()
    finally:
        gc.callbacks.pop()
        gc.set_threshold(*threshold)
    assert len(collections) <= 2  # one as planning ends, one after the flat list of layers
