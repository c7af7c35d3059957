"""Activation memory: the plan's static figure equals what autograd saves, layer by layer.

The measurement: one forward pass in training mode on CPU under
`torch.autograd.graph.saved_tensors_hooks`, with the model and input cast to the
dtype; every saved tensor's storage is counted once, at the first layer that saves
it, and parameters and buffers are left out.
"""

import pytest
import torch
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from archspec import load, plan
from archspec.building.compile import to_module
from archspec.errors import SpecError
from archspec.planning.memory import activation_memory, layer_memory
from archspec.reading.source import parse_source
from conftest import SPECS, shipped_specs, spec_id
from test_properties import SPECS as RANDOM_SPECS, to_yaml


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors: one thread is faster than two that wait for each other on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def measured(p, batch: int, dtype: str) -> dict[str, int]:
    """Bytes of the storages autograd saves, by the plan's primitive layer that saves each first."""
    torch_dtype = getattr(torch, dtype)
    with torch.device("meta"):  # weights left uninitialised: what is saved does not depend on values
        model = to_module(p.root)
    model = model.to_empty(device="cpu").to(torch_dtype).train()
    weights = {t.untyped_storage()._cdata for t in [*model.parameters(), *model.buffers()]}
    primitives = list(planned(p, batch, dtype))
    running = [""]  # the primitive whose forward runs now ("" outside any: would fail the comparison)
    for name in primitives:
        module = model.get_submodule(name)
        module.register_forward_pre_hook(lambda m, args, name=name: running.append(name) and None)
        module.register_forward_hook(lambda m, args, out: running.pop() and None)
    saved, seen = dict.fromkeys(primitives, 0), set()

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage._cdata not in weights and storage._cdata not in seen:
            seen.add(storage._cdata)
            saved[running[-1]] = saved.get(running[-1], 0) + storage.nbytes()
        return t

    x = torch.randn(batch, *p.input_shape, generator=torch.Generator().manual_seed(0)).to(torch_dtype)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return saved


def planned(p, batch: int, dtype: str) -> dict[str, int]:
    """The static figures of the same primitive layers."""
    per_layer = layer_memory(p, batch, dtype)
    containers = {l.name.rpartition(".")[0] for l in p.layers}
    return {l.name: per_layer[l.name] for l in p.layers if l.name not in containers}


def small_input(path) -> tuple[int, int, int]:
    """The spec's input, at most 40×36 (non-square; odd sizes after a few strides), so that the
    CPU forward passes of all shipped specs stay quick."""
    c, h, w = load(path).input.shape
    return c, min(h, 40), min(w, 36)


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_every_shipped_spec_saves_what_the_plan_says(path):
    p = plan(path, small_input(path))
    assert planned(p, 2, "float32") == measured(p, 2, "float32")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", ["resnet50_v1_gn", "seresnext50_32x4d", "resnetv2_50d"])
def test_half_precision_models_save_what_the_plan_says(name, dtype):
    """Every tensor is kept in the model's dtype, norm statistics included; max-pool indices stay int64."""
    path = SPECS / "examples" / f"{name}.yaml"
    p = plan(path, small_input(path))
    assert planned(p, 3, dtype) == measured(p, 3, dtype)


def test_a_features_head_saves_what_the_plan_says():
    p = plan(SPECS / "resnet18.yaml", (3, 40, 36), features=["layer2", "layer3"])
    assert planned(p, 2, "float32") == measured(p, 2, "float32")
    assert p.activation_memory(2) < plan(SPECS / "resnet18.yaml", (3, 40, 36)).activation_memory(2)  # no layer4


@settings(max_examples=30)
@given(RANDOM_SPECS, st.integers(2, 3), st.sampled_from(["float32", "bfloat16"]))  # batch norm trains on 2 values or more
def test_random_specs_save_what_the_plan_says(tree, batch, dtype):
    try:
        p = plan(load(parse_source(to_yaml(tree), "generated.yaml")))
    except SpecError:
        event("refused")  # located errors: tested in test_properties.py
        return
    assume(p.macs * batch < 2 * 10**7)  # a CPU forward pass of a few milliseconds
    assert planned(p, batch, dtype) == measured(p, batch, dtype)


def test_resnet50_figures():
    """The figures docs/cli.md quotes; tests/test_memory.py::test_resnet50_at_224_measured proves them."""
    p = plan(SPECS / "resnet50.yaml")
    assert activation_memory(p) == RESNET50_FLOAT32
    assert activation_memory(p, dtype="bfloat16") == RESNET50_BFLOAT16


RESNET50_FLOAT32, RESNET50_BFLOAT16 = 86_121_984, 43_863_808  # 82.1 MiB, 41.8 MiB


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_resnet50_at_224_measured(dtype):
    p = plan(SPECS / "resnet50.yaml")
    assert planned(p, 1, dtype) == measured(p, 1, dtype)
