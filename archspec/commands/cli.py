"""`archspec build`, `archspec validate` and `archspec schema`.

Exit codes: 0 ok, 1 invalid spec (or warnings with --strict) or an output file that
cannot be written, 2 usage or file errors, or a command that needs PyTorch without it. Each command imports what it needs when
it runs, so `--help` costs little more than Python's own start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from .. import limits
from ..errors import Issue, SpecError, TorchMissing, printable, require_torch
from .formats import FORMATS, render
from ..planning.memory import ITEMSIZE
from ..planning.report import DEPTHS
from ..units import count

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


def _shape(text: str) -> tuple[int, int, int]:
    """'3x512x512', '3×512×512' or '3,512,512'."""
    try:
        c, h, w = (int(p) for p in re.split(r"[x×,]", text.lower()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected CxHxW such as 3x224x224 (or 3,224,224), got {text!r}") from None
    if min(c, h, w) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return c, h, w


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


def add_set_option(command: argparse.ArgumentParser, text: str = "") -> None:
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                         help=text or "change one value after `extends` (repeatable): KEY is a dotted path, list "
                                      "items by index (stages.2.depth), VALUE is YAML")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archspec", description="Check, plan and build CNNs from YAML specs.")
    parser.add_argument("--version", action=_Version, nargs=0, help="print archspec's version and exit")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="print the plan of a spec; with -o, build it and write its weights")
    build.set_defaults(run=_build)
    add_spec_arguments(build)
    build.add_argument("-o", "--output", help="write the initial weights (safetensors, with the spec inside)")
    build.add_argument("--input", type=_shape, metavar="CxHxW",
                       help="plan for this input instead of the spec's (3x512x512 or 3,512,512)")
    build.add_argument("--depth", choices=DEPTHS, default="blocks",
                       help="summary rows: stages, blocks (default) or layers (every module)")
    build.add_argument("--batch", type=_batch, default=1, metavar="B",
                       help="batch size for the activation memory (default 1)")
    build.add_argument("--dtype", choices=list(ITEMSIZE), default="float32",
                       help="dtype of the model and input for the activation memory (default float32)")
    build.add_argument("--json", action="store_true", help="print the plan as JSON")
    build.add_argument("--seed", type=_seed, help="seed for reproducible initial weights")
    build.add_argument("--max-params", type=_count, default=limits.MAX_BUILD_PARAMS, metavar="N",
                       help=f"refuse networks with more parameters (default {count(limits.MAX_BUILD_PARAMS)}; "
                            "also 4G, 25.6M)")

    validate = commands.add_parser("validate", help="check spec files and folders (never imports torch)")
    validate.set_defaults(run=_validate)
    add_spec_arguments(validate, many=True)
    validate.add_argument("--format", choices=FORMATS, default="text",
                          help="text (default), json (a list of issues) or github (workflow commands)")
    validate.add_argument("--strict", action="store_true", help="exit 1 on warnings too")

    schema = commands.add_parser("schema", help="print the JSON Schema of the spec format, for editors")
    schema.set_defaults(run=_schema)

    show = commands.add_parser("show", help="print the resolved spec (after extends, scale, --set) as YAML, "
                                            "each value with where it was set")
    show.set_defaults(run=_show)
    add_spec_arguments(show)
    show.add_argument("--format", choices=("yaml", "json"), default="yaml",
                      help="yaml (default; `build` accepts it) or json ({spec, origins})")

    listing = commands.add_parser("list", help="the built-in specs: parameters, MACs, input, description")
    listing.set_defaults(run=_list)
    listing.add_argument("--format", choices=("text", "json"), default="text")

    diff = commands.add_parser("diff", help="what changes from one spec to another: settings, costs, weights")
    diff.set_defaults(run=_diff)
    diff.add_argument("old", help="spec before the change")
    diff.add_argument("new", help="spec after the change")
    add_set_option(diff, "change one value of NEW (repeatable): `archspec diff resnet50 resnet50 --set "
                         "stages.2.depth=23`")
    diff.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                      help="text (default), json, or markdown (for a pull request or $GITHUB_STEP_SUMMARY)")
    diff.add_argument("--fail-on", choices=("incompatible",),
                      help="incompatible: exit 1 when a tensor of OLD's weights is dropped or reshaped in NEW")
    diff.add_argument("--batch", type=_batch, default=1, metavar="B",
                      help="batch size for the activation memory (default 1)")
    diff.add_argument("--dtype", choices=list(ITEMSIZE), default="float32",
                      help="dtype of the model and input for the activation memory (default float32)")

    weights = commands.add_parser("check-weights", help="which tensors of a weights file fit a spec's model")
    weights.set_defaults(run=_check_weights)
    add_spec_arguments(weights)
    weights.add_argument("file", help="weights: .safetensors (no torch needed), .pt, .pth, .bin or .ckpt")
    weights.add_argument("--format", choices=("text", "json"), default="text")
    weights.add_argument("--strict", action="store_true", help="exit 1 unless every tensor fits")

    diagram = commands.add_parser("diagram", help="draw the network: Mermaid or SVG, from the plan")
    diagram.set_defaults(run=_diagram)
    add_spec_arguments(diagram)
    diagram.add_argument("-o", "--output", help="write to FILE (.svg, .mmd, or .md: Mermaid in a fenced block); "
                                                "default: Mermaid to stdout")
    diagram.add_argument("--depth", choices=("stages", "blocks"), default="stages",
                         help="one box per stage (default) or per block")

    eject = commands.add_parser("eject", help="write the network as standalone PyTorch source (needs no torch)")
    eject.set_defaults(run=_eject)
    add_spec_arguments(eject)
    eject.add_argument("-o", "--output", help="write to FILE (default: stdout)")
    eject.add_argument("--input", type=_shape, metavar="C,H,W", help="plan for this input instead of the spec's")

    export = commands.add_parser("export", help="export to ONNX or a torch.export program, verified against eager")
    export.set_defaults(run=_export)
    add_spec_arguments(export)
    export.add_argument("-o", "--output", required=True, help="file to write: model.onnx (+ model.onnx.data) or model.pt2")
    export.add_argument("--format", choices=("onnx", "pt2"), help="onnx or pt2 (default: from the output's suffix)")
    export.add_argument("--weights", help="weights to export (safetensors: `archspec.save`, `build -o`, or a "
                                          "plain state_dict); default the initial weights")
    export.add_argument("--input", type=_shape, metavar="C,H,W", help="example input size instead of the spec's")
    fit = commands.add_parser("fit", help="the largest scaling of a spec that meets a budget, as a spec that extends it")
    fit.set_defaults(run=_fit)
    add_spec_arguments(fit)
    fit.add_argument("--macs", type=_count_text, help="most multiply-adds per image (600M, 2G)")
    fit.add_argument("--params", type=_count_text, help="most parameters (5M)")
    fit.add_argument("--memory", type=_bytes_text, help="most activation memory of a training step (40GiB)")
    fit.add_argument("--batch", type=_batch, default=1, metavar="B", help="batch size for --memory (default 1)")
    fit.add_argument("--dtype", choices=list(ITEMSIZE), default="float32", help="dtype for --memory (default float32)")
    fit.add_argument("--along", choices=("width", "depth", "resolution", "compound"), default="width",
                     help="what to scale (default width); compound: EfficientNet's depth α^φ, width β^φ, input γ^φ")
    fit.add_argument("--compound", type=_coefficients, metavar="α,β,γ", help="compound coefficients (default 1.2,1.1,1.15)")
    fit.add_argument("--phi", type=float, help="with --along compound: scale at this φ instead of fitting a budget")
    fit.add_argument("-o", "--output", help="write the fitted spec to FILE (default: stdout)")

    sample = commands.add_parser("sample", help="draw networks from a design space into a folder of specs")
    sample.set_defaults(run=_sample)
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
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
    if any(i.code in ("AS100", "AS703") for i in issues):
        return EXIT_USAGE
    return EXIT_INVALID if any(i.severity == "error" for i in issues) or (strict and issues) else EXIT_OK


def _build(args: argparse.Namespace) -> int:
    from ..planning.checks import check_plan, errors_in
    from ..pipeline import plan
    from ..planning.plan import check_params
    from ..reading.resolve import resolve

    if args.output:
        from ..building.checkpoint import unknown_weights_suffix, weights_format

        if weights_format(args.output) is None and not _unwritable(Path(args.output)):  # a folder: said below
            print(printable(f"{args.output}: error: {unknown_weights_suffix(args.output)}"), file=sys.stderr)
            return EXIT_USAGE
        require_torch("archspec build -o")  # before any work: the plan alone would not need it
    try:
        source = resolve(args.spec, args.overrides)
        p = plan(source, args.input)
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
        return EXIT_INVALID
    if args.json:
        print(json.dumps(p.to_dict(args.batch, args.dtype), indent=1))
    else:
        from ..planning.report import summary

        print(summary(p, args.depth, args.batch, args.dtype))
    if args.output:
        from ..building.checkpoint import save_weights
        from ..pipeline import build

        try:
            save_weights(build(p, seed=args.seed, max_params=args.max_params), args.output, source.text, args.seed,
                         p.input_shape)
        except OSError as e:  # the output folder is not writable, the disk is full, ...: one line, nothing left
            print(e, file=sys.stderr)
            return EXIT_INVALID
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _unwritable(path: Path) -> str:
    """Why `path` cannot be written, found before the build; '' if it looks fine."""
    from ..building.checkpoint import output_problem

    return output_problem(path)


def _spec_files(refs: list[str]) -> tuple[list[str], list[Issue]]:
    """The specs named or found under folders in `refs`, and issues for paths that give none."""
    from ..reading.resolve import is_name

    files, problems = [], []
    for name in refs:
        path = Path(name)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                problems.append(Issue(name, None, None, "no *.yaml or *.yml files in this folder", code="AS100"))
            files += found
        elif path.exists() or name == "-" or is_name(name):  # names are looked up when read
            files.append(name)
        else:
            problems.append(Issue(name, None, None, "no such file or folder", code="AS100"))
    return files, problems


def _validate(args: argparse.Namespace) -> int:
    from ..planning.checks import check_file, errors_in

    files, issues = _spec_files(args.specs)
    invalid = 0
    for name in files:
        found = check_file(name, args.overrides)
        invalid += bool(errors_in(found))
        issues += found
    if issues or args.format == "json":
        print(render(issues, args.format))
    warned = len(issues) - len(errors_in(issues))
    print(f"{len(files)} file{'s' * (len(files) != 1)} checked, {invalid} invalid"
          + (f", {warned} warning{'s' * (warned != 1)}" if warned else ""), file=sys.stderr)
    return _status(issues, args.strict)


def _schema(args: argparse.Namespace) -> int:
    from ..reading.spec import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    from ..pipeline import load
    from .show import show, show_json

    try:
        spec = load(args.spec, args.overrides)
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e.issues)
    if args.format == "json":
        print(json.dumps(show_json(spec), indent=1, ensure_ascii=False))
    else:
        print(show(spec), end="")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from .catalog import catalog, table

    entries = catalog()
    print(json.dumps(entries, indent=1) if args.format == "json" else table(entries))
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    from .diff import FORMATS as DIFF_FORMATS, diff
    from ..pipeline import plan

    try:
        d = diff(plan(args.old), plan(args.new, overrides=args.overrides), args.batch, args.dtype)
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e.issues)
    print(DIFF_FORMATS[args.format](d))
    return EXIT_INVALID if args.fail_on == "incompatible" and not d.weights.compatible else EXIT_OK


def _check_weights(args: argparse.Namespace) -> int:
    from ..pipeline import plan
    from ..building.weightsfile import WeightsFileError, check_weights_file, text

    try:
        p = plan(args.spec, overrides=args.overrides)
        report = check_weights_file(p, args.file)
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e.issues)
    except WeightsFileError as e:
        print(printable(f"{args.file}: error: {e}"), file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(report.to_dict(), indent=1) if args.format == "json" else text(report, args.file, p.spec.name))
    return EXIT_INVALID if args.strict and not report.ok else EXIT_OK


def _diagram(args: argparse.Namespace) -> int:
    from .diagram import FORMATS as DIAGRAM_FORMATS, render
    from ..pipeline import plan

    kind = "mermaid"
    if args.output:
        kind = DIAGRAM_FORMATS.get(Path(args.output).suffix.lower())
        problem = _unwritable(Path(args.output)) or (
            "" if kind else "unknown diagram format: name it .svg, .mmd or .md")
        if problem:
            print(printable(f"{args.output}: error: {problem}"), file=sys.stderr)
            return EXIT_INVALID
    try:
        text = render(plan(args.spec, overrides=args.overrides), kind, args.depth)
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e.issues)
    return _emit(text, args.output)


def _emit(text: str, output: str | None) -> int:
    """`text` to stdout, or to the file `output` whole or not at all (with the user's umask)."""
    from ..building.checkpoint import WriteError, write_bytes

    if not output or output == "-":
        print(text, end="")
        return EXIT_OK
    try:
        write_bytes(output, text.encode("utf-8"))
    except WriteError as e:  # not writable, disk full, a file-size limit, ...
        print(printable(str(e)), file=sys.stderr)  # one line: path and cause
        return EXIT_INVALID
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def _eject(args: argparse.Namespace) -> int:
    from .eject import EjectError, eject
    from ..pipeline import plan

    if args.output and (problem := _unwritable(Path(args.output))):
        print(printable(f"{args.output}: error: {problem}"), file=sys.stderr)
        return EXIT_INVALID
    try:
        text = eject(plan(args.spec, args.input, overrides=args.overrides))
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e.issues)
    except EjectError as e:
        print(printable(f"{args.spec}: error: {e}"), file=sys.stderr)
        return EXIT_INVALID
    return _emit(text, args.output)


def _export(args: argparse.Namespace) -> int:
    from ..pipeline import plan

    fmt = args.format or Path(args.output).suffix.lstrip(".")
    if fmt not in ("onnx", "pt2"):
        print(f"{args.output}: error: give --format onnx or --format pt2 (or an output ending .onnx or .pt2)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        p = plan(args.spec, args.input, overrides=args.overrides)
    except SpecError as e:
        print(e, file=sys.stderr)
        return _status(e.issues)
    if problem := _unwritable(Path(args.output)):
        print(f"{args.output}: error: {problem}", file=sys.stderr)
        return EXIT_INVALID
    require_torch("archspec export")
    from ..building.export import ExportError, export

    try:
        print(export(p, args.output, fmt, args.weights), file=sys.stderr)
    except SpecError as e:  # over --max-params
        print(e, file=sys.stderr)
        return _status(e.issues)
    except ExportError as e:
        print(f"{args.output}: error: {e}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as e:  # the write failed (a WriteError: one line), leaving nothing behind
        print(e, file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK
