"""Weights files (a state_dict plus the spec that made it) and every file archspec writes.

The suffix decides the format (`WEIGHTS_FORMATS`): `.safetensors` holds the tensors and,
in its metadata, the spec text, archspec's version, the seed and the input shape; `.pt` and
`.pth` hold `{"state_dict": ..., "archspec": <the same record as JSON>}` written by
`torch.save`, readable by `torch.load(weights_only=True)`. Either way `load_model` rebuilds
the model from the file alone, after checking the file whole and comparing its tensors with
the recorded spec's plan, before anything is allocated. Nothing is unpickled beyond what
torch's restricted loader reads. Every file archspec writes is written into a temporary
folder beside its destination and renamed into place only when complete: a failed write
leaves nothing and does not touch an existing file. With a seed, a `.safetensors` file is
byte-identical on every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from .. import limits
from ..errors import Issue, SpecError, require_torch
from ..planning.layers import Shape
from .weights import WeightsError
from .weightsfile import WeightsFileError, archspec_record, path_kind, read_header, read_pickle, unwrap


class WriteError(OSError):
    """A file could not be written; nothing was left behind. Its text is one line: path and cause."""

    def __init__(self, path: str | Path, cause: str):
        super().__init__(f"{path}: error: cannot write: {cause}")


WEIGHTS_FORMATS = {".safetensors": "safetensors", ".pt": "torch", ".pth": "torch"}  # output suffix → format


def weights_format(path: str | Path) -> str | None:
    """The format a weights output named `path` is written in; None for a suffix archspec does not write."""
    return WEIGHTS_FORMATS.get(Path(path).suffix.lower())


def unknown_weights_suffix(path: str | Path) -> str:
    """Why `path` is no name for weights (its suffix names no format archspec writes), in one line."""
    names = "name the file .safetensors, .pt or .pth"
    if str(path) == "-":
        return f"weights are binary and do not go to stdout; {names}"
    return f"unknown weights format {Path(path).suffix or '(no suffix)'!r}: {names}"


def output_problem(path: str | Path) -> str:
    """Why `path` cannot be written as an output file, found before any work; '' if it looks fine.

    Only a regular file is ever replaced: a folder, a device (`/dev/null`), a FIFO or a socket
    at `path` is refused, and so is a symbolic link, whatever it points to (a link planted in
    an output folder must not redirect a write; give the link's target instead). `-` is
    stdout for text outputs; `atomic_output` itself, which binary outputs use, refuses it."""
    if str(path) == "-":
        return ""
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "" if os.path.isdir(path.parent) else f"folder {str(path.parent)!r} does not exist"
    except OSError:
        return ""  # it cannot be looked at (permissions): the write will say why
    if stat.S_ISLNK(mode):
        return "a symbolic link is in the way: archspec replaces only regular files; give the link's target"
    if stat.S_ISDIR(mode):
        return "this is a folder; give a file name such as model.safetensors"
    if not stat.S_ISREG(mode):
        return (f"this is a {_kind(mode)}, not a regular file: archspec replaces only regular files")
    return ""


def _kind(mode: int) -> str:
    return ("device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "FIFO" if stat.S_ISFIFO(mode)
            else "socket" if stat.S_ISSOCK(mode) else "special file")


@contextlib.contextmanager
def atomic_output(path: str | Path, companions: tuple[str, ...] = ()) -> Iterator[Path]:
    """A temporary path to write `path` at; it takes its name when the block ends without error.

    `companions` are suffixes of files the writer puts beside it (ONNX's `.data`): they move
    into place too, before the main file. Files are created by plain `open`, so they get the
    user's umask. Any OSError becomes a one-line WriteError.

    What is at `path` already: a regular file is replaced; anything else (a symbolic link, a
    folder, a device such as /dev/null, a FIFO, a socket) is refused with a WriteError before
    anything is written, and checked again just before the rename (see `output_problem`).
    `-` is refused: binary output (weights, ONNX, pt2) never goes to stdout, where it would
    mix with the report; text outputs go there through `write_bytes`.
    """
    if str(path) == "-":
        raise WriteError(path, "binary output does not go to stdout; give a file name")
    path = Path(path)
    targets = [path.with_name(path.name + s) for s in companions] + [path]
    for target in targets:
        if problem := output_problem(target):
            raise WriteError(target, problem)
    try:
        folder = tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise WriteError(path, _cause(e, path)) from None
    try:
        tmp = Path(folder) / path.name
        yield tmp
        for target in targets:
            written = Path(folder) / target.name
            if written.exists():
                with open(written, "rb") as f:
                    os.fsync(f.fileno())  # on disk before it takes the name: a crash leaves old or new
                if problem := output_problem(target):  # appeared while we wrote
                    raise WriteError(target, problem)
                os.replace(written, target)
    except OSError as e:
        if isinstance(e, WriteError):
            raise
        raise WriteError(path, _cause(e, path)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cause(e: OSError, path: Path) -> str:
    if isinstance(e, FileNotFoundError) and not os.path.isdir(path.parent):
        return f"folder {str(path.parent)!r} does not exist"
    return e.strerror or str(e)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically (to stdout for `-`: text outputs). Python writes it (not
    torch's or safetensors' native writers), so a full disk or a file size limit is an OSError,
    never an abort."""
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def spec_text(spec) -> str:
    """The spec as YAML text that rebuilds it alone: every value written out, nothing to resolve."""
    import yaml

    tree = spec.model_dump(mode="json", exclude_unset=True)
    for key in ("extends", "scale", "abstract"):  # already applied: the Spec is the resolved one
        tree.pop(key, None)
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def save_weights(model, path: str | Path, spec_text: str, seed: int | None, input_shape: Shape,
                 fused: bool = False) -> None:
    """Write `model`'s state_dict and the record that rebuilds it, in the format `path`'s suffix names."""
    require_torch("writing weights")
    from ..version import version

    kind = weights_format(path)
    if kind is None:
        raise WriteError(path, unknown_weights_suffix(path))
    record = {"format": "archspec", "archspec_version": version(), "spec": spec_text,
              "seed": json.dumps(seed), "input": json.dumps(list(input_shape))}
    if fused:
        record["fused"] = "true"
    # One key, sorted: safetensors writes its metadata map in a random order, so under one key
    # the file is byte-identical from run to run.
    text = json.dumps(record, ensure_ascii=False, sort_keys=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if kind == "safetensors":
        from safetensors.torch import save

        write_bytes(path, save(tensors, metadata={"archspec": text}))
        return
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"state_dict": tensors, "archspec": text}, buffer)
    write_bytes(path, buffer.getvalue())


def built_plan(model):
    """The Plan a model was built from (`archspec.build` records it), looking inside the
    wrappers that training adds (DistributedDataParallel, FSDP, torch.compile); None if none."""
    # The wrapped module first: torch.compile's wrapper forwards attribute reads, plan included.
    for inner in (getattr(model, "_orig_mod", None), getattr(model, "module", None), model):
        if inner is not None and getattr(inner, "archspec_plan", None) is not None:
            return inner, inner.archspec_plan
    return model, None


def save(model, path: str | Path) -> None:
    """Write a model that archspec built, trained or not, with its spec and input shape inside,
    so that `load_model(path)` rebuilds it from the file alone: `.safetensors`, or `.pt`/`.pth`
    (torch.save of `{"state_dict": ..., "archspec": ...}`). A model folded by `archspec.fuse`
    is recorded as fused, and `load_model` rebuilds it fused. Raises WriteError (an OSError,
    one line) if the file cannot be written or its suffix is none of those, leaving nothing behind."""
    inner, p = built_plan(model)
    if p is None:
        raise TypeError(f"archspec.save: this {type(model).__name__} was not built by archspec.build or "
                        "archspec.load_model, so it carries no spec; save its state_dict with "
                        "safetensors.torch.save_file and load it with archspec.load_model(path, spec=...)")
    save_weights(inner, path, spec_text(p.spec), None, p.input_shape, fused=_is_fused(inner, p))


def _is_fused(model, p) -> bool:
    """Whether `archspec.fuse` folded `model`'s norms into their convs (they are Identity then)."""
    from torch import nn

    from .fuse import conv_norm_pairs

    return any(isinstance(model.get_submodule(norm), nn.Identity) for _, norm in conv_norm_pairs(p.root))


def read_metadata(path: str | Path) -> dict:
    """What archspec recorded in a `.safetensors` weights file ({} if nothing), read without torch.
    A damaged or hostile file raises WeightsFileError."""
    return archspec_record(read_header(path).metadata)


def load_model(path: str | Path, spec=None, max_params: int | None = None):
    """Rebuild a model and load its weights from a weights file (`.safetensors`, `.pt`, `.pth`).

    Without `spec`, the file alone is enough (written by `archspec.save` or `build -o`): its
    spec is checked like any spec (SpecError) and may not use `extends`. With `spec` (a path,
    `Spec` or `Plan`), the file is any state_dict, in archspec's, torchvision's or timm's names,
    loaded as strictly as `load_weights` does. Before anything is allocated the file is checked
    whole and its tensors (names, shapes) are compared with the plan's: a damaged file or weights
    of another network raise WeightsError (WeightsFileError for the file itself), in a few short
    lines. A network over `max_params` (default `limits.MAX_BUILD_PARAMS`) is refused before it
    is built. Without PyTorch installed it raises TorchMissing.
    """
    require_torch("archspec.load_model")
    from ..pipeline import build, plan
    from ..planning.plan import check_params
    from .weights import check, load_weights, misfit

    path = Path(path)
    record, shapes = _contents(path)
    recorded = _recorded_plan(path, record) if record and spec is None else _recorded_name(path, record)
    if spec is None and recorded is None:
        raise WeightsError(f"{path}: not an archspec weights file (no spec recorded in it); "
                           "give the spec too: archspec.load_model(path, spec=...)")
    p = recorded if spec is None else plan(spec)
    fused = spec is None and record.get("fused") == "true"
    check_params(p, limits.MAX_BUILD_PARAMS if max_params is None else max_params)
    report = check(shapes, _planned_tensors(p, fused))
    if not report.ok:
        name = recorded.spec.name if recorded is not None else None
        raise WeightsError(f"{path}: " + misfit(report, p.spec.name, name if name != p.spec.name else None))
    model = build(p, max_params=max_params, fuse=fused)
    tensors = _tensors(path)
    if spec is None:
        model.load_state_dict(tensors)
    else:
        load_weights(model, tensors)
    return model


def _contents(path: Path) -> tuple[dict, dict[str, Shape]]:
    """The record (or {}) and every tensor's shape, from the header alone or, for `.pt`/`.pth`,
    from torch's safe loader onto the meta device: no tensor data is read."""
    try:
        if path_kind(path) == ".safetensors":
            header = read_header(path)
            return archspec_record(header.metadata), {n: shape for n, (_, shape) in header.tensors.items()}
        import torch

        loaded = read_pickle(path)
        record = archspec_record({"archspec": loaded.get("archspec")}) if isinstance(loaded, dict) else {}
        return record, {k: tuple(v.shape) for k, v in unwrap(loaded, torch.Tensor).items()}
    except WeightsFileError as e:
        raise WeightsFileError(f"{path}: {e}") from None


def _recorded_plan(path: Path, record: dict):
    """The plan of the spec recorded in a weights file: untrusted text, so no `extends`."""
    from ..pipeline import plan
    from ..reading.source import MAX_FILE_BYTES, parse_source

    where = f"{path}[spec]"
    text = record.get("spec")
    if not isinstance(text, str) or len(text) > MAX_FILE_BYTES:
        raise WeightsFileError(f"{path}: damaged: the spec recorded in it is not a spec's text")
    source = parse_source(text, where)
    if isinstance(source.tree, dict) and "extends" in source.tree:
        line, column = _position(source)
        raise SpecError([Issue(where, line, column, "a spec recorded in a weights file cannot use extends: "
                               "it may read only what the file holds", code="AS707")])
    return plan(source, _input_shape(path, record))


def _recorded_name(path: Path, record: dict):
    """The plan recorded in a file that is loaded with a spec given: only its name is shown, so
    a record that does not plan is no error here."""
    try:
        return _recorded_plan(path, record) if record else None
    except (SpecError, WeightsError):
        return None


def _position(source) -> tuple[int | None, int | None]:
    origin = source.key_positions.get(("extends",))
    return (getattr(origin, "line", None), getattr(origin, "column", None)) if origin else (None, None)


def _planned_tensors(p, fused: bool) -> dict:
    """The tensors of the model `p` builds (fused: as `archspec.fuse` leaves them), without allocating."""
    from ..planning.tensors import Tensor, state_dict_of

    if not fused:
        return state_dict_of(p)
    from ..pipeline import build

    model = build(p, device="meta", fuse=True)
    parameters = {name for name, _ in model.named_parameters()}
    return {k: Tensor(tuple(v.shape), k in parameters) for k, v in model.state_dict().items()}


def _tensors(path: Path) -> dict:
    """The file's tensors, read for real (after every check): safetensors, or torch's safe loader, mapped."""
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as e:  # changed since it was checked, or unreadable
            raise WeightsFileError(f"{path}: cannot read it: {e}") from None
    import torch

    try:  # mapped where torch can (its zip format), so the tensors are read as they are used
        return unwrap(read_pickle(path, map_location="cpu", mmap=zipfile.is_zipfile(path)), torch.Tensor)
    except WeightsFileError as e:
        raise WeightsFileError(f"{path}: {e}") from None


def _input_shape(path: str | Path, meta: dict) -> Shape:
    try:
        shape = json.loads(meta.get("input", ""))
    except (TypeError, ValueError, RecursionError):
        shape = None
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(d) is int and 1 <= d <= 2**20 for d in shape)):
        raise WeightsFileError(f"{path}: damaged: the input shape recorded in it is not C,H,W")
    return tuple(shape)
