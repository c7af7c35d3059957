"""Plan time against network size: it should grow linearly with the number of modules.

Run by hand, not by CI:  python benchmarks/plan_scaling.py [--runs 5]

Plans two families at growing depth on one core (best of --runs): a built-in kind
(ResNet-50's bottleneck stages made deeper) and a block written in the spec (a chain of
conv, norm, act nodes with a residual add, in a graph with a concat branch). Each twice:
as written, where a stage's blocks after the second repeat it and share its layers (so the
time per module falls with depth), and with a drop-path rate, which differs from block to
block, so that every block is planned. Prints the modules planned, the time, and µs per
module; a linear planner keeps the last column flat in the second case.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import archspec  # noqa: E402
from timing import best  # noqa: E402  (this folder is on sys.path)

WRITTEN = """\
archspec: 1
name: written
input: {{channels: 3, size: 32}}
blocks:
  unit:
    params: {{channels: int, stride: int}}
    nodes:
      - {{name: a, op: conv, channels: channels // 2, kernel: 3, stride: stride}}
      - {{name: a_bn, op: norm}}
      - {{name: b, op: conv, in: x, channels: channels // 2, kernel: 1, stride: stride}}
      - {{name: b_bn, op: norm}}
      - {{name: cat, op: concat, in: [a_bn, b_bn]}}
      - {{name: act, op: relu}}
defaults: {{block: unit}}
stem: {{type: conv, channels: 32, kernel: 3, stride: 1, pool: none}}
stages:
  - {{depth: {depth}, channels: 32}}
head: {{type: classifier, classes: 10}}
"""


def report(runs: int, family: str, planned: str, depth: int, spec) -> None:
    modules = len(archspec.plan(spec).layers)
    seconds = best(lambda: archspec.plan(spec), runs)
    print(f"{family:<10} {planned:<15} {depth:>6} {modules:>8} {seconds * 1e3:>9.2f} {seconds / modules * 1e6:>10.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"{'family':<10} {'blocks':<15} {'depth':>6} {'modules':>8} {'ms':>9} {'µs/module':>10}")
    for planned, drop_path in (("shared", 0.0), ("each planned", 0.1)):
        for depth in (10, 100, 1000):
            spec = archspec.load("resnet50", overrides={"stages.2.depth": depth, "defaults.drop_path": drop_path})
            report(args.runs, "bottleneck", planned, depth, spec)
    for planned, drop_path in (("shared", 0.0), ("each planned", 0.1)):
        for depth in (10, 100, 1000):
            path = Path(os.environ.get("TMPDIR", "/tmp")) / f"archspec_plan_scaling_{depth}.yaml"
            path.write_text(WRITTEN.format(depth=depth), encoding="utf-8")
            report(args.runs, "written", planned, depth, archspec.load(path, overrides={"defaults.drop_path": drop_path}))
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
