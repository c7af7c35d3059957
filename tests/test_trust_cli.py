"""The command line and the Python API as a new user meets them: output that cannot be
written, what-ifs, folders of mixed YAML, narrow terminals, --help, and the API's names."""

import argparse
import os
import sys

import pytest

import archspec
from archspec.commands.cli import _parser
from conftest import SPECS, run_cli, shipped_specs

NO_SPACE = "archspec: error: cannot write to standard output: No space left on device\n"

PRINTING = {  # each command that prints to stdout, run so that it does
    "validate": ["validate", "--format", "json", "specs/resnet18.yaml"],
    "build": ["build", "resnet18"],
    "show": ["show", "resnet50"],
    "list": ["list"],
    "diff": ["diff", "resnet18", "resnet34"],
    "diagram": ["diagram", "resnet18"],
    "schema": ["schema"],
    "eject": ["eject", "resnet18"],
}


def _closed_pipe():
    """The writing end of a pipe whose reader has gone: `archspec … | head -1` after head exits."""
    read, write = os.pipe()
    os.close(read)
    return open(write, "w", encoding="utf-8")


@pytest.mark.parametrize("command", PRINTING)
def test_a_full_stdout_is_one_line_and_exit_1(cli, monkeypatch, command):
    with open("/dev/full", "w", encoding="utf-8") as full:
        monkeypatch.setattr(sys, "stdout", full)
        r = cli(*PRINTING[command])
    assert (r.returncode, r.stderr) == (1, NO_SPACE)


@pytest.mark.parametrize("command", PRINTING)
def test_a_closed_pipe_ends_in_silence_and_141(cli, monkeypatch, command):
    with _closed_pipe() as pipe:
        monkeypatch.setattr(sys, "stdout", pipe)
        r = cli(*PRINTING[command])
    assert (r.returncode, r.stderr) == (141, "")


def test_a_process_whose_stdout_fails_leaves_no_traceback_at_exit(tmp_path):
    with open("/dev/full", "w") as full:
        r = run_cli("show", "resnet50", stdout=full)
    assert (r.returncode, r.stderr) == (1, NO_SPACE)
    with _closed_pipe() as pipe:
        r = run_cli("schema", stdout=pipe)
    assert (r.returncode, r.stderr) == (141, "")


@pytest.mark.parametrize("args", [["validate", "-", "-"], ["validate", "specs/resnet18.yaml", "-", "-"],
                                  ["diff", "-", "-"]])
def test_standard_input_is_read_once(cli, args):
    r = cli(*args)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"archspec: error: {args[0]}: standard input (-) can be read only once\n"


# ---- what-ifs: the table first, the budget's verdict after it ------------------------------------

def test_max_params_without_o_prints_the_table_and_warns(cli):
    r = cli("build", "resnet18", "--max-params", "10M", "--depth", "stages")
    assert r.returncode == 0
    assert r.stdout.startswith("resnet18: ResNet-18 (He et al. 2015), torchvision layout\n")
    assert r.stderr == ("specs/resnet18.yaml: warning: the network has 11,689,512 parameters, more than the build limit of "
                        "10,000,000 — raise the limit with --max-params (build(max_params=...))\n")


def test_a_budget_that_holds_at_the_specs_input_is_a_warning_at_another(cli, write_spec):
    spec = write_spec("extends: resnet18\nconstraints: {max_macs: 2G}\n")
    assert cli("build", spec).returncode == 0
    r = cli("build", spec, "--input", "3x512x512", "--depth", "stages")
    assert r.returncode == 0
    assert r.stdout.splitlines()[1] == "input 3×512×512 → output 1000"
    assert r.stderr == (f"{spec}:2:25: warning: the network needs 9,475,444,736 MACs (9.48 G) at 3×512×512, more "
                        "than max_macs 2,000,000,000 — stages.0 (layer1) has 2,415,919,104 of them (25%): make it "
                        "narrower or shallower, use a smaller input, or raise max_macs\n")


# ---- validate FOLDER: hidden folders, other tools' YAML, --exclude, an empty folder -------------

@pytest.fixture
def repo(tmp_path):
    """A repository's files: a spec, a CI workflow, a training config, and a spec in configs/."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text("on: push\njobs: {}\n")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "net.yaml").write_text("extends: resnet18\nname: net\n")
    (tmp_path / "train.yaml").write_text("lr: 0.1\nepochs: 90\n")
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "broken.yaml").write_text("archspec: 1\nname: broken\n")
    return tmp_path


def test_validate_skips_hidden_folders_and_notes_other_yaml_once(cli, repo):
    r = cli("validate", repo, "--exclude", "configs")
    assert r.returncode == 0
    assert r.stdout == (f"{repo}/train.yaml: note: not an archspec spec (no `archspec:` key): not checked — "
                        "add `archspec: 1` to check it, or --exclude it\n")
    assert r.stderr == "1 file checked, 0 invalid\n"


def test_without_exclude_the_broken_spec_is_checked(cli, repo):
    r = cli("validate", repo, "--exclude", "train.yaml", "--format", "github")
    assert r.returncode == 1
    assert r.stdout.startswith(f"::error file={repo}/configs/broken.yaml,line=1,col=1,title=archspec AS202::")
    assert r.stderr == "2 files checked, 1 invalid\n"


def test_a_note_is_a_github_notice_and_not_a_warning_under_strict(cli, repo):
    r = cli("validate", repo / "train.yaml", repo / "specs", "--strict")
    assert r.returncode == 1  # train.yaml named on its own is checked as a spec
    r = cli("validate", repo, "--exclude", "configs/*", "--strict", "--format", "github")
    assert r.returncode == 0
    assert r.stdout == (f"::notice file={repo}/train.yaml,title=archspec AS105::not an archspec spec (no `archspec%3A` "
                        "key)%3A not checked — add `archspec: 1` to check it, or --exclude it\n"
                        .replace("archspec%3A", "archspec:").replace("key)%3A", "key):"))


def test_an_empty_folder_is_a_usage_error_without_a_count(cli, tmp_path):
    r = cli("validate", tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (2, f"{tmp_path}: error: no *.yaml or *.yml files in this folder\n", "")


def test_a_folder_of_other_yaml_only_says_so(cli, repo):
    r = cli("validate", repo / ".github" / "workflows", repo / "train.yaml", "--exclude", "train.yaml")
    assert r.returncode == 2
    assert r.stdout == (f"{repo}/.github/workflows/ci.yml: note: not an archspec spec (no `archspec:` key): not "
                        "checked — add `archspec: 1` to check it, or --exclude it\n"
                        f"{repo}/.github/workflows: error: no archspec specs in this folder (1 other YAML file)\n")


# ---- AS503: the hint follows what changed --------------------------------------------------------

@pytest.mark.parametrize("spec,size,line", [
    ("resnet18", "1x224x224",
     "specs/resnet18.yaml:5:19: warning: the input 1×224×224 changes the parameter count: 11,683,240 against 11,689,512 at "
     "the spec's input 3×224×224 (conv1 depends on the input's channels) — weights made for 3×224×224 will not load "
     "into this network; give 3 channels (--input 3x224x224)"),
    ("specs/examples/mnist_small.yaml", "56",
     "specs/examples/mnist_small.yaml:16:32: warning: the input 1×56×56 changes the parameter count: 106,186 against "
     "85,066 at the spec's input 1×28×28 (fc depends on the input size) — weights made for 1×28×28 will not load into "
     "this network; a `pool: avg` head accepts any size"),
])
def test_as503_points_at_what_changed(cli, spec, size, line):
    r = cli("build", spec, "--input", size)
    assert (r.returncode, r.stderr) == (0, line + "\n")


# ---- features heads: every output in the summary and the diagram ---------------------------------

def test_a_features_head_shows_each_output(cli, write_spec):
    spec = write_spec("extends: resnet18\nhead: {type: features, outputs: [layer2, layer3, layer4]}\n")
    r = cli("build", spec)
    assert r.stdout.splitlines()[1] == ("input 3×224×224 → outputs layer2 128×28×28 (stride 8), "
                                        "layer3 256×14×14 (stride 16), layer4 512×7×7 (stride 32)")
    marks = [line for line in cli("diagram", spec).stdout.splitlines() if "▶" in line]
    assert [m.split('"')[1].split("<br/>")[1] for m in marks] == [
        "▶ output 0 (layer2): 128×28×28, stride 8", "▶ output 1 (layer3): 256×14×14, stride 16",
        "▶ output 2 (layer4): 512×7×7, stride 32"]


# ---- --input everywhere, and as one number -------------------------------------------------------

def test_diagram_and_diff_take_input_as_one_size(cli):
    assert '  input["input<br/>3×64×64"]:::input' in cli("diagram", "resnet18", "--input", "64").stdout.splitlines()
    r = cli("diff", "resnet18", "resnet18", "--set", "stages.1.depth=3", "--input", "64")
    assert r.stdout.splitlines()[3].split() == ["layer2", "stages.1", "depth", "2", "→", "3", "128×8×8", "+295,424",
                                                "+18.87", "M", "+130.00", "KiB"]
    assert cli("build", "resnet18", "--input", "96x64").stdout.splitlines()[1] == "input 3×96×64 → output 1000"


def test_every_option_has_help_and_every_command_examples():
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert len(commands) == 12
    for name, command in commands.items():
        assert command.epilog.startswith("examples:\n  archspec "), name
        assert command.epilog.count(f"archspec {name} ") >= 1, name
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings or action.dest}"


# ---- tables fit the terminal ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [["list"], ["diff", "resnet50", "resnet101", "--set", "stem.channels=32"]])
def test_tables_fit_a_60_column_terminal(cli, monkeypatch, args):
    wide = cli(*args).stdout
    monkeypatch.setenv("COLUMNS", "60")
    narrow = cli(*args).stdout
    assert max(map(len, wide.splitlines())) > 60
    assert max(map(len, narrow.splitlines())) <= 60
    assert " ".join(narrow.split()).count("torchvision layout") == " ".join(wide.split()).count("torchvision layout")


def test_list_takes_a_pattern_as_the_api_does(cli):
    r = cli("list", "resnet1*")
    names = ["resnet101", "resnet110", "resnet152", "resnet18", "resnet18_yaml_blocks"]
    assert [line.split()[0] for line in r.stdout.splitlines()] == ["name", *names]
    assert archspec.list_models("resnet1*") == names
    assert archspec.list_models("*") == sorted(p.stem for p in shipped_specs())  # design spaces are not models
    r = cli("list", "vit*")
    assert (r.returncode, r.stderr) == (2, "archspec: error: no built-in spec matches 'vit*'; `archspec list` shows "
                                           "them all\n")


# ---- show ----------------------------------------------------------------------------------------

def test_show_leaves_out_defaults_the_block_kinds_do_not_use(cli):
    basic = cli("show", "resnet18").stdout
    bottleneck = cli("show", "resnet50").stdout
    assert "stride_on" not in basic and "layer_scale" not in basic
    assert '  stride_on: "3x3"  # default\n' in bottleneck


def test_show_says_what_scale_changed_and_what_was_inherited(cli, write_spec):
    child = write_spec("extends: resnet50\nname: narrow\nscale: {width: 0.5}\n")
    lines = cli("show", child).stdout.splitlines()
    assert lines[2] == ('description: "ResNet-50 v1.5 (stride on the 3×3 conv), torchvision layout"  '
                        "# inherited from specs/resnet50.yaml:4")
    assert "    channels: 128  # scale 0.5 of 256 at specs/resnet50.yaml:9" in lines


# ---- export progress -----------------------------------------------------------------------------

@pytest.mark.parametrize("terminal,lines", [
    (True, ["archspec: building the model…", "archspec: exporting to pt2…", "archspec: verifying against eager…"]),
    (False, []),
])
def test_export_says_what_it_does_on_a_terminal_only(cli, monkeypatch, tmp_path, write_spec, terminal, lines):
    spec = write_spec("archspec: 1\nname: t\ninput: {channels: 3, size: 16}\nstem: {type: conv, channels: 8, pool: "
                      "none}\nstages: [{depth: 1, channels: 8}]\nhead: {type: classifier, classes: 2}\n")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: terminal)
    r = cli("export", spec, "-o", tmp_path / "t.pt2")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines()[:-1] == lines
    assert r.stderr.splitlines()[-1].startswith(f"wrote {tmp_path / 't.pt2'}: dynamic batch, height, width")


# ---- the Python API ------------------------------------------------------------------------------

def test_dir_lists_the_api():
    assert [n for n in dir(archspec) if not n.startswith("_")] == [
        "Issue", "Layer", "Plan", "Spec", "SpecError", "TorchMissing", "WeightsError", "WriteError", "build", "fit",
        "fuse", "limits", "list_models", "load", "load_model", "load_weights", "plan", "sample", "save"]


def test_num_classes_sets_the_heads_classes_and_is_checked():
    assert archspec.build("resnet18", num_classes=10, device="meta").fc.out_features == 10
    assert archspec.build("resnet18", num_classes=10, overrides=["stages.1.depth=3"], device="meta").fc.out_features == 10
    with pytest.raises(ValueError, match=r"^num_classes: expected a whole number ≥ 1, got 0$"):
        archspec.build("resnet18", num_classes=0)
    with pytest.raises(archspec.SpecError) as e:
        archspec.build("resnet18", num_classes=10, overrides={"head.type": "features", "head.outputs": ["layer4"]})
    assert str(e.value).startswith('overrides["head.classes"]: error:')


def test_an_overrides_typo_is_named_as_the_api_wrote_it():
    with pytest.raises(archspec.SpecError) as e:
        archspec.plan("resnet18", overrides={"stages.9.depth": 3})
    assert str(e.value) == ('overrides["stages.9.depth"]: error: stages has 4 items, so there is no item 9 — '
                            "index items from 0 (here 0 to 3), or 4 to append one")


def test_a_weights_report_prints_for_a_person():
    import torch

    model = archspec.build("resnet18", seed=0)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    state["fc.weight"] = torch.zeros(10, 512)
    report = archspec.load_weights(model, state, strict=False)
    assert str(report).splitlines() == [
        "archspec (torchvision/timm ResNet) names: 120 of the model's 122 tensors fit (11,176,512 of 11,689,512 "
        "parameters)",
        "1 missing, 0 unexpected, 1 of the wrong shape, 0 duplicated:",
        "  fc.weight: shape [10, 512] does not fit fc.weight [1000, 512]",
        "  fc.bias: missing from the state_dict"]
    assert repr(report) == ("WeightsReport(convention='archspec (torchvision/timm ResNet)', ok=False, fits=120/122, "
                            "missing=1, unexpected=0, mismatched=1, duplicates=0)")


# ---- hostile YAML in a folder `validate` searches ------------------------------------------------

HOSTILE = SPECS.parent / "tests" / "hostile"
OTHER_YAML = ["cli_other_yaml_alias_bomb.yaml", "cli_other_yaml_deep.yaml", "cli_other_yaml_escape_keys.yaml",
              "cli_other_yaml_list.yaml"]


def test_other_yaml_that_cannot_be_read_safely_is_an_error_not_a_note(cli, tmp_path):
    for name in OTHER_YAML:
        (tmp_path / name).write_bytes((HOSTILE / name).read_bytes())
    r = cli("validate", tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        f"{tmp_path}/cli_other_yaml_escape_keys.yaml: note: not an archspec spec (no `archspec:` key): not checked — "
        "add `archspec: 1` to check it, or --exclude it",
        f"{tmp_path}/cli_other_yaml_alias_bomb.yaml:7:4: error: aliases expand to more than 20,000 nodes — a spec "
        "never needs this many",
        f"{tmp_path}/cli_other_yaml_deep.yaml:2:77: error: nesting is deeper than 64 levels — a spec never nests this "
        "deep: check for runaway brackets or aliases",
        f"{tmp_path}/cli_other_yaml_list.yaml:2:1: error: the top level must be a mapping of keys (archspec, name, "
        "input, ...), not a list"]
    assert r.stderr == "3 files checked, 3 invalid\n"


def test_a_file_name_with_escape_codes_is_printed_escaped(cli, tmp_path):
    (tmp_path / "ci\x1b[2J.yaml").write_text("on: push\n")
    r = cli("validate", tmp_path, "--exclude", "\x1b*")
    assert r.stdout.startswith(f"{tmp_path}/ci\\x1b[2J.yaml: note: not an archspec spec")
    r = cli("list", "\x1b]0;owned\x07*")
    assert r.stderr == "archspec: error: no built-in spec matches '\\x1b]0;owned\\x07*'; `archspec list` shows them all\n"


def test_a_network_over_the_build_limit_is_planned_but_not_built(cli, tmp_path):
    spec = HOSTILE / "over_build_limit.yaml"
    out = tmp_path / "m.safetensors"
    r = cli("build", spec, "-o", out)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"{spec}: error: the network has 5,440,153,178 parameters, more than the build limit of 4,000,000,000 — raise "
        "the limit with --max-params (build(max_params=...))", f"archspec: nothing written to {out}"]
    assert list(tmp_path.iterdir()) == []
