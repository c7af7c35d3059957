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


FIRE = """\
archspec: 1
name: tiny_fire
input: {channels: 3, size: 32}
blocks:
  fire:
    params: {channels: int, squeeze: int}
    nodes:
      - {name: squeeze, op: conv, channels: squeeze, kernel: 1, bias: true}
      - {name: squeeze_act, op: relu}
      - {name: expand1x1, op: conv, channels: channels // 2, kernel: 1, bias: true}
      - {name: expand3x3, op: conv, in: squeeze_act, channels: channels // 2, kernel: 3, bias: true}
      - {name: cat, op: concat, in: [expand1x1, expand3x3]}
defaults: {block: fire, norm: none}
stem: {type: conv, channels: 16, kernel: 3, stride: 2, pool: none}
stages:
  - {depth: 1, channels: 32, squeeze: 8}
head: {type: classifier, classes: 10}
"""

CLASSES = """\
  classDef input fill:#f3f4f6,stroke:#6b7280
  classDef stem fill:#dbeafe,stroke:#2563eb
  classDef stage fill:#dcfce7,stroke:#16a34a
  classDef block fill:#dcfce7,stroke:#16a34a
  classDef head fill:#ffedd5,stroke:#ea580c
"""


def fire_plan():
    from archspec.reading.source import parse_source

    return archspec.plan(parse_source(FIRE, "net.yaml"))


def test_a_graph_block_is_a_subgraph_of_its_modules_wired_as_planned():
    assert mermaid(fire_plan(), "blocks") == """\
---
title: tiny_fire · 2.23 K params · 471 K MACs
---
flowchart TD
  input["input<br/>3×32×32"]:::input
  stem["stem: conv 3×3/2 → relu<br/>16×16×16 · 448 params · 111 K MACs"]:::stem
  subgraph layer1_0["layer1.0: fire · 32×16×16<br/>1.45 K params · 360 K MACs<br/>2 branches → concat"]
    layer1_0__squeeze["squeeze: conv 1×1 → relu<br/>8×16×16"]:::block
    layer1_0__expand1x1["expand1x1: conv 1×1<br/>16×16×16"]:::block
    layer1_0__expand3x3["expand3x3: conv 3×3<br/>16×16×16"]:::block
    layer1_0__cat["cat: concat<br/>32×16×16"]:::block
  end
  head["head: global_avgpool → flatten → linear 10<br/>10 · 330 params · 320 MACs"]:::head
  input --> stem
  stem --> layer1_0__squeeze
  layer1_0__squeeze --> layer1_0__expand1x1
  layer1_0__squeeze --> layer1_0__expand3x3
  layer1_0__expand1x1 --> layer1_0__cat
  layer1_0__expand3x3 --> layer1_0__cat
  layer1_0__cat --> head
""" + CLASSES


def test_a_stage_of_graph_blocks_is_one_box_that_says_what_they_do():
    plan = fire_plan()
    assert mermaid(plan).splitlines()[6] == \
        '  layer1["layer1: fire ×1 · 32×16×16<br/>1.45 K params · 360 K MACs<br/>fire ×1: 2 branches → concat"]:::stage'
    boxes = boxes_of(svg(plan))
    assert boxes["layer1"] == ["layer1: fire ×1 · 32×16×16", "1.45 K params · 360 K MACs", "fire ×1: 2 branches → concat"]
    assert ET.fromstring(svg(plan)).findall("svg:g/svg:path", NS) == []  # no residual arc
    assert boxes_of(svg(plan, "blocks"))["layer1_0"][-1] == "2 branches → concat"


def test_shipped_graph_blocks_say_their_splits_and_merges():
    stage = {name: boxes_of(svg(archspec.plan(f"specs/{name}.yaml")))["layer1"][2:]
             for name in ("squeezenet1_1", "shufflenet_v2_x1_0", "densenet121")}
    assert stage == {
        "squeezenet1_1": ["fire ×2: 2 branches → concat"],
        "shufflenet_v2_x1_0": ["shufflenet_unit ×1: 2 branches → concat → channel_shuffle",
                               "shufflenet_unit ×3: split → 2 branches → concat → channel_shuffle"],
        "densenet121": ["dense_layer ×6: input + 1 branch → concat"],
    }


def test_a_split_feeds_its_maps_on_labelled_edges():
    text = mermaid(archspec.plan("specs/shufflenet_v2_x1_0.yaml"), "blocks")
    edges = [line for line in text.splitlines() if "layer1_1__" in line and "-->" in line]
    assert edges == ["  layer1_0__cat --> layer1_1__split",
                     '  layer1_1__split -->|"split.1"| layer1_1__branch2',
                     '  layer1_1__split -->|"split.0"| layer1_1__cat',
                     "  layer1_1__branch2 --> layer1_1__cat",
                     "  layer1_1__cat --> layer1_2__split"]


@pytest.mark.parametrize("depth,sources,into", [
    ("stages", ["layer1", "layer2", "layer3", "layer4"], ["head"] * 4),
    # the head drawn as its graph: each map goes to the module that takes it
    ("blocks", ["layer1_2", "layer2_3", "layer3_5", "layer4_2"], [f"head__inner{k}" for k in range(4)]),
])
def test_a_block_head_takes_an_edge_from_each_stage_it_reads(depth, sources, into):
    plan = archspec.plan("specs/examples/resnet50_fpn.yaml")
    edges = re.findall(r'^  (\w+) -->(?:\|"(.*)"\|)? (\w+)$', mermaid(plan, depth), re.M)
    assert sorted(e for e in edges if e[2].startswith("head")
                  and not e[0].startswith("head")) == [(s, f"c{k}", i) for s, k, i in zip(sources, range(2, 6), into)]
    assert sources[-1] not in [a for a, label, b in edges if not label]  # not also the plain edge into the head
    takes = "takes c2 ← layer1, c3 ← layer2, c4 ← layer3, c5 ← layer4"
    assert boxes_of(svg(plan, depth))["head"][-1] == takes


def test_a_block_head_that_reads_the_stem_says_which_of_its_layers():
    plan = archspec.plan("specs/examples/unet_resnet34.yaml")
    assert boxes_of(svg(plan))["head"][-1] == "takes f1 ← relu (stem), f2 ← layer1, f3 ← layer2, f4 ← layer3, f5 ← layer4"
    assert '  stem -->|"f1"| head' in mermaid(plan).splitlines()


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_every_mermaid_edge_joins_declared_nodes(path):
    text = mermaid(archspec.plan(path), "blocks")
    declared = re.findall(r'^ +(?:subgraph )?(\w+)\["', text, re.M)
    assert len(declared) == len(set(declared))
    edges = re.findall(r'^  (\w+) -->(?:\|"[^"]*"\|)? (\w+)$', text, re.M)
    assert len(edges) == text.count("-->")
    assert {n for e in edges for n in e} <= set(declared)
    assert text == mermaid(archspec.plan(path), "blocks")  # deterministic


def test_the_docs_show_the_real_lines_of_a_graph_block(cli):
    doc = (ROOT / "docs/review.md").read_text(encoding="utf-8")
    excerpt = re.search(r"--depth blocks` \(a test keeps them current\):\n\n```text\n(.*?)```", doc, re.S).group(1)
    r = cli("diagram", "specs/squeezenet1_1.yaml", "--depth", "blocks")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    shown = excerpt.splitlines()
    start = lines.index(shown[0])
    assert lines[start:start + 6] == shown[:6]  # the subgraph as written
    assert shown[6:] == [line for line in lines if "-->" in line and "layer1_0__" in line]  # its edges


def test_an_svg_block_box_draws_its_graph_in_rows_wired_as_planned():
    root = ET.fromstring(svg(fire_plan(), "blocks"))
    graph = root.find("svg:g[@id='layer1_0']/svg:g[@class='graph']", NS)
    texts = [t.text for t in graph.findall("svg:text", NS)]
    assert texts == ["squeeze: conv 1×1 → relu", "8×16×16", "expand1x1: conv 1×1", "16×16×16",
                     "expand3x3: conv 3×3", "16×16×16", "cat: concat", "32×16×16"]
    tops = [float(r.get("y")) for r in graph.findall("svg:rect", NS)]
    assert tops[0] < tops[1] == tops[2] < tops[3]  # the two branches side by side, between squeeze and cat
    # the block's input into squeeze, squeeze into each branch, each branch into cat
    assert len(graph.findall("svg:line", NS)) == 5 and graph.findall("svg:path", NS) == []


def test_an_svg_edge_past_a_row_curves_around_it_with_its_label():
    root = ET.fromstring(svg(archspec.plan("specs/shufflenet_v2_x1_0.yaml"), "blocks"))
    graph = root.find("svg:g[@id='layer1_1']/svg:g[@class='graph']", NS)
    assert [t.text for t in graph.findall("svg:text", NS) if t.text.startswith("split.")] == ["split.1", "split.0"]
    assert len(graph.findall("svg:path", NS)) == 1  # split.0 goes past branch2's row to cat
    assert len(graph.findall("svg:line", NS)) == 3


def test_a_block_head_is_drawn_as_its_graph_at_depth_blocks():
    plan = archspec.plan("specs/examples/unet_resnet34.yaml")
    lines = mermaid(plan, "blocks").splitlines()
    assert '    head__block0["block0: up<br/>256×16×16"]:::head' in lines
    assert [l for l in lines if "-->" in l and "head__block0" in l] == [
        '  layer4_2 -->|"f5"| head__block0', '  layer3_5 -->|"f4"| head__block0', "  head__block0 --> head__block1"]
    graph = ET.fromstring(svg(plan, "blocks")).find("svg:g[@id='head']/svg:g[@class='graph']", NS)
    assert [t.text for t in graph.findall("svg:text", NS) if t.text.startswith("f")] == ["f5", "f4", "f3", "f2", "f1"]
    assert ET.fromstring(svg(plan)).find("svg:g[@id='head']/svg:g", NS) is None  # at depth stages: its box only
