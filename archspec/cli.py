"""`archspec build`, `archspec validate` and `archspec schema`.

Exit codes: 0 ok, 1 invalid spec (or warnings with --strict), 2 usage or file errors,
or a command that needs PyTorch without it. Each command imports what it needs when
it runs, so `--help` costs little more than Python's own start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import limits
from .errors import Issue, SpecError, TorchMissing, require_torch
from .formats import FORMATS, render
from .units import count

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(p) for p in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 3,224,224, got {text!r}") from None
    if min(c, h, w) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return c, h, w


def _count(text: str) -> int:
    """'4000000000', '4e9', '4G' and '25.6M' are counts."""
    from .spec import parse_count

    try:
        value = parse_count(text.upper())
    except ValueError:
        value = 0
    if not isinstance(value, int) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 4000000000, 4e9, 4G or 25.6M, got {text!r}")
    return value


def _seed(text: str) -> int:
    # argparse names the option in front of an ArgumentTypeError's message; any other error
    # would show this function's name instead
    try:
        seed = int(text)
    except ValueError:
        seed = -1
    if not 0 <= seed < 2**64:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to 2**64 - 1, got {text!r}")
    return seed


class _Version(argparse.Action):
    """`--version`, reading the installed package's metadata only when asked."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from . import __version__

        print(f"archspec {__version__}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archspec", description="Check, plan and build CNNs from YAML specs.")
    parser.add_argument("--version", action=_Version, nargs=0, help="print archspec's version and exit")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="print the plan of a spec; with -o, build it and write its weights")
    build.add_argument("spec", help="spec file (.yaml)")
    build.add_argument("-o", "--output", help="write the initial weights (safetensors, with the spec inside)")
    build.add_argument("--input", type=_shape, metavar="C,H,W", help="plan for this input instead of the spec's")
    build.add_argument("--json", action="store_true", help="print the plan as JSON")
    build.add_argument("--seed", type=_seed, help="seed for reproducible initial weights")
    build.add_argument("--max-params", type=_count, default=limits.MAX_BUILD_PARAMS, metavar="N",
                       help=f"refuse networks with more parameters (default {count(limits.MAX_BUILD_PARAMS)}; "
                            "also 4G, 25.6M)")

    validate = commands.add_parser("validate", help="check spec files and folders (never imports torch)")
    validate.add_argument("paths", nargs="+", help="spec files, or folders searched for *.yaml and *.yml")
    validate.add_argument("--format", choices=FORMATS, default="text",
                          help="text (default), json (a list of issues) or github (workflow commands)")
    validate.add_argument("--strict", action="store_true", help="exit 1 on warnings too")

    commands.add_parser("schema", help="print the JSON Schema of the spec format, for editors")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return {"build": _build, "validate": _validate, "schema": _schema}[args.command](args)
    except TorchMissing as e:
        print(f"archspec: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("archspec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `archspec schema | head`: the reader has gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush fails quietly too
        return EXIT_INVALID


def _status(issues: list[Issue], strict: bool = False) -> int:
    """File errors (missing, unreadable) are usage errors; other errors make a spec invalid."""
    if any(i.code == "AS100" for i in issues):
        return EXIT_USAGE
    return EXIT_INVALID if any(i.severity == "error" for i in issues) or (strict and issues) else EXIT_OK


def _build(args: argparse.Namespace) -> int:
    from .checks import check_plan, errors_in
    from .plan import check_params, plan
    from .source import load_source
    from .spec import check_source

    if args.output:
        require_torch("archspec build -o")  # before any work: the plan alone would not need it
    try:
        source = load_source(args.spec)
        p = plan(check_source(source), args.input)
        check_params(p, args.max_params)  # before anything is allocated
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e.issues)
    issues = check_plan(p)
    if issues:
        print(render(issues, "text"), file=sys.stderr)
    if errors_in(issues):
        return EXIT_INVALID
    if args.output and (problem := _unwritable(Path(args.output))):
        print(f"{args.output}: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(p.to_dict(), indent=1))
    else:
        from .report import summary

        print(summary(p))
    if args.output:
        from . import build
        from .checkpoint import save_weights

        try:
            save_weights(build(p, seed=args.seed, max_params=args.max_params), args.output, source.text, args.seed,
                         p.input_shape)
        except OSError as e:  # the output folder is not writable, the disk is full, ...
            print(f"{args.output}: error: cannot write the weights: {e.strerror or e}", file=sys.stderr)
            return EXIT_USAGE
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _unwritable(path: Path) -> str:
    """Why `path` cannot be written, found before the build; '' if it looks fine."""
    if path.is_dir():
        return "this is a folder; give a file name such as model.safetensors"
    if not path.parent.is_dir():
        return f"folder {str(path.parent)!r} does not exist"
    return ""


def _spec_files(paths: list[str]) -> tuple[list[str], list[Issue]]:
    """The spec files named or found under `paths`, and issues for paths that give none."""
    files, problems = [], []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                problems.append(Issue(name, None, None, "no *.yaml or *.yml files in this folder", code="AS100"))
            files += found
        elif path.exists():
            files.append(name)
        else:
            problems.append(Issue(name, None, None, "no such file or folder", code="AS100"))
    return files, problems


def _validate(args: argparse.Namespace) -> int:
    from .checks import check_file, errors_in

    files, issues = _spec_files(args.paths)
    invalid = 0
    for name in files:
        found = check_file(name)
        invalid += bool(errors_in(found))
        issues += found
    if issues or args.format == "json":
        print(render(issues, args.format))
    warned = len(issues) - len(errors_in(issues))
    print(f"{len(files)} file{'s' * (len(files) != 1)} checked, {invalid} invalid"
          + (f", {warned} warning{'s' * (warned != 1)}" if warned else ""), file=sys.stderr)
    return _status(issues, args.strict)


def _schema(args: argparse.Namespace) -> int:
    from .spec import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK
