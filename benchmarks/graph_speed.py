"""Eager forward speed of a graph block network: archspec's ShuffleNetV2 (its unit written in the
spec: split, two branches, concat, channel shuffle) and DenseNet-121 (a concat per dense layer)
against torchvision's, on one thread.

Needs torchvision (not an archspec dependency), so it runs by hand, e.g.

    PYTHONPATH=. python benchmarks/graph_speed.py [--batch 1] [--rounds 30] [name ...]

Both models get the same weights (`archspec.load_weights`) and are checked to give the same
outputs first. The two are timed in turns within each round, so a neighbour's load on the
machine falls on both alike; each figure is the median over the rounds, and the ratio is
archspec's time over torchvision's (target: at most 1.10).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import archspec  # noqa: E402

SPECS = {"shufflenet_v2_x1_0": "specs/shufflenet_v2_x1_0.yaml",
         "shufflenet_v2_x0_5": "specs/examples/shufflenet_v2_x0_5.yaml",
         "densenet121": "specs/densenet121.yaml"}


def pair(name: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(torchvision's model, archspec's) in eval mode, with the same weights."""
    reference = getattr(torchvision.models, name)().eval()
    ours = archspec.build(ROOT / SPECS[name]).eval()
    archspec.load_weights(ours, reference.state_dict())
    return reference, ours


def timed(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Seconds per forward, over `repeats` forwards."""
    start = time.perf_counter()
    for _ in range(repeats):
        model(x)
    return (time.perf_counter() - start) / repeats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=["shufflenet_v2_x1_0"], help=f"of {', '.join(SPECS)}")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5, help="forwards per model per round")
    args = parser.parse_args()
    if set(args.names) - set(SPECS):
        parser.error(f"unknown names {sorted(set(args.names) - set(SPECS))}; choose from {', '.join(SPECS)}")
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, 1 thread, batch {args.batch}")
    worst = 0.0
    for name in args.names:
        reference, ours = pair(name)
        x = torch.randn(args.batch, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        with torch.inference_mode():
            expected = reference(x)
            assert (ours(x) - expected).abs().max() <= 1e-5 * expected.abs().max(), "the outputs differ"
            for model in (reference, ours, reference, ours):  # warm up
                timed(model, x, args.repeats)
            times: dict[str, list[float]] = {"torchvision": [], "archspec": []}
            for k in range(args.rounds):
                order = [("torchvision", reference), ("archspec", ours)]
                for label, model in order if k % 2 == 0 else order[::-1]:  # alternate who goes first
                    times[label].append(timed(model, x, args.repeats))
        medians = {label: statistics.median(t) for label, t in times.items()}
        ratios = [a / b for a, b in zip(times["archspec"], times["torchvision"])]
        ratio = medians["archspec"] / medians["torchvision"]
        worst = max(worst, ratio)
        print(f"{name}: torchvision {1e3 * medians['torchvision']:.2f} ms, archspec {1e3 * medians['archspec']:.2f} ms "
              f"per forward; ratio {ratio:.3f} (per-round ratios: median {statistics.median(ratios):.3f}, "
              f"quartiles {statistics.quantiles(ratios, n=4)[0]:.3f} to {statistics.quantiles(ratios, n=4)[2]:.3f})")
    return 0 if worst <= 1.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
