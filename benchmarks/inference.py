"""CPU inference speed: eager against folded BatchNorm (archspec.fuse), channels_last, and
torch.compile with freezing, as ratios against eager measured in the same run.

Run by hand: `python benchmarks/inference.py` (add `--compile` for torch.compile, whose
first compile takes about a minute per model and batch). The variants are timed in turns
within each round, so a neighbour's load on the machine falls on all of them alike; each
figure is the median over the rounds.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import archspec  # noqa: E402

DEFAULT_SPECS = ["resnet50", "mobilenet_v3_large", "efficientnet_b0"]  # the ones not shipped yet are skipped


def with_trained_statistics(model: torch.nn.Module) -> torch.nn.Module:
    """Norm statistics away from their initial 0 and 1, as after training (speed does not
    depend on them, but the outputs compared below should be meaningful)."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 2, generator=g)
    return model.eval()


def variants(model: torch.nn.Module, compile_too: bool) -> dict[str, tuple[torch.nn.Module, bool]]:
    """name → (model, whether it takes channels_last input)."""
    fused = archspec.fuse(model)
    out = {
        "eager": (model, False),
        "eager + channels_last": (model_cl(model), True),
        "fused": (fused, False),
        "fused + channels_last": (model_cl(fused), True),
    }
    if compile_too:
        import torch._inductor.config as inductor

        inductor.freezing = True  # weights become constants: folds BN itself, prepacks the convs
        out["compile (freezing)"] = (torch.compile(model), False)
        out["compile (freezing) + channels_last"] = (torch.compile(model_cl(model)), True)
    return out


def model_cl(model: torch.nn.Module) -> torch.nn.Module:
    """A channels_last copy (`.to` would convert the model in place)."""
    return copy.deepcopy(model).to(memory_format=torch.channels_last)


def measure(spec: str, batch: int, rounds: int, compile_too: bool) -> list[tuple[str, float, float]]:
    p = archspec.plan(spec)
    model = with_trained_statistics(archspec.build(p, seed=0))
    x = torch.randn(batch, *p.input_shape, generator=torch.Generator().manual_seed(1))
    x_cl = x.contiguous(memory_format=torch.channels_last)
    runs = variants(model, compile_too)
    times: dict[str, list[float]] = {name: [] for name in runs}
    with torch.inference_mode():
        reference = model(x)
        for name, (m, cl) in runs.items():  # warm up (compiles), and check the outputs agree
            y = m(x_cl if cl else x)
            error = ((y - reference).abs().max() / reference.abs().max()).item()
            assert error < 1e-4, f"{name}: outputs differ from eager by {error:.1e} of the largest"
            m(x_cl if cl else x)
        for _ in range(rounds):
            for name, (m, cl) in runs.items():
                start = time.perf_counter()
                m(x_cl if cl else x)
                times[name].append(time.perf_counter() - start)
    eager = statistics.median(times["eager"])
    return [(name, statistics.median(t), statistics.median(t) / eager) for name, t in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="*", default=DEFAULT_SPECS, help="built-in names or spec files")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: a shared machine)")
    parser.add_argument("--compile", action="store_true", help="also torch.compile with freezing (slow to compile)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.rounds} rounds")
    print("| spec | batch | variant | ms | × eager |\n|---|---|---|---|---|")
    for spec in args.specs:
        path = ROOT / "specs" / f"{spec}.yaml"
        ref = str(path) if path.exists() else spec
        if not Path(ref).exists():
            print(f"(skipped {spec}: no such spec yet)", file=sys.stderr)
            continue
        for batch in args.batch:
            for name, seconds, ratio in measure(ref, batch, args.rounds, args.compile):
                print(f"| {spec} | {batch} | {name} | {seconds * 1000:.1f} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
