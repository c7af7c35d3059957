"""`archspec export`: an ONNX file or a torch.export program, checked against eager before
it is written.

Batch, height and width are exported as dynamic where the network allows it
(`Dim.AUTO`: a flatten head fixes the height and width, for instance). The
artefact is then run, as it will be run (onnxruntime, or the program loaded
back from its bytes), at two input sizes and compared with the eager model;
only a match is written, atomically, so a failed export leaves nothing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .checkpoint import atomic_output
from ..planning.nodes import Shape
from ..units import dims
from ..planning.plan import Plan

TOLERANCE = 1e-4  # max |Δ| allowed, relative to max |y| of the eager output
_ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")


class ExportError(Exception):
    """The export failed or did not match eager; nothing was written. One line."""


@dataclass(frozen=True)
class Check:
    """One verification run: the input shape, the largest difference and the output's scale."""

    shape: Shape
    delta: float
    scale: float


@dataclass(frozen=True)
class Exported:
    path: Path
    files: list[Path]
    dynamic: list[str]  # which of "batch", "height", "width" the artefact accepts at any size
    checks: list[Check]

    def __str__(self) -> str:
        dynamic = ", ".join(self.dynamic) if self.dynamic else "none"
        checks = "; ".join(f"{dims(c.shape)} max |Δ| {c.delta:.1e} (max |y| {c.scale:.3g})" for c in self.checks)
        return f"wrote {' + '.join(map(str, self.files))}: dynamic {dynamic}; matches eager at {checks}"


def missing_onnx_packages() -> list[str]:
    import importlib

    missing = []
    for name in _ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def export(p: Plan, path: str | Path, kind: str, weights: str | Path | None = None,
           progress: Callable[[str], None] | None = None) -> Exported:
    """Export the model of plan `p` (initial weights, or those in `weights`) to `path` as `kind`
    ("onnx" or "pt2"), verified. `progress`, if given, is told each step as it starts
    ("building the model", "exporting to onnx", "verifying against eager"): an export takes seconds."""
    say = progress or (lambda step: None)
    if kind == "onnx" and (missing := missing_onnx_packages()):
        raise ExportError(f"--format onnx needs {', '.join(missing)}: pip install 'archspec-nn[export]'")
    import torch

    from .checkpoint import load_model
    from ..pipeline import build
    from .weights import WeightsError

    say("loading the weights" if weights else "building the model")
    try:
        model = (load_model(weights, spec=p) if weights else build(p, seed=0)).eval()
    except WeightsError as e:  # damaged, or not this network's weights: the message names the file, in short lines
        raise ExportError(str(e)) from None
    except OSError as e:  # missing, unreadable
        raise ExportError(f"{weights}: {e.strerror or e}") from None
    except ValueError as e:  # not a safetensors file (the message names it)
        raise ExportError(str(e)) from None
    example = torch.randn(2, *p.input_shape, generator=torch.Generator().manual_seed(0))
    auto = torch.export.Dim.AUTO  # dynamic where the network allows, fixed where it does not
    dims = ({0: auto, 2: auto, 3: auto},)
    with _quiet(), torch.no_grad():
        say(f"exporting to {kind}")
        try:
            if kind == "onnx":
                program = torch.onnx.export(model, (example,), dynamo=True, dynamic_shapes=dims, verbose=False)
            else:
                program = torch.export.export(model, (example,), dynamic_shapes=dims)
        except Exception as e:  # an operator the exporter does not know, ...
            raise ExportError(f"{kind} export failed: {_first_line(e)}") from None
        path = Path(path)
        data_file = path.with_name(path.name + ".data")  # ONNX keeps the weights beside the graph
        with atomic_output(path, companions=(".data",) if kind == "onnx" else ()) as tmp:
            if kind == "onnx":
                program.save(str(tmp), external_data=True)
                run, dynamic = _onnx_runner(tmp)
            else:
                data = io.BytesIO()
                torch.export.save(program, data)  # into memory: torch's file writer aborts on a full disk
                loaded = torch.export.load(io.BytesIO(data.getvalue())).module()
                run, dynamic = loaded, _dynamic_dims(program)
            say("verifying against eager")
            shapes, dynamic = _check_shapes(model, p.input_shape, dynamic)
            checks = [_check(model, run, shape) for shape in shapes]
            if kind == "pt2":
                tmp.write_bytes(data.getvalue())
            files = [path] + ([data_file] if (tmp.parent / data_file.name).exists() else [])
    return Exported(path, files, dynamic, checks)


def _check_shapes(model, input_shape: Shape, dynamic: list[str]) -> tuple[list[Shape], list[str]]:
    """The example's shape and a second one that differs in every dynamic dimension (height and
    width three quarters of the spec's); and the dynamic dimensions, less height and width where
    the eager model itself refuses another size (a flatten head)."""
    import torch

    c, h, w = input_shape
    batch = 3 if "batch" in dynamic else 2
    smaller = (batch, c, h - h // 4 if "height" in dynamic else h, w - w // 4 if "width" in dynamic else w)
    try:
        model(torch.zeros(smaller))
    except RuntimeError:
        smaller, dynamic = (batch, c, h, w), [d for d in dynamic if d == "batch"]
    return [(2, c, h, w), smaller], dynamic


def _check(model, run, shape: Shape) -> Check:
    import torch

    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    expected, got = _as_list(model(x)), _as_list(run(x))
    if len(expected) != len(got) or any(e.shape != g.shape for e, g in zip(expected, got)):
        raise ExportError(f"the exported model's outputs at {dims(shape)} have other shapes than eager's: "
                          f"{[tuple(g.shape) for g in got]} instead of {[tuple(e.shape) for e in expected]}")
    delta = max((e - g).abs().max().item() for e, g in zip(expected, got))
    scale = max(e.abs().max().item() for e in expected)
    if not delta <= TOLERANCE * scale:  # `not <=`: a NaN fails too
        raise ExportError(f"the exported model differs from eager at {dims(shape)}: max |Δ| {delta:.3g} > "
                          f"{TOLERANCE:g} × max |y| {scale:.3g}")
    return Check(shape, delta, scale)


def _as_list(y) -> list:
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _onnx_runner(path: Path):
    """onnxruntime's session on `path` as a function of a tensor, and the dynamic input dims."""
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    dynamic = [name for name, d in zip(("batch", None, "height", "width"), given.shape) if name and not isinstance(d, int)]

    def run(x):
        return [torch.from_numpy(y) for y in session.run(None, {given.name: x.numpy()})]

    return run, dynamic


def _dynamic_dims(program) -> list[str]:
    import torch

    (given,) = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in program.graph_signature.user_inputs]
    return [name for name, d in zip(("batch", None, "height", "width"), given.meta["val"].shape)
            if name and isinstance(d, torch.SymInt)]


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


@contextlib.contextmanager
def _quiet():
    """The exporters' progress lines, warnings and logs are not the user's concern here."""
    names = ("torch.onnx", "torch.export", "torch._export", "torch.fx.experimental.symbolic_shapes", "onnxscript")
    loggers = [logging.getLogger(name) for name in names]  # symbolic_shapes: warnings with tracebacks of sympy's
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
