"""Weights files: a safetensors state_dict plus the spec that made it.

The file records the spec text, archspec's version, the seed and the input
shape, so `load_model` can rebuild the model from the file alone. Nothing is
unpickled. Writes go to a temporary file renamed into place, so a failed
write never leaves a partial file or touches an existing one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .layers import Shape


def save_weights(model, path: str | Path, spec_text: str, seed: int | None, input_shape: Shape) -> None:
    from safetensors.torch import save_file

    from . import __version__

    metadata = {"format": "archspec", "archspec_version": __version__, "spec": spec_text,
                "seed": json.dumps(seed), "input": json.dumps(list(input_shape))}
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, tmp, metadata=metadata)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # on disk before it takes the name: a crash leaves the old file or the new one
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_metadata(path: str | Path) -> dict:
    """The metadata of a weights file, read without torch: a safetensors file
    starts with the length of its JSON header (8 bytes, little-endian)."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if not 0 < size <= 100_000_000:
            raise ValueError(f"{path}: not a safetensors file")
        header = json.loads(f.read(size))
    return header.get("__metadata__") or {}


def load_model(path: str | Path):
    """Rebuild the model stored in a weights file written by `archspec build -o`."""
    from safetensors.torch import load_file

    from . import build
    from .plan import plan
    from .source import parse_source
    from .spec import check_source

    meta = read_metadata(path)
    if meta.get("format") != "archspec":
        raise ValueError(f"{path}: not an archspec weights file (no spec recorded in it)")
    spec = check_source(parse_source(meta["spec"], f"{path}[spec]"))
    model = build(plan(spec, tuple(json.loads(meta["input"]))))
    model.load_state_dict(load_file(str(path)))
    return model
