"""`archspec eject`: standalone source with the same state_dict and outputs as archspec.build."""

import ast
import importlib.util
import keyword
import os
import py_compile

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import archspec
from archspec.commands.eject import EjectError, camel, eject
from archspec.reading.spec import BlockHead
from archspec.planning.plan import Plan
from conftest import ROOT, TINY_SPEC, run_cli, run_python, shipped_specs, spec_id


def load_ejected(path):
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread():
    """Two tiny forwards: more threads only spin (measured: 10× the CPU time)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def every_spec() -> list:
    """Every shipped spec; those over 50M parameters (which share their block kinds with
    smaller ones) in the slow run, for the time their weights take to make."""
    return [pytest.param(s, marks=pytest.mark.slow) if archspec.plan(s).params > 50_000_000 else s
            for s in shipped_specs()]


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("spec", every_spec(), ids=spec_id)
def test_ejected_source_round_trips(spec, tmp_path):
    shipped = archspec.plan(spec)
    channels, height, width = shipped.input_shape
    p = archspec.plan(spec, (channels, min(height, 32), min(width, 32)))  # small: a quick forward
    assert_round_trip(p, tmp_path)


def assert_round_trip(p: Plan, tmp_path) -> str:
    """The ejected source of `p` compiles, builds the same state_dict and gives the same outputs
    (a tuple of maps for a `block` head of several outputs); returns the source."""
    text = eject(p)
    path = tmp_path / "model.py"
    path.write_text(text)
    py_compile.compile(str(path), doraise=True)
    torch.manual_seed(0)
    model = archspec.build(p).eval()
    with torch.device("meta"):
        ejected = load_ejected(path).build()
    expected = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert [(k, tuple(v.shape)) for k, v in ejected.state_dict().items()] == expected
    ejected.load_state_dict(model.state_dict(), strict=True, assign=True)
    x = torch.randn(1, *p.input_shape)
    with torch.no_grad():
        got, expected = ejected.eval()(x), model(x)
    if isinstance(p.spec.head, BlockHead) and len(p.spec.user_blocks[p.spec.head.block].outputs) > 1:
        assert isinstance(got, tuple) and len(got) == len(expected)  # a map for each of the block's outputs
    else:
        got, expected = [got], [expected]
    assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
    return text


NESTED = """\
archspec: 1
name: nested_graphs
input: {channels: 3, size: 32}
stem: {type: conv, channels: 16, kernel: 3}
defaults: {block: unit}
stages:
  - {depth: 2, channels: 16, stride: 1}
  - {depth: 2, channels: 32, stride: 2}
head: {type: classifier, classes: 10}
blocks:
  mix:
    params: {channels: int}
    nodes:
      - {name: a, op: conv, channels: channels, kernel: 1}
      - {name: b, op: conv, in: x, channels: channels, kernel: 3}
      - {name: cat, op: concat, in: [a, b]}
  unit:
    params: {channels: int, stride: int}
    let: {half: channels // 2}
    nodes:
      - {name: first, op: conv, channels: channels, kernel: 3, stride: stride}
      - {name: mix, block: mix, in: first, channels: half}
      - {name: mix2, block: mix, channels: half}
      - {name: sum, op: add, in: [first, mix2]}
"""


@pytest.mark.usefixtures("one_thread")
def test_a_graph_inside_a_block_is_a_class_of_its_own(tmp_path, write_spec):
    text = assert_round_trip(archspec.plan(write_spec(NESTED)), tmp_path)
    assert "class MixBlock(nn.Module):" in text and "class UnitBlock(nn.Module):" in text
    assert text.index("class MixBlock") < text.index("class UnitBlock")  # the inner class first
    assert "        self.mix = MixBlock(in_channels=out_channels, width=width)\n" in text
    assert "        return self.cat(a, b)\n" in text and "        return self.sum(first, mix2)\n" in text
    # a graph in a residual block (a chain added to its input), and a stage table of one column
    residual = NESTED.replace("""      - {name: first, op: conv, channels: channels, kernel: 3, stride: stride}
      - {name: mix, block: mix, in: first, channels: half}
      - {name: mix2, block: mix, channels: half}
      - {name: sum, op: add, in: [first, mix2]}""", """      - {name: mix, block: mix, channels: half}
      - {name: conv, op: conv, channels: channels, kernel: 1}
      - {name: sum, op: add, in: [conv, x]}""").replace("  - {depth: 2, channels: 32, stride: 2}\n", "")
    text = assert_round_trip(archspec.plan(write_spec(residual)), tmp_path)
    assert "        out = self.mix(x)\n" in text and "    (2,),\n" in text


def test_a_block_head_is_a_class_and_the_network_forward_reads_as_its_graph():
    text = eject(archspec.plan("specs/examples/resnet50_fpn.yaml"))
    assert "        self.fpn = FpnBlock()\n" in text
    assert "        layer4 = self.layer4(layer3)\n        return self.fpn(layer1, layer2, layer3, layer4)\n" in text
    assert "        return out0, out1, out2, out3, pool\n" in text
    text = eject(archspec.plan("specs/examples/unet_resnet34.yaml"))
    assert "        self.block0 = UpBlock(out_channels=256, conv1_in_channels=768)\n" in text
    assert "        return self.decoder(relu, layer1, layer2, layer3, layer4)\n" in text


def test_the_ejected_resnet50_in_docs_is_current():
    text = eject(archspec.plan("specs/resnet50.yaml"))
    assert (ROOT / "docs" / "resnet50_ejected.py").read_text() == text, \
        "regenerate: python -m archspec eject specs/resnet50.yaml -o docs/resnet50_ejected.py"
    doc = (ROOT / "docs/artifacts.md").read_text(encoding="utf-8")
    shown = doc.split("## Standalone source", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert shown.startswith("class BottleneckBlock") and shown in text


def test_cli_writes_the_file_without_importing_torch(tmp_path):
    out = tmp_path / "model.py"
    code = ("import sys; from archspec.commands.cli import main; "
            f"assert main(['eject', 'specs/cifar/resnet20.yaml', '-o', {str(out)!r}]) == 0; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    run = run_python("-c", code)
    assert run.returncode == 0, run.stderr
    assert run.stderr == f"wrote {out}\n"
    assert "class BasicBlock(nn.Module):" in out.read_text()
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # a source file, not a private one


def test_bad_input_is_one_located_line_and_writes_nothing(tmp_path, write_spec):
    bad = write_spec(TINY_SPEC.replace("shortcut: auto", "shortcut: identity"))  # 16 → 32 channels
    out = tmp_path / "model.py"
    run = run_cli("eject", bad, "-o", out)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"{bad}:") and "identity shortcut cannot carry" in run.stderr
    assert not out.exists()


def test_a_primitive_without_a_template_is_named():
    p = archspec.plan("specs/cifar/resnet20.yaml")
    p.root.children[1].kind = "mystery_norm"  # as a new primitive would arrive
    with pytest.raises(EjectError, match="eject has no template for the primitive 'mystery_norm' yet"):
        eject(p)


def test_an_unwritable_output_is_one_line_before_any_work(tmp_path):
    out = tmp_path / "missing" / "model.py"
    run = run_cli("eject", "specs/resnet18.yaml", "-o", out)
    assert run.returncode == 1  # as every command's unwritable output (cli.py)
    assert run.stderr == f"{out}: error: folder {str(out.parent)!r} does not exist\n" and run.stdout == ""


def test_a_features_head_returns_the_same_maps(tmp_path):
    p = archspec.plan("specs/resnet18.yaml", (3, 64, 64), features=["bn1", "layer2", "layer4"])
    path = tmp_path / "backbone.py"
    path.write_text(eject(p))
    model = archspec.build(p, seed=0).eval()
    ejected = load_ejected(path).build().eval()
    ejected.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        maps, ejected_maps = model(x), ejected(x)
    assert [m.shape[1] for m in ejected_maps] == [64, 128, 512]
    assert all(torch.equal(a, b) for a, b in zip(maps, ejected_maps))


# ---- text from the spec reaches the ejected file only as literals -------------------------------

BASE = archspec.plan("specs/cifar/resnet20.yaml")
TRICKS = ['"""; import os; os.system("touch archspec-was-pwned") #', "'''", "\\", "\n", "\r", "\\N{BULLET}", "\u2028",
          "None", "True", "import", "class", "__import__('os')", "x²", "日本", "ﬁ", "-", ".", "0"]
TEXT = st.lists(st.one_of(st.sampled_from(TRICKS), st.text(st.characters(blacklist_characters="\x00",
                                                                         blacklist_categories=("Cs",)))),
                max_size=6).map("".join)


def ejected_tree(name: str, description: str) -> tuple[str, ast.Module]:
    spec = BASE.spec.model_copy(update={"name": name, "description": description})  # unchecked: any text at all
    text = eject(Plan(spec, BASE.input_shape, BASE.root))
    return text, ast.parse(text)


def _blanked(tree: ast.Module, network: str) -> str:
    """The tree with the spec's name and description literals and the network's class name blanked."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("SPEC_NAME", "SPEC_DESCRIPTION"):
            node.value = ast.Constant("")
        elif isinstance(node, ast.ClassDef) and node.name == network:
            node.name = "Network"
        elif isinstance(node, ast.Name) and node.id == network:
            node.id = "Network"
    return ast.dump(tree)


PLAIN = _blanked(ejected_tree("plain", "")[1], "Plain")


@settings(max_examples=60)
@given(name=TEXT.filter(bool), description=TEXT)
def test_the_spec_name_and_description_reach_the_file_only_as_literals(name, description):
    text, tree = ejected_tree(name, description)
    network = camel(name)
    assert network.isidentifier() and not keyword.iskeyword(network)
    assert _blanked(tree, network) == PLAIN  # no call, import or statement that the template does not have
    found = {}
    constants = [s for s in ast.parse(text).body if isinstance(s, ast.Assign) and s.targets[0].id.startswith("SPEC_")]
    exec(compile(ast.Module(constants, []), "<ejected>", "exec"), found)
    assert (found["SPEC_NAME"], found["SPEC_DESCRIPTION"]) == (name, description)


@pytest.mark.parametrize("name, expected", [("resnet50", "Resnet50"), ("preact_bottleneck", "PreactBottleneck"),
                                            ("resnext50_32x4d", "Resnext50_32x4d"), ("none", "NetNone"),
                                            ("True", "NetTrue"), ("50layers", "Net50layers"), ("x²", "X"),
                                            ("_", "Net"), ("日本", "日本"), ("ﬁne", "FIne")])
def test_the_class_name_is_an_identifier_and_no_keyword(name, expected):
    assert camel(name) == expected


def test_a_hostile_spec_ejects_to_a_file_that_runs_nothing(tmp_path):
    out = tmp_path / "model.py"
    run = run_cli("eject", "tests/hostile/eject_injection.yaml", "-o", out)
    assert run.returncode == 0, run.stderr
    check = "import model; print(model.SPEC_NAME, ascii(model.SPEC_DESCRIPTION), model.build().__class__.__name__)"
    run = run_python("-c", check, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    description = "\"\"\"; import os; os.system('touch archspec-was-pwned') #\n'''\\ \r\u2028 \u2603"
    assert run.stdout == f"None {ascii(description)} NetNone\n"
    assert not (tmp_path / "archspec-was-pwned").exists() and not (ROOT / "archspec-was-pwned").exists()
