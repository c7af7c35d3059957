"""`archspec build` and `archspec validate`. Exit codes: 0 ok, 1 invalid spec, 2 usage or file errors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import SpecError
from .plan import Plan, plan
from .source import load_source
from .spec import check_source

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 3,224,224, got {text!r}") from None
    if min(c, h, w) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return c, h, w


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archspec", description="Check, plan and build CNNs from YAML specs.")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="print the plan of a spec; with -o, build it and write its weights")
    build.add_argument("spec", help="spec file (.yaml)")
    build.add_argument("-o", "--output", help="write the initial weights (safetensors, with the spec inside)")
    build.add_argument("--input", type=_shape, metavar="C,H,W", help="plan for this input instead of the spec's")
    build.add_argument("--json", action="store_true", help="print the plan as JSON")
    build.add_argument("--seed", type=int, help="seed for reproducible initial weights")

    validate = commands.add_parser("validate", help="check spec files and folders (never imports torch)")
    validate.add_argument("paths", nargs="+", help="spec files, or folders searched for *.yaml and *.yml")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return {"build": _build, "validate": _validate}[args.command](args)


def _check(path: str) -> tuple[Plan | None, SpecError | None]:
    """Load, validate and plan one file."""
    try:
        source = load_source(path)
        return plan(check_source(source)), None
    except SpecError as e:
        return None, e


def _status(error: SpecError) -> int:
    """File errors (missing, unreadable) are usage errors; the rest are invalid specs."""
    return EXIT_USAGE if any(i.code == "AS100" for i in error.issues) else EXIT_INVALID


def _build(args: argparse.Namespace) -> int:
    try:
        source = load_source(args.spec)
        p = plan(check_source(source), args.input)
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e)
    if args.json:
        print(json.dumps(p.to_dict(), indent=1))
    else:
        from .report import summary

        print(summary(p))
    if args.output:
        from . import build
        from .checkpoint import save_weights

        save_weights(build(p, seed=args.seed), args.output, source.text, args.seed, p.input_shape)
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _spec_files(paths: list[str]) -> tuple[list[str], list[str]]:
    """The spec files named or found under `paths`, and messages for paths that give none."""
    files, problems = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                problems.append(f"{name}: error: no *.yaml or *.yml files in this folder")
            files += found
        elif path.exists():
            files.append(name)
        else:
            problems.append(f"{name}: error: no such file or folder")
    return files, problems


def _validate(args: argparse.Namespace) -> int:
    files, problems = _spec_files(args.paths)
    for message in problems:
        print(message, file=sys.stderr)
    status, invalid = EXIT_OK, 0
    for name in files:
        _, error = _check(name)
        if error:
            invalid += 1
            print(error)
            status = max(status, _status(error))
    if problems:
        status = EXIT_USAGE
    print(f"{len(files)} file{'s' * (len(files) != 1)} checked, {invalid} invalid", file=sys.stderr)
    return status
