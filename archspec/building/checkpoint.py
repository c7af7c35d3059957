"""Weights files: a safetensors state_dict plus the spec that made it.

The file records the spec text, archspec's version, the seed and the input
shape, so `load_model` can rebuild the model from the file alone. Nothing is
unpickled. Every file archspec writes is written into a temporary folder
beside its destination and renamed into place only when complete: a failed
write leaves nothing and does not touch an existing file. With a seed, the
file is byte-identical on every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import require_torch
from ..planning.nodes import Shape


class WriteError(OSError):
    """A file could not be written; nothing was left behind. Its text is one line: path and cause."""

    def __init__(self, path: str | Path, cause: str):
        super().__init__(f"{path}: error: cannot write: {cause}")


@contextlib.contextmanager
def atomic_output(path: str | Path, companions: tuple[str, ...] = ()) -> Iterator[Path]:
    """A temporary path to write `path` at; it takes its name when the block ends without error.

    `companions` are suffixes of files the writer puts beside it (ONNX's `.data`): they move
    into place too, before the main file. Files are created by plain `open`, so they get the
    user's umask. Any OSError becomes a one-line WriteError.
    """
    path = Path(path)
    targets = [path.with_name(path.name + s) for s in companions] + [path]
    for target in targets:
        if os.path.isdir(target):
            raise WriteError(target, "a folder is in the way; give a file name")
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
                os.replace(written, target)
    except OSError as e:
        raise WriteError(path, _cause(e, path)) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _cause(e: OSError, path: Path) -> str:
    if isinstance(e, FileNotFoundError) and not os.path.isdir(path.parent):
        return f"folder {str(path.parent)!r} does not exist"
    return e.strerror or str(e)


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` atomically. Python writes it (not torch's or safetensors' native
    writers), so a full disk or a file size limit is an OSError, never an abort."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def spec_text(spec) -> str:
    """The spec as YAML text that rebuilds it alone: every value written out, nothing to resolve."""
    import yaml

    tree = spec.model_dump(mode="json", exclude_unset=True)
    for key in ("extends", "scale", "abstract"):  # already applied: the Spec is the resolved one
        tree.pop(key, None)
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)


def save_weights(model, path: str | Path, spec_text: str, seed: int | None, input_shape: Shape) -> None:
    require_torch("writing weights")
    from safetensors.torch import save

    from ..version import version

    record = {"format": "archspec", "archspec_version": version(), "spec": spec_text,
              "seed": json.dumps(seed), "input": json.dumps(list(input_shape))}
    # safetensors writes its metadata map in a random order: under one key, the file is
    # byte-identical from run to run.
    metadata = {"archspec": json.dumps(record, ensure_ascii=False, sort_keys=True)}
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    write_bytes(path, save(tensors, metadata=metadata))


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
    so that `load_model(path)` rebuilds it from the file alone. Raises WriteError (an OSError,
    one line) if the file cannot be written, leaving nothing behind."""
    inner, p = built_plan(model)
    if p is None:
        raise TypeError(f"archspec.save: this {type(model).__name__} was not built by archspec.build or "
                        "archspec.load_model, so it carries no spec; save its state_dict with "
                        "safetensors.torch.save_file and load it with archspec.load_model(path, spec=...)")
    save_weights(inner, path, spec_text(p.spec), None, p.input_shape)


def read_metadata(path: str | Path) -> dict:
    """What archspec recorded in a weights file ({} if nothing), read without torch:
    a safetensors file starts with the length of its JSON header (8 bytes, little-endian)."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if not 0 < size <= 100_000_000:
            raise ValueError(f"{path}: not a safetensors file")
        try:
            header = json.loads(f.read(size))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError(f"{path}: not a safetensors file (its header is not JSON)") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    try:
        record = json.loads(meta["archspec"])
    except (TypeError, KeyError, json.JSONDecodeError):
        return {}  # not written by archspec
    return record if isinstance(record, dict) else {}


def load_model(path: str | Path, spec=None, max_params: int | None = None):
    """Rebuild a model and load its weights from a safetensors file.

    Without `spec`, the file alone is enough (written by `archspec.save` or `build -o`):
    its spec is checked like any spec (SpecError). With `spec` (a path, `Spec` or `Plan`),
    the file is any state_dict saved with safetensors, in archspec's, torchvision's or timm's
    names, loaded as strictly as `load_weights` does (WeightsError). A network over
    `max_params` (default `limits.MAX_BUILD_PARAMS`) is refused before it is built.
    Nothing is unpickled. Without PyTorch installed it raises TorchMissing.
    """
    require_torch("archspec.load_model")
    from safetensors.torch import load_file

    from ..pipeline import build, plan

    meta = read_metadata(path)  # also refuses a file that is not safetensors (a pickle) unread
    if spec is None:
        from ..reading.source import parse_source

        if meta.get("format") != "archspec" or not isinstance(meta.get("spec"), str):
            raise ValueError(f"{path}: not an archspec weights file (no spec recorded in it); "
                             "give the spec too: archspec.load_model(path, spec=...)")
        source = parse_source(meta["spec"], f"{path}[spec]")
        model = build(source, input_shape=_input_shape(path, meta), max_params=max_params)
        model.load_state_dict(load_file(str(path)))
        return model
    from .weights import load_weights

    model = build(plan(spec), max_params=max_params)
    load_weights(model, load_file(str(path)))
    return model


def _input_shape(path: str | Path, meta: dict) -> Shape:
    try:
        shape = json.loads(meta.get("input", ""))
    except (TypeError, json.JSONDecodeError):
        shape = None
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(d) is int and d >= 1 for d in shape)):
        raise ValueError(f"{path}: the input shape recorded in it is not C,H,W")
    return tuple(shape)
