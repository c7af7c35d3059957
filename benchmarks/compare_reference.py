"""Load torchvision's weights into spec-built models and compare outputs.

Needs torchvision (not an archspec dependency), so it runs by hand, e.g. in a
venv with `pip install torch torchvision` and archspec on PYTHONPATH:

    PYTHONPATH=. python benchmarks/compare_reference.py

For each spec: torchvision's randomly initialised `state_dict` loads into the
archspec model with strict=True, and the archspec model's `state_dict` loads
back into torchvision's; the outputs on one input must be identical.
"""

from __future__ import annotations

import sys

import torch
import torchvision

import archspec

SPECS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def compare(name: str) -> float:
    reference = getattr(torchvision.models, name)().eval()
    model = archspec.build(f"specs/{name}.yaml").eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        diff = (model(x) - reference(x)).abs().max().item()
        fresh = archspec.build(f"specs/{name}.yaml", seed=0).eval()
        reference.load_state_dict(fresh.state_dict(), strict=True)
        diff = max(diff, (fresh(x) - reference(x)).abs().max().item())
    return diff


def main() -> int:
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    worst = 0.0
    for name in sys.argv[1:] or SPECS:
        diff = compare(name)
        worst = max(worst, diff)
        print(f"{name:12s} strict load both ways: ok   max |archspec - torchvision| = {diff:.1e}")
    return 0 if worst == 0.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
