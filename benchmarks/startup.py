"""Start-up of the command line, and planning time against the number of blocks.

Run by hand, not by CI:  python benchmarks/startup.py [--runs 7]

Start-up: `archspec --help`, `validate` of one spec and of every shipped spec, each
next to `python -c pass` in the same run (best of --runs), with their ratio to it and
what each costs beyond it. The goal for `--help` is under 0.1 s on an idle machine.

Planning: a basic-block network of 250 to 8,000 blocks, planned in-process (best of
--runs), with the time per block: flat per block when planning is linear in the depth.
"""

from __future__ import annotations

import argparse
import sys

from timing import ROOT, best, best_times  # this folder is on sys.path

DEEP = """\
archspec: 1
name: deep
input: {{channels: 3, size: 32}}
defaults: {{block: basic}}
stem: {{type: conv, channels: 16, kernel: 3, stride: 1, pool: none}}
stages:
  - {{depth: {depth}, channels: 16}}
head: {{type: classifier, pool: avg, classes: 10}}
"""


def startup(runs: int) -> None:
    python = best_times([[sys.executable, "-c", "pass"]], runs)[0]
    shipped = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").rglob("*.yaml"))
    print(f"{'command':44} {'best s':>7} {'× python':>8} {'+ s':>7}")
    print(f"{'python -c pass':44} {python:7.3f} {1:8.2f} {0:7.3f}")
    for label, args in [("archspec --help", ["--help"]),
                        ("archspec validate specs/resnet50.yaml", ["validate", "specs/resnet50.yaml"]),
                        (f"archspec validate specs/ ({len(shipped)} files)", ["validate", "specs"])]:
        seconds = best_times([[sys.executable, "-m", "archspec", *args]], runs)[0]
        print(f"{label:44} {seconds:7.3f} {seconds / python:8.2f} {seconds - python:7.3f}")


def planning(runs: int) -> None:
    sys.path.insert(0, str(ROOT))
    from archspec import limits, plan
    from archspec.reading.source import parse_source

    limits.MAX_BLOCKS = 10**6
    print(f"\n{'blocks':>7} {'best s':>8} {'µs/block':>9}")
    for depth in (250, 500, 1000, 2000, 4000, 8000):
        source = parse_source(DEEP.format(depth=depth), "deep.yaml")
        seconds = best(lambda: plan(source).layers, runs)  # the flat list too, as the summary needs it
        print(f"{depth:7} {seconds:8.3f} {seconds / depth * 1e6:9.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    startup(args.runs)
    planning(max(1, args.runs // 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
