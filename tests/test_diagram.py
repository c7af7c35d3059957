"""`archspec diagram`: Mermaid and SVG drawn from the plan, one box per stage (or block)."""

import re
import xml.etree.ElementTree as ET

import pytest

import archspec
from archspec.commands.diagram import mermaid, svg
from conftest import ROOT, shipped_specs, spec_id

NS = {"svg": "http://www.w3.org/2000/svg"}


def boxes_of(svg_text: str) -> dict[str, list[str]]:
    """The SVG's boxes: id → the lines of text in it."""
    root = ET.fromstring(svg_text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return {g.get("id"): [t.text for t in g.findall("svg:text", NS)] for g in root.findall("svg:g", NS)}


def test_resnet50_svg_has_one_box_per_stage_with_its_figures_and_shortcuts():
    svg_text = svg(archspec.plan("specs/resnet50.yaml"))
    boxes = boxes_of(svg_text)
    assert list(boxes) == ["input", "stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert boxes["layer3"] == ["layer3: bottleneck ×6 · 1024×14×14", "7.1 M params · 1.46 G MACs",
                               "shortcut: conv 1×1/2 + batchnorm, then identity ×5"]
    assert boxes["stem"] == ["stem: conv 7×7/2 → batchnorm → relu → maxpool 3×3/2", "64×56×56 · 9.54 K params · 118 M MACs"]
    assert boxes["head"] == ["head: global_avgpool → flatten → linear 1000", "1000 · 2.05 M params · 2.05 M MACs"]
    root = ET.fromstring(svg_text)
    assert [g.get("class") for g in root.findall("svg:g", NS)].count("stage") == 4
    assert len(root.findall("svg:line", NS)) == 6  # an arrow between each pair of boxes
    assert len(root.findall("svg:g/svg:path", NS)) == 4  # a residual arc beside each stage


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_every_shipped_spec_draws_as_valid_svg_with_a_box_per_stage_and_block(path):
    plan = archspec.plan(path)
    stages = [c for c in plan.root.children if re.fullmatch(r"layer\d+", c.name)]
    assert [k for k in boxes_of(svg(plan)) if k.startswith("layer")] == [s.name for s in stages]
    blocks = [f"{s.name}_{b.name}" for s in stages for b in s.children]
    assert [k for k in boxes_of(svg(plan, "blocks")) if k.startswith("layer")] == blocks


def test_zeropad_shortcuts_and_blocks_expanded():
    boxes = boxes_of(svg(archspec.plan("specs/cifar/resnet20.yaml"), "blocks"))
    assert boxes["layer2_0"] == ["layer2.0: basic · 32×16×16", "14 K params · 3.54 M MACs", "shortcut: zero-pad"]
    assert boxes["layer2_1"][-1] == "shortcut: identity"


def test_resnet50_mermaid_nodes_and_edges():
    text = mermaid(archspec.plan("specs/resnet50.yaml"))
    lines = text.splitlines()
    assert lines[:4] == ["---", "title: resnet50 · 25.6 M params · 4.09 G MACs", "---", "flowchart TD"]
    nodes = dict(re.findall(r'^  (\w+)\["(.*)"\]:::\w+$', text, re.M))
    assert list(nodes) == ["input", "stem", "layer1", "layer2", "layer3", "layer4", "head"]
    assert nodes["layer3"] == ("layer3: bottleneck ×6 · 1024×14×14<br/>7.1 M params · 1.46 G MACs<br/>"
                               "shortcut: conv 1×1/2 + batchnorm, then identity ×5")
    edges = re.findall(r"^  (\w+) --> (\w+)$", text, re.M)
    assert edges == [("input", "stem"), ("stem", "layer1"), ("layer1", "layer2"), ("layer2", "layer3"),
                     ("layer3", "layer4"), ("layer4", "head")]


def test_mermaid_escapes_what_would_end_a_label():
    from archspec.commands.diagram import _mermaid_text

    assert _mermaid_text('a "b" <c> #d') == "a #quot;b#quot; #lt;c#gt; #35;d"


@pytest.mark.parametrize("name,start", [("net.svg", "<svg "), ("net.mmd", "---\n"), ("net.md", "```mermaid\n---\n")])
def test_the_file_suffix_chooses_the_format(cli, tmp_path, name, start):
    out = tmp_path / name
    r = cli("diagram", "specs/resnet18.yaml", "-o", out)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", f"wrote {out}\n")
    assert out.read_text(encoding="utf-8").startswith(start)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


@pytest.mark.parametrize("output", [[], ["-o", "-"]])
def test_without_an_output_or_with_dash_the_mermaid_goes_to_stdout(cli, output):
    r = cli("diagram", "specs/resnet18.yaml", "--depth", "blocks", *output)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == mermaid(archspec.plan("specs/resnet18.yaml"), "blocks")


@pytest.mark.parametrize("name,message,code", [
    ("no/such/folder/net.svg", "folder '{tmp}/no/such/folder' does not exist", 1),
    ("net.png", "unknown diagram format: name it .svg, .mmd or .md", 2),  # a usage error, as in export
    ("", "this is a folder; give a file name such as model.safetensors", 1),
])
def test_an_output_that_cannot_be_written_is_one_line_and_writes_nothing(cli, tmp_path, name, message, code):
    out = tmp_path / name
    r = cli("diagram", "specs/resnet18.yaml", "-o", out)
    assert (r.returncode, r.stdout) == (code, "")
    assert r.stderr == f"{out}: error: {message.format(tmp=tmp_path)}\n"
    assert list(tmp_path.iterdir()) == []


def test_the_docs_show_the_real_diagram(cli, tmp_path):
    doc = (ROOT / "docs/review.md").read_text(encoding="utf-8")
    r = cli("diagram", "specs/resnet50.yaml", "-o", tmp_path / "resnet50.md")
    assert r.returncode == 0
    assert (tmp_path / "resnet50.md").read_text(encoding="utf-8") in doc
    cli("diagram", "specs/resnet50.yaml", "-o", tmp_path / "resnet50.svg")
    assert "![resnet50](resnet50.svg)" in doc
    assert (ROOT / "docs/resnet50.svg").read_text(encoding="utf-8") == (tmp_path / "resnet50.svg").read_text(encoding="utf-8")


def test_convnext_downsampling_layers_are_named_by_what_they_are():
    boxes = boxes_of(svg(archspec.plan("specs/convnext_tiny.yaml")))
    assert boxes["layer2"][0] == "layer2: (layernorm2d → conv 2×2/2) ×1 + convnext ×3 · 192×28×28"
    assert boxes["layer2"][2] == "shortcut: none, then identity ×3"
