"""Load torchvision's weights into spec-built models and compare outputs.

Needs torchvision (not an archspec dependency), so it runs by hand, e.g. in a
venv with `pip install torch torchvision` and archspec on PYTHONPATH:

    PYTHONPATH=. python benchmarks/compare_reference.py

For each spec: torchvision's randomly initialised `state_dict` loads into the
archspec model (`archspec.load_weights`: strict, and a plain `load_state_dict`
where the names agree); where the names agree the archspec model's
`state_dict` also loads back into torchvision's. The outputs on one input must
be identical.
"""

from __future__ import annotations

import sys

import torch
import torchvision

import archspec

SPECS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
         "regnet_x_400mf", "regnet_y_400mf", "regnet_x_1_6gf", "regnet_y_1_6gf"]


def compare(name: str) -> tuple[str, float]:
    reference = getattr(torchvision.models, name)().eval()
    model = archspec.build(f"specs/{name}.yaml").eval()
    convention = archspec.load_weights(model, reference.state_dict())
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        diff = (model(x) - reference(x)).abs().max().item()
        if name.startswith("res") or name.startswith("wide"):  # same names: load the other way too
            fresh = archspec.build(f"specs/{name}.yaml", seed=0).eval()
            reference.load_state_dict(fresh.state_dict(), strict=True)
            diff = max(diff, (fresh(x) - reference(x)).abs().max().item())
    return convention, diff


def main() -> int:
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    worst = 0.0
    for name in sys.argv[1:] or SPECS:
        convention, diff = compare(name)
        worst = max(worst, diff)
        print(f"{name:18s} loaded ({convention}), max |archspec - torchvision| = {diff:.1e}")
    return 0 if worst == 0.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
