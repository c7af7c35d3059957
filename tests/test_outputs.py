"""Weights files: written whole or not at all, bit-identical for a seed, and enough on
their own to rebuild the model, without ever unpickling anything."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import pytest
import safetensors.torch
import torch
from safetensors.torch import load_file

import archspec
from archspec import SpecError
from archspec.commands import cli
from archspec.building.checkpoint import read_metadata, save_weights
from conftest import ROOT

RESNET20 = ROOT / "specs" / "cifar" / "resnet20.yaml"
SMALL = ROOT / "specs" / "examples" / "mnist_small.yaml"


def digest(state_dict: dict) -> str:
    """sha256 of a state_dict's names, dtypes, shapes and bytes."""
    return hashlib.sha256(safetensors.torch.save(dict(sorted(state_dict.items())))).hexdigest()


def run(*args, python_flags=()):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *python_flags, "-m", "archspec", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


# ---- reproducible -------------------------------------------------------------------

def test_a_seed_gives_bit_identical_files_on_every_run(tmp_path):
    files = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for out in files:
        r = run("build", RESNET20, "-o", out, "--seed", "7")
        assert r.returncode == 0, r.stderr
    assert files[0].read_bytes() == files[1].read_bytes()
    assert digest(load_file(files[0])) == digest(archspec.build(RESNET20, seed=7).state_dict())
    assert digest(archspec.build(RESNET20, seed=8).state_dict()) != digest(load_file(files[0]))


def test_the_file_alone_rebuilds_the_model(tmp_path, capsys):
    text = SMALL.read_text()
    spec, out = tmp_path / "net.yaml", tmp_path / "net.safetensors"
    spec.write_text(text)
    assert cli.main(["build", str(spec), "-o", str(out), "--seed", "1"]) == 0
    assert capsys.readouterr().err == f"wrote {out}\n"
    spec.unlink()
    assert read_metadata(out) == {"format": "archspec", "archspec_version": archspec.__version__, "spec": text,
                                  "seed": "1", "input": "[1, 28, 28]"}
    model = archspec.load_model(out)
    assert digest(model.state_dict()) == digest(load_file(out)) == digest(archspec.build(SMALL, seed=1).state_dict())


# ---- hostile weights files ----------------------------------------------------------

class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("zipfile", [True, False])
def test_a_pickle_is_refused_without_running_it(tmp_path, zipfile):
    path, marker = tmp_path / "model.pt", tmp_path / "pwned"
    torch.save({"x": _RunsCode(marker)}, path, _use_new_zipfile_serialization=zipfile)
    with pytest.raises(archspec.WeightsError, match="refused: it refers to posix.system|torch's safe loader cannot"):
        archspec.load_model(path)
    assert not marker.exists()


def weights_file(tmp_path, **record) -> str:
    path = tmp_path / "model.safetensors"
    record = {"format": "archspec", "spec": SMALL.read_text(), "input": "[1, 28, 28]", **record}
    safetensors.torch.save_file({"x": torch.zeros(1)}, path, metadata={"archspec": json.dumps(record)})
    return path


def test_a_spec_inside_a_weights_file_is_checked_like_any_spec(tmp_path):
    bomb = (ROOT / "tests" / "hostile" / "billion_laughs.yaml").read_text()
    path = weights_file(tmp_path, spec=bomb)
    with pytest.raises(SpecError) as info:
        archspec.load_model(path)
    assert [(i.file, i.line, i.message) for i in info.value.issues] == [
        (f"{path}[spec]", 7, "aliases expand to more than 20,000 nodes")]


def test_a_weights_file_over_max_params_is_refused_before_building(tmp_path):
    path = weights_file(tmp_path, spec=(ROOT / "tests" / "hostile" / "over_build_limit.yaml").read_text(),
                        input="[3, 32, 32]")
    with pytest.raises(SpecError, match="more than the build limit of 4,000,000,000"):
        archspec.load_model(path)


@pytest.mark.parametrize("metadata,message", [
    ({"format": "other"}, "not an archspec weights file"),
    ({"input": "[1, 28]"}, "the input shape recorded in it is not C,H,W"),
    ({"input": "[1, 1e999, 28]"}, "the input shape recorded in it is not C,H,W"),
    ({"input": "\"abc\""}, "the input shape recorded in it is not C,H,W"),
    ({"input": "not json"}, "the input shape recorded in it is not C,H,W"),
])
def test_broken_metadata_is_a_clear_error(tmp_path, metadata, message):
    with pytest.raises(ValueError, match=message):
        archspec.load_model(weights_file(tmp_path, **metadata))


@pytest.mark.parametrize("data", [b"", b"\x08\x00\x00\x00\x00\x00\x00\x00[1, 2, ", b"\x04\x00\x00\x00\x00\x00\x00\x00\xff\xfe{}"])
def test_a_truncated_or_garbled_header_is_a_clear_error(tmp_path, data):
    path = tmp_path / "model.safetensors"
    path.write_bytes(data)
    with pytest.raises(ValueError, match="not a safetensors file"):
        archspec.load_model(path)


# ---- written whole or not at all ----------------------------------------------------

@pytest.fixture
def old_output(tmp_path):
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "model.safetensors"
    out.write_bytes(b"old weights")
    return out


def assert_untouched(out):
    assert out.read_bytes() == b"old weights"
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # and no temporary file left


def test_an_invalid_spec_leaves_the_output_untouched(old_output, write_spec, capsys):
    bad = write_spec(SMALL.read_text().replace("depth: 1", "depth: 0"), "bad.yaml")
    assert cli.main(["build", str(bad), "-o", str(old_output)]) == 1
    assert capsys.readouterr().err.startswith(f"{bad}:13:13: error: stages.0.depth: ")
    assert_untouched(old_output)


def test_a_network_over_max_params_is_refused_before_torch_is_imported(tmp_path):
    out = tmp_path / "model.safetensors"
    r = run("build", SMALL, "-o", out, "--max-params", "10K", python_flags=["-X", "importtime"])
    assert r.returncode == 1
    assert [line for line in r.stderr.splitlines() if ": error: " in line] == [
        f"{SMALL}: error: the network has 85,066 parameters, more than the build limit of 10,000 — "
        "raise the limit with --max-params (build(max_params=...))"]
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    assert "torch" not in imported and "safetensors" not in imported
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("output,message", [
    ("no/such/folder/model.safetensors", "error: folder 'no/such/folder' does not exist"),
    (".", "error: this is a folder; give a file name such as model.safetensors"),
])
def test_an_output_that_cannot_be_written_is_refused_before_building(tmp_path, capsys, monkeypatch, output, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["build", str(SMALL), "-o", output]) == 1
    assert capsys.readouterr().err == f"{output}: {message}\n"
    assert list(tmp_path.iterdir()) == []


def _fails_halfway(error):
    def write_bytes(path, data):
        with open(path, "wb") as f:
            f.write(data[:100])
        raise error

    return write_bytes


def test_a_write_that_fails_halfway_leaves_the_old_file(old_output, capsys, monkeypatch):
    monkeypatch.setattr(pathlib.Path, "write_bytes", _fails_halfway(OSError(28, "No space left on device")))
    assert cli.main(["build", str(SMALL), "-o", str(old_output)]) == 1
    assert capsys.readouterr().err == f"{old_output}: error: cannot write: No space left on device\n"
    assert_untouched(old_output)


def test_an_interrupted_write_leaves_the_old_file(old_output, monkeypatch):
    monkeypatch.setattr(pathlib.Path, "write_bytes", _fails_halfway(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        save_weights(archspec.build(SMALL), old_output, "spec", None, (1, 28, 28))
    assert_untouched(old_output)


def test_a_build_that_fails_leaves_no_file(tmp_path, monkeypatch):
    """Nothing is created before the weights are complete."""
    out = tmp_path / "model.safetensors"
    monkeypatch.setattr(pathlib.Path, "write_bytes", _fails_halfway(OSError(5, "Input/output error")))
    with pytest.raises(OSError):
        save_weights(archspec.build(SMALL), out, "spec", None, (1, 28, 28))
    assert list(tmp_path.iterdir()) == []
