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
from dataclasses import dataclass
from pathlib import Path

from .. import limits
from ..errors import printable, require_torch
from ..planning.tensors import Shape, state_dict_of
from .weights import WeightsError, WeightsReport, check

PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
WRAPPERS = ("state_dict", "model", "model_state_dict", "module")  # where training checkpoints keep the weights
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


class WeightsFileError(WeightsError):
    """A file that cannot be read as weights (damaged, hostile, not weights); the message says why, in one line."""


@dataclass(frozen=True)
class Header:
    """A safetensors header, checked whole: each tensor's dtype and shape, and the metadata."""

    tensors: dict[str, tuple[str, Shape]]  # name → (dtype, shape), in file order
    metadata: dict[str, str]


def read_shapes(path: str | Path) -> dict[str, Shape]:
    """The name and shape of every tensor in the weights file at `path`, in file order."""
    path = Path(path)
    if path_kind(path) == ".safetensors":
        return {name: shape for name, (_, shape) in read_header(path).tensors.items()}
    return _state_dict_shapes(read_pickle(path), _torch_tensor())


def path_kind(path: Path) -> str:
    """`.safetensors` or a pickle suffix; a WeightsFileError for anything that is no weights file."""
    try:
        if path.is_dir():
            raise WeightsFileError("this is a folder, not a weights file")
        if not path.exists():
            raise WeightsFileError("no such file")
        if not path.is_file():
            raise WeightsFileError("not a regular file")
    except OSError as e:
        raise WeightsFileError(f"cannot read it: {e.strerror or e}") from None
    suffix = path.suffix.lower()
    if suffix != ".safetensors" and suffix not in PICKLE_SUFFIXES:
        raise WeightsFileError(f"unknown weights file type {suffix or '(no suffix)'!r}: "
                               f"use .safetensors, {', '.join(PICKLE_SUFFIXES)}")
    return suffix


def read_header(path: str | Path) -> Header:
    """The header of the safetensors file at `path`, checked before anything trusts it: 8 bytes
    of length (little-endian), a JSON object of bounded size, depth and numbers, known dtypes,
    and tensors whose byte ranges tile the data that follows exactly, each the size its dtype
    and shape say. No torch; no tensor data read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            length = int.from_bytes(f.read(8), "little")
            if size < 8 or not 2 <= length <= size - 8:
                raise WeightsFileError("not a safetensors file (no header)")
            if length > limits.MAX_HEADER_BYTES:
                raise WeightsFileError(f"refused: its header is {length:,} bytes (at most {limits.MAX_HEADER_BYTES:,})")
            raw = f.read(length)
    except OSError as e:
        raise WeightsFileError(f"cannot read it: {e.strerror or e}") from None
    header = _read_json(raw)
    metadata = header.pop("__metadata__", {})
    if not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise WeightsFileError("damaged: its __metadata__ is not a map of strings")
    if len(header) > limits.MAX_TENSORS:
        raise WeightsFileError(f"refused: it names {len(header):,} tensors (at most {limits.MAX_TENSORS:,})")
    tensors, ranges = {}, []
    for name, entry in header.items():
        tensors[name], span = _entry(name, entry)
        ranges.append((span, name))
    _tiles(ranges, size - 8 - length)
    return Header(tensors, metadata)


def _read_json(raw: bytes) -> dict:
    def no_constants(name: str):
        raise ValueError(f"{name} in the header")

    def bounded_int(text: str) -> int:
        if len(text) > limits.MAX_HEADER_DIGITS:
            raise ValueError(f"a number of more than {limits.MAX_HEADER_DIGITS} digits")
        return int(text)

    def unique(pairs: list) -> dict:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("a name given twice")
        return dict(pairs)

    try:
        header = json.loads(raw, parse_int=bounded_int, parse_float=lambda t: no_constants("a fraction"),
                            parse_constant=no_constants, object_pairs_hook=unique)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WeightsFileError("not a safetensors file (its header is not JSON)") from None
    except RecursionError:  # the C parser's own depth guard: a valid header is 3 levels deep
        raise WeightsFileError("damaged: its header nests too deeply") from None
    except ValueError as e:
        raise WeightsFileError(f"damaged: {e}") from None
    if not isinstance(header, dict):
        raise WeightsFileError("not a safetensors file (its header is not a JSON object)")
    return header


def _entry(name: str, entry: object) -> tuple[tuple[str, Shape], tuple[int, int]]:
    """(dtype, shape) and the byte range of one tensor's entry."""
    what = printable(f"tensor {name[:80]!r}")
    if not (isinstance(entry, dict) and set(entry) == {"dtype", "shape", "data_offsets"}):
        raise WeightsFileError(f"damaged: {what} is not described by dtype, shape and data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_BYTES:
        raise WeightsFileError(f"damaged: {what} has an unknown dtype {printable(repr(dtype)[:40])}")
    if not (isinstance(shape, list) and len(shape) <= 8 and all(type(d) is int and d >= 0 for d in shape)):
        raise WeightsFileError(f"not a safetensors file ({what} has no valid shape)")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int and o >= 0 for o in offsets)
            and offsets[0] <= offsets[1]):
        raise WeightsFileError(f"damaged: {what} has no valid data_offsets")
    needed = DTYPE_BYTES[dtype] * math.prod(shape)
    if offsets[1] - offsets[0] != needed:
        raise WeightsFileError(f"damaged: {what} {dtype} {shape} needs {needed:,} bytes, "
                               f"its data_offsets give {offsets[1] - offsets[0]:,}")
    return (dtype, tuple(shape)), (offsets[0], offsets[1])


def _tiles(ranges: list[tuple[tuple[int, int], str]], data: int) -> None:
    """The tensors' byte ranges cover the data exactly: no overlap, no gap, nothing past the end."""
    at = 0
    for (start, end), name in sorted(ranges):
        what = printable(f"tensor {name[:80]!r}")
        if end > data:
            raise WeightsFileError(f"truncated or damaged: {what} lies outside the file's {data:,} data bytes")
        if start != at:
            raise WeightsFileError(f"damaged: {what} " + ("overlaps another" if start < at else
                                                         f"starts at byte {start:,}, after a gap from {at:,}"))
        at = end
    if at != data:
        raise WeightsFileError(f"damaged: {data - at:,} bytes after the last tensor belong to none")


def _torch_tensor() -> type:
    import torch

    return torch.Tensor


def read_pickle(path: Path, map_location: str = "meta", mmap: bool = False) -> object:
    """What torch's restricted unpickler reads from `path`: tensors, numbers, strings, containers."""
    require_torch(f"reading a {path.suffix} file")
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about pickle protocols it reads anyway
        try:
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
        except pickle.UnpicklingError as e:
            found = re.search(r"GLOBAL ([\w.]+)", str(e))
            if not found:
                raise WeightsFileError("not a PyTorch weights file: torch's safe loader cannot read it") from None
            raise WeightsFileError(f"refused: it refers to {found[1]}, not only tensors, and unpickling it could "
                                   "run code — save the weights as .safetensors, or as a plain state_dict") from None
        except OSError as e:
            raise WeightsFileError(f"cannot read it: {e.strerror or e}") from None
        except Exception as e:  # torch raises many kinds (KeyError, RuntimeError, EOFError) for a file it cannot parse
            raise WeightsFileError(f"not a PyTorch weights file: torch.load cannot read it ({type(e).__name__})") from None


def _state_dict_shapes(loaded: object, tensor_type: type) -> dict[str, Shape]:
    """The tensors of a state_dict, or of the state_dict a checkpoint wraps."""
    return {k: tuple(v.shape) for k, v in unwrap(loaded, tensor_type).items()}


def unwrap(loaded: object, tensor_type: type) -> dict:
    """The tensors of a loaded state_dict, or of the state_dict a checkpoint wraps, by name."""
    if not isinstance(loaded, dict):
        raise WeightsFileError(f"holds a {type(loaded).__name__}, not a state_dict (a mapping of names to tensors)")
    for key in WRAPPERS:
        if isinstance(loaded.get(key), dict) and not any(isinstance(v, tensor_type) for v in loaded.values()):
            loaded = loaded[key]
            break
    tensors = {str(k): v for k, v in loaded.items() if isinstance(v, tensor_type)}
    if not tensors:
        raise WeightsFileError("holds no tensors at the top level"
                               + (f" (keys: {', '.join(map(str, list(loaded)[:8]))})" if loaded else ""))
    return tensors


def check_weights_file(plan, path: str | Path) -> WeightsReport:
    """What loading the weights file at `path` into the model of `plan` would do, without building
    it; the report names the network of the spec recorded in an archspec file."""
    path = Path(path)
    if path_kind(path) != ".safetensors":
        return check(read_shapes(path), state_dict_of(plan))
    header = read_header(path)
    report = check({name: shape for name, (_, shape) in header.tensors.items()}, state_dict_of(plan))
    report.network = recorded_network(archspec_record(header.metadata))
    return report


def archspec_record(metadata: dict) -> dict:
    """What archspec recorded beside the tensors ({} if the file is not archspec's)."""
    try:
        record = json.loads(metadata["archspec"])
    except (TypeError, KeyError, ValueError, RecursionError):
        return {}
    return record if isinstance(record, dict) and record.get("format") == "archspec" else {}


def recorded_network(record: dict) -> str | None:
    """The name in the spec an archspec file records; None if there is none to read."""
    from ..errors import SpecError
    from ..limits import MAX_FILE_BYTES
    from ..reading.source import parse_source

    text = record.get("spec")
    if not isinstance(text, str) or len(text) > MAX_FILE_BYTES:
        return None
    try:
        tree = parse_source(text, "[spec]").tree
    except SpecError:
        return None
    name = tree.get("name") if isinstance(tree, dict) else None
    return printable(name[:80]) if isinstance(name, str) else None


def text(report: WeightsReport, file: str, name: str, shown: int = 10) -> str:
    """The report for a person: counts, the share of parameters that would load, the first problems."""
    r = report
    lines = [printable(f"{file}: {len(r.fits) + len(r.unexpected) + len(r.duplicates) + len(r.mismatched)} tensors, "
                       f"{r.convention} names" + (f", the weights of {r.network}" if r.network else "")),
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
