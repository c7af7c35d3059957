"""Hostile and broken weights files for `archspec check-weights`: each one is refused with one
line that names the file and says why (exit 2), nothing is unpickled, nothing is allocated for it."""

import json
import os
import struct
import time
from pathlib import Path

import pytest
import torch

import archspec
from conftest import TINY_SPEC

GOOD_TENSOR = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def safetensors(header, data: bytes = b"\0" * 8, length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def tensors(*entries: tuple[str, str, list, list]) -> dict:
    return {name: {"dtype": dtype, "shape": shape, "data_offsets": offsets} for name, dtype, shape, offsets in entries}


def zero_byte_tensors(count: int) -> bytes:
    return safetensors(tensors(*((f"t{i}", "U8", [0], [0, 0]) for i in range(count))), data=b"")


CASES = {  # file name → (its bytes, or a function writing it), a fragment of the one-line error
    "empty.safetensors": (b"", "not a safetensors file (no header)"),
    "huge_header_length.safetensors": (safetensors({}, length=2**63), "not a safetensors file (no header)"),
    "header_past_the_end.safetensors": (safetensors({}, length=10_000), "not a safetensors file (no header)"),
    "header_over_16_MiB.safetensors": (lambda path: path.write_bytes(safetensors(b" " * (16 * 2**20 + 1) + b"{}",
                                                                                 data=b"")),
                                       "refused: its header is 16,777,219 bytes (at most 16,777,216)"),
    "header_not_json.safetensors": (safetensors(b"{not json"), "its header is not JSON"),
    "header_not_utf8.safetensors": (safetensors(b'{"\xff": 1}'), "its header is not JSON"),
    "header_a_list.safetensors": (safetensors([1, 2]), "its header is not a JSON object"),
    "deep_json.safetensors": (safetensors(b"[" * 100_000 + b"]" * 100_000), "damaged: its header nests too deeply"),
    "deep_json_in_a_tensor.safetensors": (safetensors(b'{"w": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
                                          "damaged: its header nests too deeply"),
    "number_of_5000_digits.safetensors": (safetensors(b'{"w": {"dtype": "F32", "shape": [' + b"9" * 5000
                                                      + b'], "data_offsets": [0, 8]}}'),
                                          "damaged: a number of more than 20 digits"),
    "nan_in_header.safetensors": (safetensors(b'{"w": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 8]}}'),
                                  "damaged: NaN in the header"),
    "name_twice.safetensors": (safetensors(b'{"w": ' + json.dumps(GOOD_TENSOR).encode() + b', "w": '
                                           + json.dumps(GOOD_TENSOR).encode() + b"}"), "damaged: a name given twice"),
    "metadata_not_strings.safetensors": (safetensors({"__metadata__": {"archspec": 1}, "w": GOOD_TENSOR}),
                                         "damaged: its __metadata__ is not a map of strings"),
    "unknown_dtype.safetensors": (safetensors(tensors(("w", "F33", [2], [0, 8]))),
                                  "damaged: tensor 'w' has an unknown dtype 'F33'"),
    "extra_field.safetensors": (safetensors({"w": {**GOOD_TENSOR, "offset": 0}}),
                                "damaged: tensor 'w' is not described by dtype, shape and data_offsets"),
    "negative_shape.safetensors": (safetensors({"w": {**GOOD_TENSOR, "shape": [-1]}}),
                                   "tensor 'w' has no valid shape"),
    "shape_of_strings.safetensors": (safetensors({"w": {**GOOD_TENSOR, "shape": ["2"]}}),
                                     "tensor 'w' has no valid shape"),
    "offsets_reversed.safetensors": (safetensors(tensors(("w", "F32", [0], [8, 0]))),
                                     "damaged: tensor 'w' has no valid data_offsets"),
    "truncated.safetensors": (safetensors(tensors(("w", "F32", [1024], [0, 4096]))),
                              "truncated or damaged: tensor 'w' lies outside the file's 8 data bytes"),
    "size_not_dtype_times_shape.safetensors": (safetensors(tensors(("w", "F32", [2], [0, 4])), data=b"\0" * 4),
                                               "damaged: tensor 'w' F32 [2] needs 8 bytes, its data_offsets give 4"),
    "zero_byte_tensors.safetensors": (safetensors(tensors(("fc.weight", "F32", [1000, 512], [0, 0])), data=b""),
                                      "damaged: tensor 'fc.weight' F32 [1000, 512] needs 2,048,000 bytes, "
                                      "its data_offsets give 0"),
    "huge_shape.safetensors": (safetensors(tensors(("w", "F32", [10**12, 10**12], [0, 8]))),
                               "needs 4,000,000,000,000,000,000,000,000 bytes, its data_offsets give 8"),
    "overlapping.safetensors": (safetensors(tensors(("a", "F32", [2], [0, 8]), ("b", "F32", [2], [4, 12])),
                                            data=b"\0" * 12), "damaged: tensor 'b' overlaps another"),
    "gap.safetensors": (safetensors(tensors(("a", "F32", [1], [0, 4]), ("b", "F32", [1], [8, 12])),
                                    data=b"\0" * 12), "damaged: tensor 'b' starts at byte 8, after a gap from 4"),
    "trailing_bytes.safetensors": (safetensors(tensors(("a", "F32", [1], [0, 4]))),
                                   "damaged: 4 bytes after the last tensor belong to none"),
    "100001_tensors.safetensors": (lambda path: path.write_bytes(zero_byte_tensors(100_001)),
                                   "refused: it names 100,001 tensors (at most 100,000)"),
    "a_million_tensors.safetensors": (lambda path: path.write_bytes(zero_byte_tensors(10**6)),
                                      "refused: its header is 65,888,890 bytes (at most 16,777,216)"),
    "junk.pth": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not a PyTorch weights file"),
    "empty.pt": (b"", "not a PyTorch weights file"),
    "a_list.pth": (lambda path: torch.save([torch.zeros(2)], path), "holds a list, not a state_dict"),
    "no_tensors.pth": (lambda path: torch.save({"epoch": 3, "lr": 0.1}, path), "holds no tensors at the top level (keys: epoch, lr)"),
    "whole_module.pth": (lambda path: torch.save(torch.nn.Linear(2, 2), path),
                         "refused: it refers to torch.nn.modules.linear.Linear"),
    "reduce_runs_code.pt": (lambda path: torch.save({"w": RunsCode(path)}, path),
                            "refused: it refers to posix.system"),
    "weights.onnx": (b"\x08\x07", "unknown weights file type '.onnx': use .safetensors, .pt, .pth, .bin, .ckpt"),
}


class RunsCode:
    """A pickle whose loading would run a shell command that leaves a file behind."""

    def __init__(self, path):
        self.witness = path.with_suffix(".ran")

    def __reduce__(self):
        return os.system, (f"touch {self.witness}",)


def hostile_file(tmp_path, name):
    content, fragment = CASES[name]
    path = tmp_path / name
    content(path) if callable(content) else path.write_bytes(content)
    return path, fragment


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_weights_file_gives_one_located_line(cli, tmp_path, name):
    path, fragment = hostile_file(tmp_path, name)
    started = time.perf_counter()
    r = cli("check-weights", "specs/resnet18.yaml", path)
    assert time.perf_counter() - started < 10
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith(f"{path}: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert fragment in r.stderr
    assert not path.with_suffix(".ran").exists()


@pytest.mark.parametrize("name", [n for n in CASES if not n.endswith(".onnx")])
def test_load_model_answers_each_hostile_file_with_a_weights_error(tmp_path, name):
    path, fragment = hostile_file(tmp_path, name)
    with pytest.raises(archspec.WeightsError) as e:
        archspec.load_model(path, spec="specs/resnet18.yaml")
    assert str(e.value).startswith(f"{path}: ") and fragment in str(e.value)
    assert not path.with_suffix(".ran").exists()


@pytest.mark.parametrize("make,message", [
    (lambda tmp: tmp / "missing.pth", "no such file"),
    (lambda tmp: tmp, "this is a folder, not a weights file"),
])
def test_a_path_that_is_no_file(cli, tmp_path, make, message):
    path = make(tmp_path)
    r = cli("check-weights", "specs/resnet18.yaml", path)
    assert (r.returncode, r.stderr) == (2, f"{path}: error: {message}\n")


def test_a_header_naming_every_tensor_with_zero_bytes_is_damaged(cli, tmp_path):
    """Each tensor's bytes must be there: a header cannot promise a network it does not hold."""
    path = tmp_path / "promises.safetensors"
    header = {k: {"dtype": "F32", "shape": list(t.shape), "data_offsets": [0, 0]}
              for k, t in archspec.build("specs/cifar/resnet20.yaml", device="meta").state_dict().items()}
    path.write_bytes(safetensors(header, data=b""))
    r = cli("check-weights", "specs/cifar/resnet20.yaml", path)
    assert (r.returncode, r.stderr) == (2, f"{path}: error: damaged: tensor 'conv1.weight' F32 [16, 3, 3, 3] "
                                           "needs 1,728 bytes, its data_offsets give 0\n")


def recorded(tmp_path, text: str, header: dict | None = None, data: bytes = b"", **fields) -> Path:
    """A small safetensors file whose archspec record holds the spec `text` (and `fields`), with `header`'s tensors."""
    record = {"format": "archspec", "spec": text, "seed": "0", "input": "[3, 32, 32]", **fields}
    path = tmp_path / "recorded.safetensors"
    path.write_bytes(safetensors({"__metadata__": {"archspec": json.dumps(record)}, **(header or {})}, data=data))
    return path


WIDE = TINY_SPEC.replace("channels: 32, stride: 2}", "channels: 9000, stride: 2}")  # 2.2e9 parameters: 8.8 GB


def test_a_600_byte_file_recording_a_huge_network_is_refused_before_anything_is_allocated(tmp_path):
    path = recorded(tmp_path, WIDE, tensors(("fc.weight", "F32", [1], [0, 4])), data=b"\0" * 4)
    assert path.stat().st_size < 800
    started = time.perf_counter()
    with pytest.raises(archspec.WeightsError) as e:
        archspec.load_model(path)
    assert time.perf_counter() - started < 5
    lines = str(e.value).splitlines()
    assert lines[0] == f"{path}: state_dict does not fit tiny (archspec (torchvision/timm ResNet) names):"
    assert lines[1] == "  61 missing: conv1.weight, bn1.weight, bn1.bias, bn1.running_mean and 57 more"
    assert lines[2] == "  1 of the wrong shape: fc.weight [1] for [10, 9000]"


def test_a_recorded_spec_may_not_use_extends(tmp_path):
    path = recorded(tmp_path, "archspec: 1\nextends: /etc/passwd\nname: x\n")
    with pytest.raises(archspec.SpecError) as e:
        archspec.load_model(path)
    assert str(e.value).startswith(f"{path}[spec]:2:1: error: a spec recorded in a weights file cannot use extends")
    assert "root:" not in str(e.value)


@pytest.mark.parametrize("fields,message", [
    ({"input": "[3, 1000000000, 1000000000]"}, "damaged: the input shape recorded in it is not C,H,W"),
    ({"input": "[" * 100_000}, "damaged: the input shape recorded in it is not C,H,W"),
    ({"spec": 3}, "damaged: the spec recorded in it is not a spec's text"),
    ({"spec": "x" * 1_000_001}, "damaged: the spec recorded in it is not a spec's text"),
])
def test_a_damaged_record_is_a_weights_file_error(tmp_path, fields, message):
    with pytest.raises(archspec.WeightsError) as e:
        archspec.load_model(recorded(tmp_path, TINY_SPEC, **fields))
    assert str(e.value) == f"{tmp_path / 'recorded.safetensors'}: {message}"


def test_a_record_that_is_no_json_is_no_record(tmp_path):
    path = tmp_path / "deep.safetensors"
    path.write_bytes(safetensors({"__metadata__": {"archspec": "[" * 100_000}}, data=b""))
    with pytest.raises(archspec.WeightsError, match="not an archspec weights file"):
        archspec.load_model(path)


@pytest.mark.parametrize("name", ["zero_byte_tensors.safetensors", "deep_json.safetensors", "reduce_runs_code.pt"])
def test_export_with_hostile_weights_is_one_line(cli, tmp_path, name):
    path, fragment = hostile_file(tmp_path, name)
    out = tmp_path / "m.pt2"
    r = cli("export", "specs/cifar/resnet20.yaml", "-o", out, "--weights", path)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.startswith(f"{out}: error: {path}: ") and r.stderr.count("\n") == 1 and fragment in r.stderr
    assert not out.exists()


def test_export_with_another_networks_weights_names_it_in_short_lines(cli, tmp_path):
    path = tmp_path / "r18.safetensors"
    archspec.save(archspec.build("specs/resnet18.yaml", device="meta").to_empty(device="cpu"), path)
    out = tmp_path / "m.pt2"
    r = cli("export", "specs/cifar/resnet20.yaml", "-o", out, "--weights", path)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 4
    assert r.stderr.splitlines()[0] == (f"{out}: error: {path}: state_dict does not fit resnet20 "
                                        "(archspec (torchvision/timm ResNet) names; the file holds resnet18):")
    assert all(len(line) < 100 for line in r.stderr.splitlines()[1:])
