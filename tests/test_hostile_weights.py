"""Hostile and broken weights files for `archspec check-weights`: each one is refused with one
line that names the file and says why (exit 2), nothing is unpickled, nothing is allocated for it."""

import json
import struct

import pytest
import torch

GOOD_TENSOR = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def safetensors(header, data: bytes = b"\0" * 8, length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


CASES = {  # file name → (its bytes, or a function writing it), a fragment of the one-line error
    "empty.safetensors": (b"", "not a safetensors file (no header)"),
    "huge_header_length.safetensors": (safetensors({}, length=2**63), "not a safetensors file (no header)"),
    "header_past_the_end.safetensors": (safetensors({}, length=10_000), "not a safetensors file (no header)"),
    "header_not_json.safetensors": (safetensors(b"{not json"), "its header is not JSON"),
    "header_not_utf8.safetensors": (safetensors(b'{"\xff": 1}'), "its header is not JSON"),
    "header_a_list.safetensors": (safetensors([1, 2]), "its header is not a JSON object"),
    "negative_shape.safetensors": (safetensors({"w": {**GOOD_TENSOR, "shape": [-1]}}),
                                   "tensor 'w' has no valid shape"),
    "shape_of_strings.safetensors": (safetensors({"w": {**GOOD_TENSOR, "shape": ["2"]}}),
                                     "tensor 'w' has no valid shape"),
    "truncated.safetensors": (safetensors({"w": {**GOOD_TENSOR, "data_offsets": [0, 4096]}}),
                              "truncated or damaged: tensor 'w' lies outside the file's 8 data bytes"),
    "junk.pth": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "not a PyTorch weights file"),
    "empty.pt": (b"", "not a PyTorch weights file"),
    "a_list.pth": (lambda path: torch.save([torch.zeros(2)], path), "holds a list, not a state_dict"),
    "no_tensors.pth": (lambda path: torch.save({"epoch": 3, "lr": 0.1}, path), "holds no tensors at the top level (keys: epoch, lr)"),
    "whole_module.pth": (lambda path: torch.save(torch.nn.Linear(2, 2), path),
                         "refused: it refers to torch.nn.modules.linear.Linear"),
    "weights.onnx": (b"\x08\x07", "unknown weights file type '.onnx': use .safetensors, .pt, .pth, .bin, .ckpt"),
}


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_weights_file_gives_one_located_line(cli, tmp_path, name):
    content, fragment = CASES[name]
    path = tmp_path / name
    content(path) if callable(content) else path.write_bytes(content)
    r = cli("check-weights", "specs/resnet18.yaml", path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith(f"{path}: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert fragment in r.stderr


@pytest.mark.parametrize("make,message", [
    (lambda tmp: tmp / "missing.pth", "no such file"),
    (lambda tmp: tmp, "this is a folder, not a weights file"),
])
def test_a_path_that_is_no_file(cli, tmp_path, make, message):
    path = make(tmp_path)
    r = cli("check-weights", "specs/resnet18.yaml", path)
    assert (r.returncode, r.stderr) == (2, f"{path}: error: {message}\n")


def test_a_file_of_a_billion_zero_sized_promises_is_read_from_its_header_alone(cli, tmp_path):
    """A header may claim enormous tensors; check-weights reads shapes, never the data."""
    path = tmp_path / "big.safetensors"
    path.write_bytes(safetensors({"fc.weight": {"dtype": "F32", "shape": [10**12, 10**12], "data_offsets": [0, 0]}},
                                 data=b""))
    r = cli("check-weights", "specs/resnet18.yaml", path)
    assert r.returncode == 0
    assert "fc.weight: shape [1000000000000, 1000000000000] does not fit fc.weight [1000, 512]" in r.stdout
