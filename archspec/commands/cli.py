"""The `archspec` command line: build, validate, schema, show, list, diff, check-weights,
diagram, eject, export, fit and sample.

Exit codes: 0 ok; 1 an invalid spec (or warnings with --strict), an output that cannot be
written, or a build over its budget; 2 usage or file errors (a missing file, an unknown
output suffix), or a command that needs PyTorch without it; 130 interrupted; 141 the reader
of standard output went away (`archspec list | head -1`: nothing more is said). Each command
imports what it needs when it runs, so `--help` costs little more than Python's own start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import sys
from pathlib import Path

from .. import limits
from ..errors import Issue, SpecError, TorchMissing, printable, require_torch
from .formats import ISSUE_STYLES, render
from ..planning.memory import ITEMSIZE
from ..planning.report import DEPTHS
from ..units import count

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a Unix tool whose reader went away


def _shape(text: str) -> tuple[int, ...]:
    """'3x512x512', '3×512×512' or '3,512,512'; '512x384' or '512' keep the spec's channels
    (as `archspec.plan(input_shape=512)` does)."""
    try:
        sizes = tuple(int(p) for p in re.split(r"[x×,]", text.lower()))
    except ValueError:
        sizes = ()
    if not 1 <= len(sizes) <= 3:
        raise argparse.ArgumentTypeError(f"expected CxHxW, HxW or one size, such as 3x224x224, 224x224 or 224, "
                                         f"got {text!r}")
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return sizes


def _count(text: str) -> int:
    """'4000000000', '4e9', '4G' and '25.6M' are counts."""
    from ..reading.spec import parse_count

    try:
        value = parse_count(text.upper())
    except ValueError:
        value = 0
    if not isinstance(value, int) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 4000000000, 4e9, 4G or 25.6M, got {text!r}")
    return value


def _batch(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) < 12 and 1 <= int(text) <= 10**9):
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 1000000000, got {text!r}")
    return int(text)


def _jobs(text: str) -> int:
    from .workers import MAX_JOBS

    if not (text.isascii() and text.isdigit() and len(text) < 4 and 1 <= int(text) <= MAX_JOBS):
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_JOBS}, got {text!r}")
    return int(text)


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
        from ..version import DISTRIBUTION, version

        print(f"{DISTRIBUTION} {version()}")  # the distribution's name: PyPI's "archspec" is another project
        parser.exit()


SPEC_HELP = "a spec file, the name of a built-in spec (see `archspec list`), or - to read standard input"


def add_spec_arguments(command: argparse.ArgumentParser, many: bool = False) -> None:
    """The spec argument (`args.spec`, or `args.specs` with many=True) and `--set`
    (`args.overrides`): every command that reads a spec takes them."""
    if many:
        command.add_argument("specs", nargs="+", metavar="SPEC", help=SPEC_HELP + "; or folders searched for *.yaml")
    else:
        command.add_argument("spec", help=SPEC_HELP)
    add_set_option(command)
    add_extends_option(command)


def add_extends_option(command: argparse.ArgumentParser) -> None:
    command.add_argument("--allow-extends-outside", action="append", default=[], metavar="DIR", dest="extends_from",
                         help="let `extends` read specs under DIR too (repeatable); by default it reads only the "
                              "built-in specs and the spec's own folder tree (also: ARCHSPEC_EXTENDS_ROOTS)")


def add_set_option(command: argparse.ArgumentParser, text: str = "") -> None:
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                         help=text or "change one value after `extends` (repeatable): KEY is a dotted path, list "
                                      "items by index (stages.2.depth), VALUE is YAML")


def _command(commands, name: str, run, text: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with examples."""
    command = commands.add_parser(name, help=text, description=text, epilog="examples:\n" + examples,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    command.set_defaults(run=run)
    return command


INPUT_HELP = "plan for this input instead of the spec's: CxHxW (3x512x512 or 3,512,512), HxW or one size (512)"
MEMORY_HELP = {"batch": "batch size for the activation memory (default 1)",
               "dtype": "dtype of the model and input for the activation memory (default float32)"}


def _add_input(command: argparse.ArgumentParser, text: str = INPUT_HELP) -> None:
    command.add_argument("--input", type=_shape, metavar="CxHxW", help=text)


def _add_memory(command: argparse.ArgumentParser) -> None:
    command.add_argument("--batch", type=_batch, default=1, metavar="B", help=MEMORY_HELP["batch"])
    command.add_argument("--dtype", choices=list(ITEMSIZE), default="float32", help=MEMORY_HELP["dtype"])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archspec", description="Check, plan and build CNNs from YAML specs.",
                                     epilog="examples:\n  archspec validate specs/\n  archspec build resnet50\n"
                                            "  archspec <command> --help",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version, nargs=0, help="print archspec's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = _command(commands, "build", _build, "print the plan of a spec; with -o, build it and write its weights",
                     "  archspec build resnet50\n"
                     "  archspec build my.yaml --input 3x128x128 --depth stages\n"
                     "  archspec build my.yaml --set stages.2.depth=23 --json\n"
                     "  archspec build my.yaml -o my.safetensors --seed 0\n"
                     "a budget (constraints:, --max-params) over its limit is a warning after the table,\n"
                     "exit 0; with -o it is an error, exit 1, and nothing is written")
    add_spec_arguments(build)
    build.add_argument("-o", "--output", help="write the initial weights (safetensors, with the spec inside)")
    _add_input(build)
    build.add_argument("--depth", choices=DEPTHS, default="blocks",
                       help="summary rows: stages, blocks (default) or layers (every module)")
    _add_memory(build)
    build.add_argument("--json", action="store_true", help="print the plan as JSON")
    build.add_argument("--seed", type=_seed, help="seed for reproducible initial weights")
    build.add_argument("--max-params", type=_count, default=limits.MAX_BUILD_PARAMS, metavar="N",
                       help=f"the most parameters -o builds (default {count(limits.MAX_BUILD_PARAMS)}; "
                            "also 4G, 25.6M)")

    validate = _command(commands, "validate", _validate, "check spec files and folders (never imports torch)",
                        "  archspec validate specs/\n"
                        "  archspec validate specs/ --exclude 'configs/*' --format github\n"
                        "  archspec validate my.yaml --set stages.2.depth=23 --strict\n"
                        "folders are searched for *.yaml and *.yml, skipping hidden ones; a YAML file there\n"
                        "without an `archspec:` key is noted and skipped")
    add_spec_arguments(validate, many=True)
    validate.add_argument("--format", choices=ISSUE_STYLES, default="text",
                          help="text (default), json (a list of issues) or github (workflow commands)")
    validate.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    validate.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                          help="skip files and folders whose path (as given, or inside a folder given) matches "
                               "GLOB (repeatable): --exclude 'configs/*' --exclude '*.train.yaml'")
    validate.add_argument("-j", "--jobs", type=_jobs, metavar="N",
                          help="check files in N processes (default: one per CPU it may use, up to 8; 1: in this one)")

    _command(commands, "schema", _schema, "print the JSON Schema of the spec format, for editors",
             "  archspec schema > archspec.schema.json\n"
             "  # then in a spec: # yaml-language-server: $schema=archspec.schema.json")

    show = _command(commands, "show", _show, "print the resolved spec (after extends, scale, --set) as YAML, "
                                             "each value with where it was set",
                    "  archspec show resnet50\n"
                    "  archspec show my.yaml --set stages.2.depth=23\n"
                    "  archspec show my.yaml --format json")
    add_spec_arguments(show)
    show.add_argument("--format", choices=("yaml", "json"), default="yaml",
                      help="yaml (default; `build` accepts it) or json ({spec, origins})")

    listing = _command(commands, "list", _list, "the built-in specs: parameters, MACs, input, description",
                       "  archspec list\n  archspec list 'resnet*'\n  archspec list --format json")
    listing.add_argument("pattern", nargs="?", default="*", metavar="PATTERN",
                         help="only the names that match this shell-style pattern ('resnet*', '*_b?')")
    listing.add_argument("--format", choices=("text", "json"), default="text",
                         help="text (default: a table that fits the terminal) or json (every field)")

    diff = _command(commands, "diff", _diff, "what changes from one spec to another: settings, costs, weights",
                    "  archspec diff resnet50 my.yaml\n"
                    "  archspec diff resnet50 resnet50 --set stages.2.depth=23\n"
                    "  archspec diff old.yaml new.yaml --format markdown --fail-on incompatible\n"
                    "  archspec diff resnet50 my.yaml --input 3x512x512")
    diff.add_argument("old", help="spec before the change")
    diff.add_argument("new", help="spec after the change")
    add_set_option(diff, "change one value of NEW (repeatable): `archspec diff resnet50 resnet50 --set "
                         "stages.2.depth=23`")
    add_extends_option(diff)
    diff.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                      help="text (default), json, or markdown (for a pull request or $GITHUB_STEP_SUMMARY)")
    diff.add_argument("--fail-on", choices=("incompatible",),
                      help="incompatible: exit 1 when a tensor of OLD's weights is dropped or reshaped in NEW")
    _add_input(diff, "plan both specs for this input instead of their own: CxHxW, HxW or one size")
    _add_memory(diff)

    weights = _command(commands, "check-weights", _check_weights, "which tensors of a weights file fit a spec's model",
                       "  archspec check-weights resnet50 resnet50.safetensors\n"
                       "  archspec check-weights my.yaml checkpoint.pt --strict")
    add_spec_arguments(weights)
    weights.add_argument("file", help="weights: .safetensors (no torch needed), .pt, .pth, .bin or .ckpt")
    weights.add_argument("--format", choices=("text", "json"), default="text",
                         help="text (default) or json (every tensor that does not fit)")
    weights.add_argument("--strict", action="store_true", help="exit 1 unless every tensor fits")

    diagram = _command(commands, "diagram", _diagram, "draw the network: Mermaid or SVG, from the plan",
                       "  archspec diagram resnet50 -o resnet50.svg\n"
                       "  archspec diagram my.yaml --depth blocks -o my.md\n"
                       "  archspec diagram my.yaml --input 512 > my.mmd")
    add_spec_arguments(diagram)
    diagram.add_argument("-o", "--output", help="write to FILE (.svg, .mmd, or .md: Mermaid in a fenced block); "
                                                "default: Mermaid to stdout")
    diagram.add_argument("--depth", choices=("stages", "blocks"), default="stages",
                         help="one box per stage (default) or per block")
    _add_input(diagram)

    eject = _command(commands, "eject", _eject, "write the network as standalone PyTorch source (needs no torch)",
                     "  archspec eject resnet50 -o resnet50.py\n  archspec eject my.yaml --input 3x64x64 | less")
    add_spec_arguments(eject)
    eject.add_argument("-o", "--output", help="write to FILE (default: stdout)")
    _add_input(eject)

    export = _command(commands, "export", _export, "export to ONNX or a torch.export program, verified against eager",
                      "  archspec export resnet50 -o resnet50.onnx\n"
                      "  archspec export my.yaml --weights my.safetensors -o my.pt2\n"
                      "progress lines go to stderr when it is a terminal")
    add_spec_arguments(export)
    export.add_argument("-o", "--output", required=True, help="file to write: model.onnx (+ model.onnx.data) or model.pt2")
    export.add_argument("--format", choices=("onnx", "pt2"), help="onnx or pt2 (default: from the output's suffix)")
    export.add_argument("--weights", help="weights to export (safetensors: `archspec.save`, `build -o`, or a "
                                          "plain state_dict); default the initial weights")
    _add_input(export, "example input size instead of the spec's: CxHxW, HxW or one size")

    fit = _command(commands, "fit", _fit, "the largest scaling of a spec that meets a budget, as a spec that extends it",
                   "  archspec fit resnet50 --macs 2G -o resnet50_2g.yaml\n"
                   "  archspec fit efficientnet_b0 --along compound --phi 1\n"
                   "  archspec fit my.yaml --memory 8GiB --batch 64 --along resolution")
    add_spec_arguments(fit)
    fit.add_argument("--macs", type=_count_text, help="most multiply-adds per image (600M, 2G)")
    fit.add_argument("--params", type=_count_text, help="most parameters (5M)")
    fit.add_argument("--memory", type=_bytes_text, help="most activation memory of a training step (40GiB)")
    _add_memory(fit)
    fit.add_argument("--along", choices=("width", "depth", "resolution", "compound"), default="width",
                     help="what to scale (default width); compound: EfficientNet's depth α^φ, width β^φ, input γ^φ")
    fit.add_argument("--compound", type=_coefficients, metavar="α,β,γ", help="compound coefficients (default 1.2,1.1,1.15)")
    fit.add_argument("--phi", type=float, help="with --along compound: scale at this φ instead of fitting a budget")
    fit.add_argument("-o", "--output", help="write the fitted spec to FILE (default: stdout)")

    sample = _command(commands, "sample", _sample, "draw networks from a design space into a folder of specs",
                      "  archspec sample regnetx_400mf -n 100 -o samples/\n"
                      "  archspec sample my_space.yaml -n 20 --seed 1 -o draws/ && archspec validate draws/")
    add_spec_arguments(sample)
    sample.add_argument("-n", type=_batch, default=100, help="networks to draw (default 100)")
    sample.add_argument("--seed", type=_seed, default=0, help="random seed (default 0): the same seed, the same files")
    sample.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to create for the specs and index")
    sample.add_argument("--max-draws", type=_batch, metavar="N", help="give up after N draws (default 200 × n)")
    return parser


def _count_text(text: str) -> str:
    """A count as written (`--macs 600M`), checked: the error locations quote it."""
    _count(text)
    return text.upper()


def _bytes_text(text: str) -> str:
    from ..reading.spec import parse_bytes

    try:
        value = parse_bytes(text)
    except ValueError:
        value = 0
    if not isinstance(value, int) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a size such as 40GiB, 512MiB or 2GB, got {text!r}")
    return text


def _coefficients(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not all(1 <= v < 100 for v in values):
        raise argparse.ArgumentTypeError(f"expected α,β,γ, three numbers ≥ 1 such as 1.2,1.1,1.15, got {text!r}")
    return values


def _fit(args: argparse.Namespace) -> int:
    from .fit import run

    return run(args)


def _sample(args: argparse.Namespace) -> int:
    from .sample import run

    return run(args)


class _OutputFailed(Exception):
    """Standard output could not be written (a full disk, a closed pipe)."""

    def __init__(self, cause: OSError):
        self.cause = cause


def _print(text: str, end: str = "\n") -> None:
    """A command's output on stdout, flushed at once so that a failed write is seen here."""
    try:
        sys.stdout.write(text + end)
        sys.stdout.flush()
    except OSError as e:
        raise _OutputFailed(e) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with _extends_roots(getattr(args, "extends_from", [])):
            return args.run(args)
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e.issues)
    except TorchMissing as e:
        print(f"archspec: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("archspec: interrupted", file=sys.stderr)
        return 130
    except _OutputFailed as e:
        _drop_stdout()
        if isinstance(e.cause, BrokenPipeError):  # `archspec list | head -1`: the reader has gone; say nothing
            return EXIT_CLOSED_PIPE
        print(f"archspec: error: cannot write to standard output: {e.cause.strerror or e.cause}", file=sys.stderr)
        return EXIT_INVALID


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's flush at exit fails quietly too."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture)
        pass


def _extends_roots(folders: list[str]):
    """The folders --allow-extends-outside adds, for the whole command."""
    if not folders:
        return contextlib.nullcontext()
    from ..reading.resolve import extends_roots

    return extends_roots(folders)


def _status(issues: list[Issue], strict: bool = False) -> int:
    """File errors (missing, unreadable) are usage errors; other errors make a spec invalid."""
    if any(i.code in ("AS100", "AS703") for i in issues):
        return EXIT_USAGE
    return EXIT_INVALID if any(i.severity == "error" for i in issues) or (strict and _warnings_in(issues)) else EXIT_OK


def _warnings_in(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity == "warning"]


def _usage_error(message: str) -> int:
    print(printable(f"archspec: error: {message}"), file=sys.stderr)
    return EXIT_USAGE


def _output_problem(output: str, problem: str, code: int = EXIT_INVALID) -> int:
    print(printable(f"{output}: error: {problem}"), file=sys.stderr)
    return code


BUDGETS = ("AS401", "AS402", "AS403", "AS602")  # constraints: and --max-params


def _build(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..pipeline import plan
    from ..planning.checks import check_plan, errors_in
    from ..planning.plan import check_params

    if args.output:
        from ..building.checkpoint import unknown_weights_suffix, weights_format

        if weights_format(args.output) is None and not _unwritable(Path(args.output)):  # a folder: said below
            print(printable(f"{args.output}: error: {unknown_weights_suffix(args.output)}"), file=sys.stderr)
            return EXIT_USAGE
        require_torch("archspec build -o")  # before any work: the plan alone would not need it
        if problem := _unwritable(Path(args.output)):
            return _output_problem(args.output, problem)
    p = plan(args.spec, args.input, overrides=args.overrides)
    issues = check_plan(p)
    try:
        check_params(p, args.max_params)  # before anything is allocated
    except SpecError as e:
        issues += e.issues
    if not args.output:  # a what-if: the verdict follows the table, and nothing is refused
        issues = [replace(i, severity="warning") if i.code in BUDGETS else i for i in issues]
    if args.json:
        _print(json.dumps(p.to_dict(args.batch, args.dtype), indent=1))
    else:
        from ..planning.report import summary

        _print(summary(p, args.depth, args.batch, args.dtype))
    if issues:
        print(render(issues, "text"), file=sys.stderr)
    if errors_in(issues):
        if args.output:
            print(f"archspec: nothing written to {printable(args.output)}", file=sys.stderr)
        return EXIT_INVALID
    if args.output:
        from ..building.checkpoint import save_weights
        from ..pipeline import build

        try:
            save_weights(build(p, seed=args.seed, max_params=args.max_params), args.output, p.spec.source.text,
                         args.seed, p.input_shape)
        except OSError as e:  # the output folder is not writable, the disk is full, ...: one line, nothing left
            print(e, file=sys.stderr)
            return EXIT_INVALID
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _unwritable(path: Path) -> str:
    """Why `path` cannot be written, found before the build; '' if it looks fine."""
    from ..building.checkpoint import output_problem

    return output_problem(path)


def _validate(args: argparse.Namespace) -> int:
    from ..planning.checks import check_spec, errors_in
    from .finding import spec_files
    from .workers import default_jobs, in_processes

    if args.specs.count("-") > 1:
        return _usage_error("validate: standard input (-) can be read only once")
    files, issues = spec_files(args.specs, args.exclude)
    invalid = 0
    jobs = 1 if "-" in files else args.jobs or default_jobs()  # standard input is read by this process
    for found in in_processes(functools.partial(check_spec, overrides=args.overrides), files, jobs):
        invalid += bool(errors_in(found))
        issues += found
    if issues or args.format == "json":
        _print(render(issues, args.format))
    if files:
        warned = len(_warnings_in(issues))
        print(f"{len(files)} file{'s' * (len(files) != 1)} checked, {invalid} invalid"
              + (f", {warned} warning{'s' * (warned != 1)}" if warned else ""), file=sys.stderr)
    return _status(issues, args.strict)


def _schema(args: argparse.Namespace) -> int:
    from ..reading.spec import json_schema

    _print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    from ..pipeline import load
    from .show import show, show_json

    spec = load(args.spec, args.overrides)
    if args.format == "json":
        _print(json.dumps(show_json(spec), indent=1, ensure_ascii=False))
    else:
        _print(show(spec), end="")
    return EXIT_OK


def _columns() -> int | None:
    """The terminal's width for tables (COLUMNS wins); None when the output is not read on a
    terminal, so that files and pipes get whole lines."""
    import shutil

    if "COLUMNS" in os.environ or sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _list(args: argparse.Namespace) -> int:
    from .catalog import catalog, table

    entries = catalog(args.pattern)
    if not entries:
        return _usage_error(f"no built-in spec matches {args.pattern!r}; `archspec list` shows them all")
    _print(json.dumps(entries, indent=1) if args.format == "json"
           else table(entries, _columns()))
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from ..pipeline import plan
    from .diff import diff, render_diff

    if args.old == args.new == "-":
        return _usage_error("diff: standard input (-) can be read only once")
    d = diff(plan(args.old, args.input), plan(args.new, args.input, overrides=args.overrides), args.batch, args.dtype)
    _print(render_diff(d, args.format, _columns()))
    return EXIT_INVALID if args.fail_on == "incompatible" and not d.weights.compatible else EXIT_OK


def _check_weights(args: argparse.Namespace) -> int:
    from ..building.weightsfile import WeightsFileError, check_weights_file, text
    from ..pipeline import plan

    p = plan(args.spec, overrides=args.overrides)
    try:
        report = check_weights_file(p, args.file)
    except WeightsFileError as e:
        return _output_problem(args.file, str(e), EXIT_USAGE)
    _print(json.dumps(report.to_dict(), indent=1) if args.format == "json" else text(report, args.file, p.spec.name))
    return EXIT_INVALID if args.strict and not report.ok else EXIT_OK


def _diagram(args: argparse.Namespace) -> int:
    from ..pipeline import plan
    from .diagram import KIND_OF_SUFFIX, render

    kind = "mermaid"
    if args.output and args.output != "-":  # `-o -`: stdout, as without -o
        if problem := _unwritable(Path(args.output)):
            return _output_problem(args.output, problem)
        kind = KIND_OF_SUFFIX.get(Path(args.output).suffix.lower())
        if kind is None:
            return _output_problem(args.output, "unknown diagram format: name it .svg, .mmd or .md", EXIT_USAGE)
    text = render(plan(args.spec, args.input, overrides=args.overrides), kind, args.depth)
    return _emit(text, args.output)


def _emit(text: str, output: str | None) -> int:
    """`text` to stdout, or to the file `output` whole or not at all (with the user's umask)."""
    from ..building.checkpoint import WriteError, write_bytes

    if not output or output == "-":
        _print(text, end="")
        return EXIT_OK
    try:
        write_bytes(output, text.encode("utf-8"))
    except WriteError as e:  # not writable, disk full, a file-size limit, ...
        print(printable(str(e)), file=sys.stderr)  # one line: path and cause
        return EXIT_INVALID
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def _eject(args: argparse.Namespace) -> int:
    from ..pipeline import plan
    from .eject import EjectError, eject

    if args.output and (problem := _unwritable(Path(args.output))):
        return _output_problem(args.output, problem)
    try:
        text = eject(plan(args.spec, args.input, overrides=args.overrides))
    except EjectError as e:
        return _output_problem(args.spec, str(e))
    return _emit(text, args.output)


def _export(args: argparse.Namespace) -> int:
    from ..pipeline import plan

    fmt = args.format or Path(args.output).suffix.lstrip(".")
    if fmt not in ("onnx", "pt2"):
        return _output_problem(args.output, "give --format onnx or --format pt2 (or an output ending .onnx or .pt2)",
                               EXIT_USAGE)
    p = plan(args.spec, args.input, overrides=args.overrides)
    if problem := _unwritable(Path(args.output)):
        return _output_problem(args.output, problem)
    require_torch("archspec export")
    from ..building.export import ExportError, export

    try:
        print(export(p, args.output, fmt, args.weights, progress=_progress()), file=sys.stderr)
    except ExportError as e:  # its lines are already safe to print (a weights mismatch takes several)
        print(f"{args.output}: error: {e}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as e:  # the write failed (a WriteError: one line), leaving nothing behind
        print(e, file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _progress():
    """A function that says on stderr what a slow command is doing, when a person watches it
    (stderr is a terminal); None otherwise, so logs and pipes stay quiet."""
    if not sys.stderr.isatty():
        return None
    return lambda step: print(f"archspec: {step}…", file=sys.stderr, flush=True)
