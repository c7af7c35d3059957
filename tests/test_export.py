"""`archspec export`: ONNX and torch.export programs, verified against eager before they are
written; every failure one line, nothing written."""

import re
import sys

import pytest
import torch
from safetensors.torch import save_file

import archspec
from archspec.commands import cli
from conftest import ROOT, TINY_SPEC, run_cli, run_python

REPORT = re.compile(r"wrote (?P<files>.+): dynamic (?P<dynamic>.+); matches eager at "
                    r"2×3×32×32 max \|Δ\| (?P<d1>\S+) \(max \|y\| \S+\); (?P<second>\S+) max \|Δ\| (?P<d2>\S+) \(max \|y\| \S+\)\n")


def exported(capsys, *args) -> re.Match:
    assert cli.main(["export", *map(str, args)]) == 0
    report = REPORT.fullmatch(capsys.readouterr().err)
    assert report, "unexpected report"
    return report


def test_pt2_is_verified_at_two_sizes_and_reloads(tmp_path, write_spec, capsys):
    spec, out = write_spec(TINY_SPEC), tmp_path / "tiny.pt2"
    report = exported(capsys, spec, "-o", out)
    assert (report["files"], report["dynamic"], report["second"]) == (str(out), "batch, height, width", "3×3×24×24")
    assert float(report["d1"]) <= 1e-4 and float(report["d2"]) <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml", "tiny.pt2"]
    program = torch.export.load(out).module()
    model = archspec.build(spec, seed=0).eval()  # export's weights when none are given
    x = torch.randn(5, 3, 40, 48)
    with torch.no_grad():
        torch.testing.assert_close(program(x), model(x), rtol=1e-5, atol=1e-5)


def test_a_flatten_head_keeps_the_size_fixed_and_weights_can_be_given(tmp_path, capsys):
    spec = ROOT / "specs" / "examples" / "mnist_small.yaml"
    model = archspec.build(spec, seed=5).eval()
    save_file(model.state_dict(), tmp_path / "trained.safetensors")
    assert cli.main(["export", str(spec), "-o", str(tmp_path / "m.pt2"), "--weights",
                     str(tmp_path / "trained.safetensors")]) == 0
    assert "dynamic batch; matches eager at 2×1×28×28" in capsys.readouterr().err
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(torch.export.load(tmp_path / "m.pt2").module()(x), model(x), rtol=1e-5, atol=1e-5)


def test_a_mismatch_with_eager_writes_nothing(tmp_path, write_spec, capsys):
    spec = write_spec(TINY_SPEC)
    weights = archspec.build(spec, seed=0).state_dict()
    weights["fc.bias"] = torch.full((10,), float("nan"))
    save_file(weights, tmp_path / "nan.safetensors")
    out = tmp_path / "tiny.pt2"
    assert cli.main(["export", str(spec), "-o", str(out), "--weights", str(tmp_path / "nan.safetensors")]) == 1
    assert capsys.readouterr().err == (f"{out}: error: the exported model differs from eager at 2×3×32×32: "
                                       "max |Δ| nan > 0.0001 × max |y| nan\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nan.safetensors", "spec.yaml"]


@pytest.mark.parametrize("args,message", [
    (["-o", "{tmp}"], "{tmp}: error: give --format onnx or --format pt2 (or an output ending .onnx or .pt2)"),
    (["-o", "{tmp}", "--format", "pt2"], "{tmp}: error: this is a folder; give a file name such as model.safetensors"),
    (["-o", "{tmp}/m.pt2", "--weights", "{tmp}/none.safetensors"],
     "{tmp}/m.pt2: error: {tmp}/none.safetensors: no such file"),
    (["-o", "{tmp}/m.pt2", "--weights", "{spec}"],
     "{tmp}/m.pt2: error: {spec}: unknown weights file type '.yaml': use .safetensors, .pt, .pth, .bin, .ckpt"),
])
def test_bad_arguments_are_one_line(tmp_path, write_spec, capsys, args, message):
    spec = write_spec(TINY_SPEC)
    fill = {"tmp": tmp_path, "spec": spec}
    code = cli.main(["export", str(spec), *(a.format(**fill) for a in args)])
    usage = args == ["-o", "{tmp}"]  # no format: a usage error; a folder in the way is a write failure
    assert (code, capsys.readouterr().err) == (2 if usage else 1, message.format(**fill) + "\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]


def test_onnx_without_its_packages_says_what_to_install(tmp_path, write_spec, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # what an interpreter without it gives: ImportError
    assert cli.main(["export", str(write_spec(TINY_SPEC)), "-o", str(tmp_path / "m.onnx")]) == 1
    assert capsys.readouterr().err == (f"{tmp_path / 'm.onnx'}: error: --format onnx needs onnxscript: "
                                       "pip install 'archspec-nn[export]'\n")


@pytest.mark.slow  # the ONNX exporter takes about 15 s for a small network here
def test_onnx_is_verified_with_onnxruntime(tmp_path, write_spec, capsys):
    import onnxruntime

    spec, out = write_spec(TINY_SPEC), tmp_path / "tiny.onnx"
    report = exported(capsys, spec, "-o", out)
    assert (report["files"], report["dynamic"], report["second"]) == (
        f"{out} + {out}.data", "batch, height, width", "3×3×24×24")
    assert float(report["d1"]) <= 1e-4 and float(report["d2"]) <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml", "tiny.onnx", "tiny.onnx.data"]
    session = onnxruntime.InferenceSession(str(out))
    x = torch.randn(5, 3, 40, 48)
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(session.run(None, {"input": x.numpy()})[0]),
                                   archspec.build(spec, seed=0).eval()(x), rtol=1e-4, atol=1e-5)


def test_export_needs_torch(tmp_path, write_spec):
    code = ("import sys; sys.modules['torch'] = None; from archspec.commands import cli; "
            "sys.exit(cli.main(['export', sys.argv[1], '-o', sys.argv[2]]))")
    r = run_python("-c", code, write_spec(TINY_SPEC), tmp_path / "m.pt2")
    assert (r.returncode, r.stderr) == (2, "archspec: error: archspec export needs PyTorch: pip install torch "
                                           "--index-url https://download.pytorch.org/whl/cpu, then pip install "
                                           "'archspec-nn[torch]' (torch is not installed)\n")


@pytest.mark.slow  # about 10 s: a torch.export of a network of Fire modules
def test_the_exporters_own_warnings_and_tracebacks_are_not_shown(tmp_path):
    # ceil-mode pools make torch's symbolic shapes log sympy tracebacks as warnings while it exports
    result = run_cli("export", "specs/examples/fire_net.yaml", "--format", "pt2", "-o", tmp_path / "fire.pt2")
    assert result.returncode == 0
    assert result.stderr.startswith(f"wrote {tmp_path / 'fire.pt2'}: dynamic batch, height, width; matches eager")
    assert len(result.stderr.splitlines()) == 1
