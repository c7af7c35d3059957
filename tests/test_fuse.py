"""Folded inference: BatchNorm folded into the conv before it, found from the plan."""

import pytest
import torch

import archspec
from archspec.building.fuse import conv_norm_pairs


def with_random_statistics(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Norms as after training: running statistics and affine parameters far from 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5, generator=g)
                m.running_var.uniform_(0.25, 4, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.3, generator=g)
    return model.eval()


def batchnorms(model: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


# spec, BatchNorms left after folding: none, except the pre-activations of a ResNet v2
# (each block's bn1 and the final norm follow an add, not a conv) and a groupnorm network's none.
@pytest.mark.parametrize("spec, left", [
    ("specs/resnet50.yaml", 0),
    ("specs/examples/resnet34d.yaml", 0),          # deep stem (a conv sequential before bn1), avg-pool shortcut
    ("specs/regnet_y_400mf.yaml", 0),              # grouped convs, SE
    ("specs/examples/resnetv2_50d.yaml", 17),      # 16 blocks' bn1 + the final norm
    ("specs/cifar/resnet20.yaml", 0),              # zero-pad shortcut
])
def test_folded_model_gives_the_eval_outputs(spec, left):
    model = with_random_statistics(archspec.build(spec, seed=0, input_shape=(3, 64, 64)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = archspec.fuse(model)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        y, y_fused = model(x), fused(x)
    assert (y - y_fused).abs().max() <= 1e-5 * y.abs().max()
    assert batchnorms(fused) == left
    assert not fused.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the original is untouched


def test_pairs_come_from_the_plan_without_torch():
    pairs = conv_norm_pairs(archspec.plan("specs/resnet50.yaml").root)
    assert len(pairs) == 53  # the stem's, 3 per block × 16, 4 downsamples
    assert pairs[:2] == [("conv1", "bn1"), ("layer1.0.conv1", "layer1.0.bn1")]
    assert ("layer1.0.downsample.0", "layer1.0.downsample.1") in pairs
    deep = conv_norm_pairs(archspec.plan("specs/examples/resnet34d.yaml").root)
    assert {("conv1.0", "conv1.1"), ("conv1.3", "conv1.4"), ("conv1.6", "bn1")} <= set(deep)  # the stem's last conv


def test_build_can_fuse():
    model = archspec.build("specs/cifar/resnet20.yaml", seed=0, fuse=True)
    assert batchnorms(model) == 0 and not model.training
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_a_module_archspec_did_not_build_is_refused():
    with pytest.raises(TypeError, match="fuse needs a model made by archspec.build or archspec.load_model"):
        archspec.fuse(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8)))


def test_a_features_head_folds_all_but_a_returned_conv():
    p = archspec.plan("specs/resnet18.yaml", (3, 64, 64), features=["conv1", "layer2", "layer4"])
    model = with_random_statistics(archspec.build(p, seed=0))
    fused = archspec.fuse(model)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for y, y_fused in zip(model(x), fused(x)):
            assert (y - y_fused).abs().max() <= 1e-5 * y.abs().max()
    assert batchnorms(fused) == 1  # bn1: conv1's map is returned before it
