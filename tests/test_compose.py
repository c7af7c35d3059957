"""Composition (archspec.reading.resolve): built-in names, `extends`, list edits, `null`, `scale`,
`--set`, abstract bases, and every value's origin through all of them."""

import os

import pytest

import archspec
from archspec import SpecError
from archspec.commands.cli import main
from archspec.reading.resolve import make_divisible
from archspec.commands.show import origins, show
from conftest import ROOT, TINY_SPEC, only_issue, run_cli, shipped_specs, spec_id

RESNET101 = 44_549_160
RESNET50 = 25_557_032
RESNET50_FILE = os.path.relpath(ROOT / "specs" / "resnet50.yaml")  # errors name a built-in by a path one can open


def write(folder, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


# ---- references -------------------------------------------------------------------------

def test_a_built_in_name_plans_the_shipped_spec():
    assert archspec.plan("resnet50").params == RESNET50
    assert archspec.plan("resnet20").params == 269_722  # specs/cifar/resnet20.yaml, by its file name


def test_a_path_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "resnet50", TINY_SPEC)
    assert archspec.load("resnet50").name == "tiny"


def test_an_unknown_name_gets_did_you_mean():
    issue = only_issue(lambda: archspec.load("resnt50"))
    assert (issue.file, issue.line, issue.code) == ("resnt50", None, "AS703")
    assert issue.hint.startswith("did you mean 'resnet50'")


def test_stdin_is_read_for_dash_and_located_as_stdin():
    broken = TINY_SPEC.replace("depth: 2, channels: 32", "depth: 0, channels: 32")
    r = run_cli("validate", "-", stdin=broken)
    assert r.returncode == 1
    assert r.stdout.startswith("<stdin>:8:13: error: stages.1.depth: 0 is too small")
    assert run_cli("build", "-", stdin=TINY_SPEC).stdout.splitlines()[0] == "tiny"


# ---- extends ----------------------------------------------------------------------------

STAGES_101 = """\
stages:
  - {depth: 3, channels: 256, stride: 1}
  - {depth: 4, channels: 512, stride: 2}
  - {depth: 23, channels: 1024, stride: 2}
  - {depth: 3, channels: 2048, stride: 2}
"""


def test_a_child_that_replaces_the_stages_list_plans_resnet101(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet50\nname: r101\n" + STAGES_101)
    assert archspec.plan(child).params == RESNET101


def test_a_one_stage_edit_plans_resnet101(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet50\nname: r101\nstages: {2: {depth: 23}}\n")
    spec = archspec.load(child)
    assert [s.channels for s in spec.stages] == [256, 512, 1024, 2048]  # the rest of the stage is the base's
    assert archspec.plan(spec).params == RESNET101


def test_mappings_merge_and_null_removes(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet50\ndescription: null\nhead: {dropout: 0.5}\n"
                                          "defaults: {block: null}\n")
    spec = archspec.load(child)
    assert (spec.description, spec.head.classes, spec.head.dropout) == ("", 1000, 0.5)
    assert spec.defaults.block == "basic"  # back to the default
    assert spec.source.locate(("head", "classes")).file == RESNET50_FILE


def test_a_mapping_of_another_type_replaces_the_base_mapping(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet50\nhead: {type: features, outputs: [layer2, layer4]}\n")
    from_file = archspec.plan(child)
    from_set = archspec.plan("resnet50", overrides=["head={type: features, outputs: [layer2, layer4]}"])
    for p in (from_file, from_set):
        assert p.spec.head.model_dump() == {"type": "features", "outputs": ["layer2", "layer4"]}  # no pool, classes
        assert [(f.name, f.channels, f.reduction) for f in p.features] == [("layer2", 512, 8), ("layer4", 2048, 32)]
        assert p.params == 23_508_032  # ResNet-50 without its 2,049,000-parameter fc


def test_a_list_item_set_to_null_is_removed(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet18\nstages: {3: null}\nhead: {classes: 10}\n")
    assert [s.channels for s in archspec.load(child).stages] == [64, 128, 256]


def test_a_chain_merges_in_order_and_paths_are_relative_to_each_file(tmp_path):
    (tmp_path / "family").mkdir()
    write(tmp_path / "family", "base.yaml", "extends: resnet50\nhead: {classes: 10}\n")
    write(tmp_path / "family", "mid.yaml", "extends: base.yaml\nname: mid\n")
    child = write(tmp_path, "child.yaml", "extends: family/mid.yaml\nstages: {2: {depth: 23}}\n")
    spec = archspec.load(child)
    assert (spec.name, spec.head.classes, spec.stages[2].depth) == ("mid", 10, 23)
    assert spec.source.locate(("head", "classes")) == (str(tmp_path / "family" / "base.yaml"), 2, 17)


def test_a_missing_base_is_located_at_extends_with_the_chain(tmp_path):
    write(tmp_path, "mid.yaml", "extends: nothere.yaml\n")
    child = write(tmp_path, "child.yaml", "name: x\nextends: mid.yaml\n")
    issue = only_issue(lambda: archspec.load(child))
    assert (issue.file, issue.line, issue.column, issue.code) == (child, 2, 10, "AS700")
    assert issue.message == (f"extends mid.yaml, which extends nothere.yaml, which does not exist "
                             f"(looked for {tmp_path / 'nothere.yaml'})")


def test_a_two_file_cycle_and_self_extension(tmp_path):
    a = write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "archspec: 1\nextends: a.yaml\n")
    issue = only_issue(lambda: archspec.load(a))
    assert (issue.line, issue.column, issue.code) == (1, 10, "AS700")
    assert issue.message == "extends b.yaml, which extends a.yaml, which is already in the chain (a cycle)"
    me = write(tmp_path, "me.yaml", "archspec: 1\nextends: me.yaml\n")
    issue = only_issue(lambda: archspec.load(me))
    assert (issue.line, issue.column, issue.code) == (2, 10, "AS701")


def test_a_base_that_is_invalid_itself_is_told_through_the_chain(tmp_path):
    write(tmp_path, "base.yaml", TINY_SPEC.replace("depth: 2, channels: 32", "depth: 0, channels: 32"))
    child = write(tmp_path, "child.yaml", "archspec: 1\nextends: base.yaml\nname: child\n")
    issue = only_issue(lambda: archspec.load(child))
    assert (issue.file, issue.line, issue.column) == (child, 2, 10)
    assert issue.message == (f"extends base.yaml, which has an error at {tmp_path / 'base.yaml'}:8:13: "
                             "stages.1.depth: 0 is too small")


def test_a_base_that_is_not_a_spec_is_refused_unread(tmp_path):
    write(tmp_path, "list.yaml", "- 1\n- 2\n")
    child = write(tmp_path, "child.yaml", "extends: list.yaml\n")
    issue = only_issue(lambda: archspec.load(child))
    assert (issue.line, issue.column) == (1, 10)
    assert issue.message == "extends list.yaml, which is not an archspec spec (it has no `archspec:` line)"


def test_extends_must_name_a_spec(tmp_path):
    child = write(tmp_path, "child.yaml", "archspec: 1\nextends: [a, b]\n")
    issue = only_issue(lambda: archspec.load(child))
    assert (issue.line, issue.column, issue.code) == (2, 10, "AS700")


def test_an_error_set_by_the_base_points_into_the_base(tmp_path):
    base = write(tmp_path, "base.yaml", "abstract: true\ndefaults: {block: bottleneck, width: 64}\n")
    child = write(tmp_path, "child.yaml", TINY_SPEC.replace("archspec: 1\n", "archspec: 1\nextends: base.yaml\n")
                  .replace("defaults: {block: basic, shortcut: auto}\n", "defaults: {block: basic}\n"))
    with pytest.raises(SpecError) as e:
        archspec.plan(child)
    # the same setting fails in every stage: told once, at the base's line
    assert [(i.file, i.line, i.column, i.code) for i in e.value.issues] == [(base, 2, 38, "AS305")]


def test_an_edit_of_a_missing_list_item_is_located_at_its_index(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet50\nstages: {5: {depth: 2}}\n")
    issue = only_issue(lambda: archspec.load(child))
    assert (issue.line, issue.column, issue.code) == (2, 10, "AS706")
    assert issue.message == "stages has 4 items, so there is no item 5"


# ---- abstract bases ---------------------------------------------------------------------

def test_an_abstract_base_validates_as_a_base_and_does_not_build(tmp_path):
    base = write(tmp_path, "base.yaml", "abstract: true\narchspec: 1\ndefaults: {block: bottleneck}\n"
                                        "stem: {type: conv, channels: 64}\n")
    write(tmp_path, "child.yaml", "extends: base.yaml\nname: c\ninput: {size: 64}\nhead: {type: none}\n"
                                  "stages: [{depth: 1, channels: 64}]\n")
    folder = run_cli("validate", tmp_path)
    assert (folder.returncode, folder.stderr) == (0, "2 files checked, 0 invalid\n")
    issue = only_issue(lambda: archspec.load(base))
    assert (issue.file, issue.code) == (base, "AS705")
    typo = write(tmp_path, "typo.yaml", "abstract: true\nstem: {type: conv, chanels: 64}\n")
    r = run_cli("validate", typo)
    assert r.stdout.startswith(f"{typo}:2:20: error: unknown key 'chanels' in stem — did you mean 'channels'?")


# ---- --set and overrides -----------------------------------------------------------------

def test_set_on_the_command_line_prints_resnet101():
    r = run_cli("build", "resnet50", "--set", "stages.2.depth=23")
    assert r.stdout.splitlines()[-1].startswith(f"total: {RESNET101:,} parameters"), r.stderr


@pytest.mark.parametrize("option,message", [
    ("stages.2.dpeth=23", "--set stages.2.dpeth=23: error: unknown key 'dpeth' in stages.2 — did you mean 'depth'?"),
    ("stages.9.depth=2", "--set stages.9.depth=2: error: stages has 4 items, so there is no item 9"),
    ("stages.x.depth=2", "--set stages.x.depth=2: error: stages is a list: 'x' is not an index"),
    ("name.first=a", "--set name.first=a: error: name is a single value, it has no key 'first'"),
    ("stages.2.depth", "--set stages.2.depth: error: expected KEY=VALUE"),
    ("stages..depth=2", "--set stages..depth=2: error: 'stages..depth' is not a key path"),
    ("extends=resnet18", "--set extends=resnet18: error: extends cannot be set from the command line"),
    ("head.dropout=[1", "--set head.dropout=[1: error: did not find expected ',' or ']'"),
])
def test_set_errors_are_located_at_the_option(option, message, capsys):
    assert main(["validate", "resnet50", "--set", option]) == 1  # in this process: no start-up to pay
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(message), out


def test_overrides_in_python_and_deriving_a_spec():
    spec = archspec.load("resnet50")
    deeper = archspec.load(spec, overrides={"stages.2.depth": 23})
    assert (archspec.plan(deeper).params, spec.stages[2].depth) == (RESNET101, 6)
    made = archspec.Spec.model_validate(spec.model_dump())  # a Spec from Python, no YAML behind it
    assert archspec.plan(made, overrides=["head.classes=10"]).output_shape == (10,)


# ---- scale ------------------------------------------------------------------------------

@pytest.mark.parametrize("value,divisor,expected", [
    (32 * 1.1, 8, 32), (16 * 1.1, 8, 16), (24 * 1.2, 8, 32), (3, 8, 8), (100 * 0.5, 8, 48), (83, 8, 80),
    (1280 * 1.4, 8, 1792),
])
def test_make_divisible_is_torchvisions(value, divisor, expected):
    assert make_divisible(value, divisor) == expected


def test_scale_multiplies_depths_and_channels(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet18\nscale: {width: 0.5, depth: 1.5}\n")
    spec = archspec.load(child)
    assert [(s.depth, s.channels) for s in spec.stages] == [(3, 32), (3, 64), (3, 128), (3, 256)]
    assert spec.stem.channels == 32
    stages_only = archspec.load(child, ["scale.apply_to=[stages]"])
    assert stages_only.stem.channels == 64
    assert stages_only.source.locate(("stages", 1, "depth")).file == os.path.relpath(ROOT / "specs" / "resnet18.yaml")  # a scaled value keeps its origin


def test_scale_applies_to_a_regnet_generator():
    spec = archspec.load("regnet_y_400mf", {"scale": {"width": 1.5, "depth": 1.25}})
    assert (spec.stages.depth, spec.stages.w0, spec.stages.wa) == (20, 72, 27.89 * 1.5)


def test_a_bad_scale_is_located(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet18\nscale: {width: 0, detph: 2}\n")
    with pytest.raises(SpecError) as e:
        archspec.load(child)
    assert [(i.line, i.column, i.code) for i in e.value.issues] == [(2, 16, "AS204"), (2, 26, "AS201")]


# ---- show and origins -------------------------------------------------------------------

def test_origins_say_base_child_set_and_default(tmp_path):
    child = write(tmp_path, "child.yaml", "extends: resnet50\nname: r101\nstages: {2: {depth: 23}}\n")
    found = origins(archspec.load(child, ["head.classes=10"]))
    assert found[("stem", "channels")] == (RESNET50_FILE, 7, 30)
    assert found[("stages", 2, "depth")] == (child, 3, 21)
    assert found[("head", "classes")] == ("--set head.classes=10", None, None)
    assert found[("stages", 2, "dilation")] is None  # the default
    text = show(archspec.load(child, ["head.classes=10"]))
    assert "  - depth: 23  # " + child + ":3\n" in text
    assert "  classes: 10  # --set head.classes=10\n" in text
    assert "    dilation: 1  # default\n" in text
    assert f"  channels: 64  # {RESNET50_FILE}:7\n" in text


@pytest.mark.parametrize("name", ["resnet50", "regnet_y_400mf", "resnet50d", "resnetv2_50", "mnist_small",
                                  "resnet50_v1_gn"])
def test_show_round_trips(name, tmp_path):
    spec = archspec.load(name, ["stages.0.depth=2"] if name != "regnet_y_400mf" else ["stages.depth=12"])
    again = archspec.load(write(tmp_path, "shown.yaml", show(spec)))
    a, b = archspec.plan(spec), archspec.plan(again)
    assert (a.params, a.macs, a.layers) == (b.params, b.macs, b.layers)
    assert again.model_dump() == spec.model_dump()


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_every_shipped_spec_shows_as_itself(path, tmp_path):
    spec = archspec.load(path)
    again = archspec.load(write(tmp_path, "shown.yaml", show(spec)))
    a, b = archspec.plan(spec), archspec.plan(again)
    assert (a.params, a.macs, a.layers) == (b.params, b.macs, b.layers)
    assert again.model_dump() == spec.model_dump()


def test_show_on_the_command_line_is_what_build_reads():
    shown = run_cli("show", "resnet50", "--set", "stages.2.depth=23")
    assert shown.returncode == 0, shown.stderr
    built = run_cli("build", "-", stdin=shown.stdout)
    assert built.stdout.splitlines()[-1].startswith(f"total: {RESNET101:,} parameters")


def test_list_prints_every_built_in_spec():
    import json

    entries = json.loads(run_cli("list", "--format", "json").stdout)
    names = [e["name"] for e in entries]
    assert names == sorted(p.stem for p in shipped_specs())
    resnet50 = next(e for e in entries if e["name"] == "resnet50")
    assert (resnet50["params"], resnet50["macs"], resnet50["input"]) == (RESNET50, 4_089_184_256, [3, 224, 224])
    text = run_cli("list").stdout.splitlines()
    assert text[0].split() == ["name", "params", "MACs", "input", "description"]
    assert next(l for l in text if l.startswith("resnet50 ")).split()[:5] == ["resnet50", "25,557,032", "4.09", "G",
                                                                             "3×224×224"]


def test_the_docs_show_the_example_child_as_shipped():
    doc = (ROOT / "docs/spec.md").read_text(encoding="utf-8")
    assert "```yaml\n" + (ROOT / "specs/examples/resnet20_wide.yaml").read_text() + "```" in doc


def test_efficientnet_b1_is_b0_scaled_in_depth(tmp_path):
    child = write(tmp_path, "b1.yaml", "extends: efficientnet_b0\nname: efficientnet_b1\n"
                                       "scale: {width: 1.0, depth: 1.1}\ninput: {size: 240}\n")
    spec = archspec.load(child)
    assert [s.depth for s in spec.stages] == [2, 3, 3, 4, 4, 5, 2]  # torchvision: ceil(depth × 1.1)
    assert archspec.plan(spec).params == 7_794_184  # torchvision's efficientnet_b1


def test_a_spec_on_stdin_extends_built_ins_or_an_allowed_folder(tmp_path):
    write(tmp_path, "base.yaml", TINY_SPEC)
    refused = run_cli("build", "-", stdin="extends: base.yaml\nname: piped\n", cwd=tmp_path)
    assert (refused.returncode, refused.stderr.splitlines()[0]) == (
        1, "<stdin>:1:10: error: extends base.yaml: a spec read from standard input may extend only built-in specs "
           "— move the base into the spec's folder tree, or allow its folder: --allow-extends-outside DIR, "
           "or ARCHSPEC_EXTENDS_ROOTS")
    assert run_cli("build", "-", stdin="extends: resnet18\nname: piped\n", cwd=tmp_path).returncode == 0
    r = run_cli("build", "-", "--set", "head.classes=5", "--allow-extends-outside", ".",
            stdin="extends: base.yaml\nname: piped\n", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:2] == ["piped", "input 3×32×32 → output 5"]


def test_the_shipped_example_child_plans_its_counted_network():
    # ResNet-20 at widths 32/64/128 with depths 3/3/4, counted by hand: stem 928, stages 55,680 +
    # 203,520 + 1,107,968 (zero-pad shortcuts have no weights), fc 1,290
    p = archspec.plan("specs/examples/resnet20_wide.yaml")
    assert [(s.depth, s.channels) for s in p.spec.all_stages] == [(3, 32), (3, 64), (4, 128)]
    assert (p.params, p.spec.head.dropout) == (1_369_386, 0.1)
