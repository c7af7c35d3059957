"""How long `archspec validate` takes on 200 spec files, next to `python -c "import torch"`.

Run by hand, not by CI:  python benchmarks/validate_speed.py [--files 200] [--runs 5]

Writes variants of the shipped specs into a temporary folder, times validate (in one process
per CPU, its default, and with --jobs 1) and the import as subprocesses on this machine, in turn
(best of --runs), prints them and their ratios, and fails if validate imported torch or took
half of torch's import time or more.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import ENV, ROOT, best_times  # this folder is on sys.path

sys.path.insert(0, str(ROOT))
from archspec.commands import workers  # noqa: E402  (this checkout's)


def write_specs(folder: Path, count: int) -> None:
    """`count` valid specs: the shipped ones with other names, class counts and input sizes."""
    shipped = sorted((ROOT / "specs").rglob("*.yaml"))
    for i in range(count):
        text = shipped[i % len(shipped)].read_text(encoding="utf-8")
        text = re.sub(r"^name: (\S+)", rf"name: \1_v{i}", text, count=1, flags=re.M)
        text = re.sub(r"classes: \d+", f"classes: {10 + i}", text)
        text = re.sub(r"size: (\d+)", lambda m: f"size: {int(m[1]) + 32 * (i % 3)}", text, count=1)
        sub = folder / f"group{i % 10}"
        sub.mkdir(exist_ok=True)
        (sub / f"spec{i:03d}.yaml").write_text(text, encoding="utf-8")


def imports_torch(command: list[str]) -> bool:
    """Whether `command` (a `python -m ...` line) imports any torch module, by -X importtime."""
    result = subprocess.run([command[0], "-X", "importtime", *command[1:]], env=ENV, capture_output=True, text=True)
    return bool(re.search(r"\|\s+torch(\.|$)", result.stderr, re.M))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        write_specs(Path(folder), args.files)
        validate = [sys.executable, "-m", "archspec", "validate", folder]
        # as pip does on install (torch's bytecode is compiled): else, with PYTHONDONTWRITEBYTECODE
        # set, every run would compile the checkout again
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "archspec")], check=True)
        subprocess.run(validate, check=True, env=ENV, capture_output=True)  # all valid, and caches warm
        commands = [validate, validate + ["--jobs", "1"], [sys.executable, "-c", "import torch"]]
        validate_s, one_s, torch_s = best_times(commands, args.runs)
        torch_used = imports_torch(validate)
    ratio = validate_s / torch_s
    print(f"archspec validate, {args.files} files: {validate_s:.3f} s (best of {args.runs}; "
          f"{workers.default_jobs()} processes)")
    print(f"  the same with --jobs 1:        {one_s:.3f} s")
    print(f'python -c "import torch":       {torch_s:.3f} s (best of {args.runs})')
    print(f"ratio: {ratio:.2f} of torch's import time ({one_s / torch_s:.2f} in one process); "
          f"{args.files / validate_s:.0f} files/s; torch imported by validate: {'yes' if torch_used else 'no'}")
    return 1 if torch_used or ratio >= 0.5 else 0


if __name__ == "__main__":
    raise SystemExit(main())
