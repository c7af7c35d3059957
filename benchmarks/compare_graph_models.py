"""Load the reference weights of the two graph models into spec-built models and compare outputs.

Needs torchvision and segmentation_models_pytorch (not archspec dependencies), so it runs by
hand, e.g. in a venv with both, archspec's dependencies (pydantic, pyyaml) and archspec on PYTHONPATH:

    PYTHONPATH=. python benchmarks/compare_graph_models.py [resnet50_fpn] [unet_resnet34]

For each: the reference's `state_dict`, every norm's statistics and affine parameters (and
biases) randomised as compare_reference.py does, loads strictly through
`archspec.load_weights`; each eval-mode output map must agree to 1e-5 × max |y|.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import archspec
from compare_reference import randomise

ROOT = Path(__file__).resolve().parent.parent
# name -> (spec, input size, reference constructor)
MODELS = {"resnet50_fpn": ("specs/examples/resnet50_fpn.yaml", 224),
          "unet_resnet34": ("specs/examples/unet_resnet34.yaml", 256)}


def reference_model(name: str) -> torch.nn.Module:
    if name == "resnet50_fpn":
        from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

        return resnet_fpn_backbone(backbone_name="resnet50", weights=None, norm_layer=torch.nn.BatchNorm2d,
                                   trainable_layers=5)
    import segmentation_models_pytorch as smp

    return smp.Unet("resnet34", encoder_weights=None, classes=1)


def compare(name: str, size: int | None = None) -> tuple[str, list[str], float, float]:
    spec, default = MODELS[name]
    size = size or default
    torch.manual_seed(0)
    reference = reference_model(name).eval()
    with torch.no_grad():
        randomise(reference)
    model = archspec.build(ROOT / spec, seed=0).eval()
    convention = archspec.load_weights(model, reference.state_dict())
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = reference(x)
        got = model(x)
    expected = list(expected.values()) if isinstance(expected, dict) else [expected]
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(expected), (len(got), len(expected))
    worst, scale = 0.0, 0.0
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape, (g.shape, e.shape)
        worst, scale = max(worst, (g - e).abs().max().item()), max(scale, e.abs().max().item())
    return convention, [str(tuple(g.shape)) for g in got], worst, scale


def main(names: list[str]) -> int:
    failed = 0
    for name in names or list(MODELS):
        convention, shapes, worst, scale = compare(name)
        ok = worst <= 1e-5 * scale
        failed += not ok
        print(f"{name}: {convention}; outputs {', '.join(shapes)}; max |Δ| {worst:.3g} "
              f"(max |y| {scale:.3g}, ratio {worst / scale:.2e}) {'ok' if ok else 'DIFFERENT'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
