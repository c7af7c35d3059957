"""Best-of timings the benchmarks share: of a function in this process, or of commands run as
subprocesses in turn (interleaved, so that a slow spell of a shared machine slows each alike)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}  # time this checkout, whatever is installed


def best(fn: Callable[[], object], runs: int = 5) -> float:
    """The best wall time of `runs` calls of `fn`, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_times(commands: list[list[str]], runs: int) -> list[float]:
    """The best wall time of each command, in seconds, the commands run in turn `runs` times
    from the repository's root with this checkout importable."""
    found = [float("inf")] * len(commands)
    for _ in range(runs):
        for k, command in enumerate(commands):
            start = time.perf_counter()
            subprocess.run(command, check=True, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            found[k] = min(found[k], time.perf_counter() - start)
    return found
