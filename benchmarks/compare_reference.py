"""Load torchvision's weights into spec-built models and compare outputs.

Needs torchvision (not an archspec dependency), so it runs by hand, e.g. in a
venv with `pip install torch torchvision pydantic pyyaml` (archspec's own
dependencies) and archspec on PYTHONPATH:

    PYTHONPATH=. python benchmarks/compare_reference.py [name ...]

For each spec: torchvision's `state_dict`, with every norm's statistics and
affine parameters (and ConvNeXt's layer scale) randomised so that no branch is
silently near zero, loads into the archspec model (`archspec.load_weights`:
strict); the eval-mode outputs on one input must agree to 1e-5 × max |y|
(identical up to float rounding). Where the names agree, the archspec model's
`state_dict` also loads back into torchvision's. Then `seed`: whether
`archspec.build(spec, seed=0)` gives the weights of `torch.manual_seed(0)`
followed by torchvision's constructor.
"""

from __future__ import annotations

import sys

import torch
import torchvision

import archspec
from archspec.building.weights import translate

SPECS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
         "regnet_x_400mf", "regnet_y_400mf", "regnet_x_1_6gf", "regnet_y_1_6gf",
         "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny",
         "shufflenet_v2_x1_0", "mnasnet1_0", "examples/mobilenet_v3_small", "examples/efficientnet_v2_s",
         "examples/shufflenet_v2_x0_5", "examples/ecaresnet50d", "examples/resnetrs50",
         "vgg11_bn", "squeezenet1_1", "densenet121", "examples/vgg16_bn"]
TIMM = {"ecaresnet50d", "resnetrs50"}  # the others are torchvision's


def reference_model(name: str) -> torch.nn.Module:
    if name in TIMM:
        import timm

        return timm.create_model(name)
    return getattr(torchvision.models, name)()


def randomise(model: torch.nn.Module) -> None:
    """Random norm statistics and affine parameters, and layer scales near 1."""
    generator = torch.Generator().manual_seed(1)
    for name, tensor in model.state_dict().items():
        last = name.rsplit(".", 1)[-1]
        if last == "running_mean" or (tensor.dim() == 1 and last == "bias"):
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
        elif last == "running_var":
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
        elif (tensor.dim() == 1 and last == "weight") or last in ("layer_scale", "gamma"):
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)


def compare(spec: str) -> tuple[str, float, float, bool | None]:
    name = spec.rsplit("/", 1)[-1]
    reference = reference_model(name).eval()
    with torch.no_grad():
        randomise(reference)
    model = archspec.build(f"specs/{spec}.yaml").eval()
    convention = archspec.load_weights(model, reference.state_dict())
    x = torch.randn(2, *archspec.plan(f"specs/{spec}.yaml").input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(x)
        diff = (model(x) - expected).abs().max().item()
        if name.startswith("res") or name.startswith("wide"):  # same names: load the other way too
            fresh = archspec.build(f"specs/{spec}.yaml", seed=0).eval()
            reference.load_state_dict(fresh.state_dict(), strict=True)
            diff = max(diff, (fresh(x) - reference(x)).abs().max().item())
    return convention, diff, expected.abs().max().item(), None if name in TIMM else same_seed(spec)


def same_seed(spec: str) -> bool:
    """Whether archspec's seeded build gives torchvision's seeded construction, tensor for tensor."""
    torch.manual_seed(0)
    reference = reference_model(spec.rsplit("/", 1)[-1]).state_dict()
    ours = archspec.build(f"specs/{spec}.yaml", seed=0).state_dict()
    _, names = translate(list(reference), ours)
    return all(torch.equal(t.reshape(ours[names[k]].shape), ours[names[k]]) for k, t in reference.items())


def main() -> int:
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    worst = 0.0
    for name in sys.argv[1:] or SPECS:
        convention, diff, scale, seeded = compare(name)
        worst = max(worst, diff / scale)
        print(f"{name:29s} loaded ({convention}); max |Δ| = {diff:.1e}, max |y| = {scale:.1e}, "
              f"ratio {diff / scale:.1e}; seed=0 equals torchvision's: {({True: 'yes', False: 'no'}).get(seeded, 'n/a')}")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
