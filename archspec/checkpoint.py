"""Weights files: a safetensors state_dict plus the spec that made it.

The file records the spec text, archspec's version, the seed and the input
shape, so `load_model` can rebuild the model from the file alone. Nothing is
unpickled. Writes go to a temporary file renamed into place, so a failed
write never leaves a partial file or touches an existing one. With a seed, the
file is byte-identical on every run.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import require_torch
from .layers import Shape
from .writing import write_atomically


def save_weights(model, path: str | Path, spec_text: str, seed: int | None, input_shape: Shape) -> None:
    require_torch("writing weights")
    from safetensors.torch import save_file

    from .version import version

    record = {"format": "archspec", "archspec_version": version(), "spec": spec_text,
              "seed": json.dumps(seed), "input": json.dumps(list(input_shape))}
    # safetensors writes its metadata map in a random order: under one key, the file is
    # byte-identical from run to run.
    metadata = {"archspec": json.dumps(record, ensure_ascii=False, sort_keys=True)}
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    write_atomically(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


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


def load_model(path: str | Path, max_params: int | None = None):
    """Rebuild the model stored in a weights file written by `archspec build -o`.

    The file alone is enough: its spec is checked like any spec (SpecError), and a
    network over `max_params` (default `limits.MAX_BUILD_PARAMS`) is refused before
    it is built. Nothing is unpickled. Without PyTorch installed it raises TorchMissing.
    """
    require_torch("archspec.load_model")
    from safetensors.torch import load_file

    from .pipeline import build
    from .source import parse_source

    meta = read_metadata(path)
    if meta.get("format") != "archspec" or not isinstance(meta.get("spec"), str):
        raise ValueError(f"{path}: not an archspec weights file (no spec recorded in it)")
    source = parse_source(meta["spec"], f"{path}[spec]")
    model = build(source, input_shape=_input_shape(path, meta), max_params=max_params)
    model.load_state_dict(load_file(str(path)))
    return model


def _input_shape(path: str | Path, meta: dict) -> Shape:
    try:
        shape = json.loads(meta.get("input", ""))
    except (TypeError, json.JSONDecodeError):
        shape = None
    if not (isinstance(shape, list) and len(shape) == 3 and all(type(d) is int and d >= 1 for d in shape)):
        raise ValueError(f"{path}: the input shape recorded in it is not C,H,W")
    return tuple(shape)
