"""How fast `archspec sample` judges candidates, against building each one with torch and
counting it with forward hooks (what users do today with fvcore or torchinfo).

Run by hand, not by CI:  python benchmarks/sample_speed.py [--seconds 10] [--torch 20]

Pins itself to one core. Prints:
- candidates planned per second for a ResNet-50-sized space (every draw planned: no window);
- the time to 100 accepted RegNetX-400MF samples (specs/spaces/regnetx_400mf.yaml);
- the same with torch: each candidate built (default CPU init) and run once on one image with
  hooks counting conv and linear MACs; measured on --torch candidates and scaled to the
  number of draws the plan needed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESNET50_SPACE = """\
extends: resnet50
name: resnet50_space
stages:
  0: {depth: {range: [2, 4]}, channels: {choice: [192, 256, 320]}}
  1: {depth: {range: [3, 6]}, channels: {choice: [384, 512, 640]}}
  2: {depth: {range: [4, 8]}, channels: {choice: [768, 1024, 1280]}}
  3: {depth: {range: [2, 4]}, channels: {choice: [1536, 2048, 2560]}}
"""


def planned_per_second(seconds: float) -> tuple[float, float]:
    """Candidates judged per second (drawn, validated, planned) in a space with no window, and
    the mean blocks per candidate."""
    import archspec
    from archspec.commands.sample import read

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "space.yaml"
        path.write_text(RESNET50_SPACE)
        space = read(str(path))
    archspec.sample(space, 200, seed=0)  # warm up
    # Runs of 1,000 samples with seeds 0, 1, 2...: the space holds 14,580 networks, and a run that
    # asked for most of them would spend its draws on duplicates (or never finish).
    draws, blocks, samples, elapsed, seed = 0, 0, 0, 0.0, 0
    while elapsed < seconds:
        start = time.perf_counter()
        done = archspec.sample(space, 1000, seed=seed)
        elapsed += time.perf_counter() - start
        draws, seed = draws + done.draws, seed + 1
        samples += len(done.samples)
        blocks += sum(sum(s.depth for s in x.spec.all_stages) for x in done.samples)
    return draws / elapsed, blocks / samples


def regnet_with_plan() -> tuple[float, object]:
    import archspec

    start = time.perf_counter()
    done = archspec.sample("regnetx_400mf", 100, seed=0)
    return time.perf_counter() - start, done


def torch_seconds_per_candidate(count: int) -> float:
    """Build each of `count` RegNetX candidates with torch and count it with hooks, like fvcore."""
    import random

    import torch

    import archspec
    from archspec.commands.sample import read
    from archspec.reading.messages import check_tree
    from archspec.reading.source import Source

    space = read("specs/spaces/regnetx_400mf.yaml")
    rng = random.Random(0)
    torch.set_num_threads(1)
    start = time.perf_counter()
    for _ in range(count):
        tree, _ = space.draw(rng)
        spec = check_tree(Source("draw", "", tree, {}, {}))
        model = archspec.build(spec)
        macs = []

        def hook(module, inputs, output):
            if isinstance(module, torch.nn.Conv2d):
                kh, kw = module.kernel_size
                macs.append(output[0].numel() * module.in_channels // module.groups * kh * kw)
            elif isinstance(module, torch.nn.Linear):
                macs.append(output[0].numel() * module.in_features)

        for module in model.modules():
            module.register_forward_hook(hook)
        with torch.no_grad():
            model(torch.zeros(1, 3, 224, 224))
        sum(p.numel() for p in model.parameters()), sum(macs)
    return (time.perf_counter() - start) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="least time to measure planning for")
    parser.add_argument("--torch", type=int, default=20, help="candidates to build with torch")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    os.chdir(ROOT)
    rate, blocks = planned_per_second(args.seconds)
    print(f"ResNet-50-sized space ({blocks:.1f} blocks a candidate): {rate:,.0f} candidates planned per second "
          f"on one core (goal 2,000)")
    seconds, done = regnet_with_plan()
    print(f"RegNetX-400MF: 100 accepted of {done.draws:,} draws in {seconds:.2f} s with the plan")
    if args.torch:
        per = torch_seconds_per_candidate(args.torch)
        print(f"RegNetX-400MF with torch: {per * 1000:.0f} ms a candidate (build + hooked forward, "
              f"{args.torch} measured), so {per * done.draws:.0f} s for the same {done.draws:,} draws "
              f"({per * done.draws / seconds:.0f} × slower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
