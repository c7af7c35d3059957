"""The built module: trains, traces, compiles, is reproducible, and import-light where promised."""


import pytest
import torch

import archspec
from conftest import TINY_SPEC


@pytest.mark.parametrize("spec", ["specs/cifar/resnet20.yaml", "specs/examples/mnist_small.yaml"])
def test_forward_and_backward_on_cpu(spec):
    p = archspec.plan(spec)
    model = archspec.build(p, seed=0)
    x = torch.randn(4, *p.input_shape, generator=torch.Generator().manual_seed(0))  # the same batch every run
    target = torch.tensor([0, 1, 2, 3])
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    first = torch.nn.functional.cross_entropy(model(x), target)
    first.backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in model.parameters())
    optimiser.step()
    assert torch.nn.functional.cross_entropy(model(x), target) < first  # one step on one batch helps


def test_any_batch_size_and_input_size_the_plan_allows():
    model = archspec.build("specs/cifar/resnet20.yaml", seed=0).eval()
    for batch, size in [(1, 32), (3, 17), (2, 64)]:
        assert model(torch.randn(batch, 3, size, size)).shape == (batch, 10)
    assert archspec.plan("specs/cifar/resnet20.yaml", (3, 17, 17)).output_shape == (10,)


def test_seed_gives_identical_weights_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = archspec.build("specs/cifar/resnet20.yaml", seed=7).state_dict()
    b = archspec.build("specs/cifar/resnet20.yaml", seed=7).state_dict()
    assert torch.rand(1) == before
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = archspec.build("specs/cifar/resnet20.yaml", seed=8).state_dict()
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])


def test_torchvision_initialisation():
    model = archspec.build("specs/resnet18.yaml", seed=0)
    w = model.layer1[0].conv1.weight  # kaiming normal, fan_out: std = sqrt(2 / (64 * 3 * 3))
    assert abs(w.std().item() - (2 / (64 * 9)) ** 0.5) < 0.003
    assert torch.equal(model.bn1.weight, torch.ones(64)) and torch.equal(model.bn1.bias, torch.zeros(64))


def test_zero_init_residual_zeroes_each_blocks_last_norm(write_spec):
    text = open("specs/resnet50.yaml").read().replace("block: bottleneck", "block: bottleneck, zero_init_residual: true")
    model = archspec.build(write_spec(text), seed=0)
    blocks = [m for name, m in model.named_modules() if name.count(".") == 1 and name.startswith("layer")]
    assert len(blocks) == 16
    for block in blocks:
        assert torch.equal(block.bn3.weight, torch.zeros_like(block.bn3.weight))
        assert torch.equal(block.bn2.weight, torch.ones_like(block.bn2.weight))


def test_jit_trace_matches_eager():
    model = archspec.build("specs/examples/mnist_small.yaml", seed=0).eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad(), pytest.warns(DeprecationWarning):  # torch 2.13 deprecates jit, it still works
        traced = torch.jit.trace(model, x)
    assert torch.equal(traced(x), model(x))


def test_torch_export_matches_eager_with_a_dynamic_batch():
    model = archspec.build("specs/cifar/resnet20.yaml", seed=0).eval()
    x = torch.randn(2, 3, 32, 32)
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    y = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(exported.module()(y), model(y), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager():
    model = archspec.build("specs/cifar/resnet20.yaml", seed=0).eval()
    compiled = torch.compile(model, fullgraph=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("act", ["relu", "silu", "gelu", "leaky_relu", "hardswish"])
@pytest.mark.parametrize("block", ["basic", "bottleneck", "preact_basic", "preact_bottleneck"])
@pytest.mark.parametrize("norm", ["batchnorm", "groupnorm", "none"])
def test_in_place_activations_give_the_gradients_of_out_of_place_ones(write_spec, act, block, norm):
    text = TINY_SPEC.replace("defaults: {block: basic, shortcut: auto}",
                             f"defaults: {{block: {block}, act: {act}, norm: {norm}, norm_groups: 4}}")
    model = archspec.build(write_spec(text), seed=0)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    model(x).square().sum().backward()
    grads = [x.grad, *(p.grad for p in model.parameters())]
    for m in model.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    model.zero_grad()
    y = x.detach().clone().requires_grad_()
    model(y).square().sum().backward()
    for ours, theirs in zip(grads, [y.grad, *(p.grad for p in model.parameters())]):
        torch.testing.assert_close(ours, theirs)
