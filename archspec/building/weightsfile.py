"""The tensor names and shapes in a weights file, for `archspec check-weights`.

- `.safetensors` (archspec's own files too): the JSON header alone — no torch, no tensor
  data read.
- `.pt`, `.pth`, `.bin`, `.ckpt`: `torch.load(weights_only=True)`, torch's restricted
  unpickler, which builds tensors, numbers, strings and containers and refuses anything
  else (a class, a function, `os.system`) before calling it; tensors land on the meta
  device, so no memory is allocated for them. A training checkpoint that wraps its
  state_dict (`{"state_dict": ...}`, `{"model": ...}`) is unwrapped.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import warnings
from pathlib import Path

from ..errors import printable, require_torch
from ..planning.tensors import Shape, state_dict_of
from .weights import WeightsReport, check

MAX_HEADER_BYTES = 100_000_000  # safetensors' own cap
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
WRAPPERS = ("state_dict", "model", "model_state_dict", "module")  # where training checkpoints keep the weights


class WeightsFileError(ValueError):
    """A file that cannot be read as weights; the message says why, in one line."""


def read_shapes(path: str | Path) -> dict[str, Shape]:
    """The name and shape of every tensor in the weights file at `path`, in file order."""
    path = Path(path)
    if path.is_dir():
        raise WeightsFileError("this is a folder, not a weights file")
    if not path.exists():
        raise WeightsFileError("no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            return _safetensors(path)
        if suffix in PICKLE_SUFFIXES:
            return _pickled(path)
    except OSError as e:
        raise WeightsFileError(f"cannot read it: {e.strerror or e}") from None
    raise WeightsFileError(f"unknown weights file type {suffix or '(no suffix)'!r}: "
                           f"use .safetensors, {', '.join(PICKLE_SUFFIXES)}")


def _safetensors(path: Path) -> dict[str, Shape]:
    """8 bytes of header length (little-endian), a JSON header, then the tensors' bytes."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        length = int.from_bytes(f.read(8), "little")
        if size < 8 or not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
            raise WeightsFileError("not a safetensors file (no header)")
        try:
            header = json.loads(f.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise WeightsFileError("not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise WeightsFileError("not a safetensors file (its header is not a JSON object)")
    data = size - 8 - length
    shapes = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        shape = entry.get("shape") if isinstance(entry, dict) else None
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise WeightsFileError(f"not a safetensors file (tensor {name!r} has no valid shape)")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= data):
            raise WeightsFileError(f"truncated or damaged: tensor {name!r} lies outside the file's {data:,} data bytes")
        shapes[name] = tuple(shape)
    return shapes


def _pickled(path: Path) -> dict[str, Shape]:
    require_torch(f"check-weights on a {path.suffix} file")
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about pickle protocols it reads anyway
        try:
            loaded = torch.load(path, map_location="meta", weights_only=True)
        except pickle.UnpicklingError as e:
            found = re.search(r"GLOBAL ([\w.]+)", str(e))
            if not found:
                raise WeightsFileError("not a PyTorch weights file: torch's safe loader cannot read it") from None
            raise WeightsFileError(f"refused: it refers to {found[1]}, not only tensors, and unpickling it could "
                                   "run code — save the weights as .safetensors, or as a plain state_dict") from None
        except Exception as e:  # torch raises many kinds (KeyError, RuntimeError, EOFError) for a file it cannot parse
            raise WeightsFileError(f"not a PyTorch weights file: torch.load cannot read it ({type(e).__name__})") from None
    return _state_dict_shapes(loaded, torch.Tensor)


def _state_dict_shapes(loaded: object, tensor_type: type) -> dict[str, Shape]:
    """The tensors of a state_dict, or of the state_dict a checkpoint wraps."""
    if not isinstance(loaded, dict):
        raise WeightsFileError(f"holds a {type(loaded).__name__}, not a state_dict (a mapping of names to tensors)")
    for key in WRAPPERS:
        if isinstance(loaded.get(key), dict) and not any(isinstance(v, tensor_type) for v in loaded.values()):
            loaded = loaded[key]
            break
    shapes = {str(k): tuple(v.shape) for k, v in loaded.items() if isinstance(v, tensor_type)}
    if not shapes:
        raise WeightsFileError("holds no tensors at the top level"
                               + (f" (keys: {', '.join(map(str, list(loaded)[:8]))})" if loaded else ""))
    return shapes


def check_file(plan, path: str | Path) -> WeightsReport:
    """What loading the weights file at `path` into the model of `plan` would do, without building it."""
    return check(read_shapes(path), state_dict_of(plan))


def text(report: WeightsReport, file: str, name: str, shown: int = 10) -> str:
    """The report for a person: counts, the share of parameters that would load, the first problems."""
    r = report
    lines = [printable(f"{file}: {len(r.fits) + len(r.unexpected) + len(r.duplicates) + len(r.mismatched)} tensors, "
                       f"{r.convention} names"),
             f"loads {len(r.fits)} of {name}'s {r.tensors} tensors: {r.params_loaded:,} of {r.params:,} parameters "
             f"({_percent(r.params_loaded, r.params)})"]
    if r.ok:
        return "\n".join(lines + ["everything fits: a strict load succeeds"])
    lines.append(f"{len(r.missing)} missing, {len(r.unexpected)} unexpected, {len(r.mismatched)} of the wrong shape"
                 + (f", {len(r.duplicates)} duplicated" if r.duplicates else ""))
    problems = r.problems()
    lines.append("first differences:" if len(problems) > shown else "differences:")
    lines += [printable(f"  {p}") for p in problems[:shown]]
    if len(problems) > shown:
        lines.append(f"  … and {len(problems) - shown} more (--format json lists all)")
    return "\n".join(lines)


def _percent(part: int, whole: int) -> str:
    """Rounded down: 99.96% of the parameters is not 100%."""
    return f"{math.floor(1000 * part / whole) / 10 if whole else 100:g}%"
