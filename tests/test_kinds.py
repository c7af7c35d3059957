"""Block kinds are declared once (archspec/planning/kinds.py, their layouts in planning/blocks/): the
schema, the table in docs/spec.md, the "does not apply" error, the planner and the initialisation all
follow the declarations."""

import os
import re
import shutil
import subprocess
import sys
import typing

import pytest

import archspec
from archspec import SpecError
from archspec.planning.kinds import INIT_SCHEMES, KINDS, NETWORK, SETTINGS, applies, kinds_table
from archspec.reading.spec import json_schema
from conftest import ROOT, run_cli, run_python


def test_the_docs_block_table_is_the_declarations():
    """If this fails, paste `python -c 'from archspec.planning.kinds import kinds_table; print(kinds_table())'`."""
    doc = (ROOT / "docs/spec.md").read_text(encoding="utf-8")
    assert kinds_table() in doc


def test_schema_lists_every_kind_and_every_setting_with_its_description():
    defs = json_schema()["$defs"]
    assert defs["Defaults"]["properties"]["block"]["enum"] == list(KINDS)
    for model in ("Defaults", "Stage"):
        for name, setting in SETTINGS.items():
            assert setting.description in defs[model]["properties"][name]["description"], (model, name)


def test_compile_knows_primitives_and_init_schemes_never_block_kinds():
    from archspec.building import compile as compile_module

    source = (ROOT / "archspec" / "building" / "compile.py").read_text(encoding="utf-8")
    assert not [k for k in KINDS if f'"{k}"' in source and k not in INIT_SCHEMES]  # a family may name both
    assert "isinstance" not in source
    assert set(compile_module.INIT) == set(INIT_SCHEMES)
    assert {k.init for k in KINDS.values()} <= set(INIT_SCHEMES)


SPEC = """\
archspec: 1
name: net
input: {{channels: 3, size: 32}}
defaults: {{block: {kind}}}
stem: {{type: conv, channels: 16, kernel: 3, stride: 1, pool: none}}
stages:
  - {{depth: 1, channels: 16, {setting}: {value}}}
head: {{type: classifier, classes: 10}}
"""


def _value(setting) -> str:
    return str(setting.default).lower() if setting.default is not None else "1"


INAPPLICABLE = [(k, s) for k in KINDS for s in SETTINGS if not applies(s, k)]


@pytest.mark.parametrize("kind, setting", INAPPLICABLE, ids=[f"{s}-on-{k}" for k, s in INAPPLICABLE])
def test_a_setting_a_kind_has_no_use_for_is_a_schema_error_at_it(write_spec, kind, setting):
    text = SPEC.format(kind=kind, setting=setting, value=_value(SETTINGS[setting]))
    path = write_spec(text)
    with pytest.raises(SpecError) as e:
        archspec.load(str(path))  # the schema stage: before any planning
    (issue,) = e.value.issues
    column = text.splitlines()[6].index(f"{setting}: ") + len(setting) + 3
    assert (issue.line, issue.column, issue.code) == (7, column, "AS305")
    assert issue.message == f"stages.0.{setting}: `{setting}` does not apply to {kind} blocks"
    assert "it applies to" in issue.hint and kind not in issue.hint.split(";")[0].split()


def test_network_wide_settings_apply_to_every_kind():
    assert all(applies(s.name, k) for s in NETWORK for k in KINDS)


def test_a_default_must_apply_to_every_stage_that_inherits_it(write_spec):
    text = SPEC.format(kind="bottleneck", setting="block", value="basic").replace(
        "defaults: {block: bottleneck}", "defaults: {block: bottleneck, groups: 2}")
    with pytest.raises(SpecError) as e:
        archspec.load(str(write_spec(text)))
    (issue,) = e.value.issues
    assert (issue.line, issue.column, issue.code) == (4, 39, "AS305")
    assert issue.message == "defaults.groups: `groups` does not apply to basic blocks (stage 1)"


NEW_LAYOUT = '''\
"""A plain block: one 3×3 conv, norm and act; no shortcut."""

from ..nodes import sequential
from ..primitives.act import act
from ..primitives.conv import conv
from ..primitives.norm import norm


def layout(name, x, p, s):
    c = conv("conv1", x, p.channels, 3, p.stride, bias=s.norm == "none")
    return sequential(name, [c, norm("bn1", s, c.shape), act(s.act, s.act, c.shape)], label="plain")


LAYOUTS = {"plain": layout}
'''
NEW_DECLARATION = '''    Kind("plain", "one 3×3 conv, norm and act (VGG)"),
'''
USE_IT = """\
import sys
import typing
import torch
import archspec
from archspec.planning.kinds import kinds_table
p = archspec.plan(sys.argv[1])
m = archspec.build(p, seed=0)
assert "| `plain` | one 3×3 conv, norm and act (VGG) |" in kinds_table()
print(p.params, sum(t.numel() for t in m.parameters()), tuple(m(torch.zeros(1, 3, 32, 32)).shape))
"""


def test_adding_a_kind_is_one_declaration_and_one_layout_file(tmp_path, write_spec):
    """A copy of archspec plus a declaration in kinds.py and a layout file in blocks/: the new kind
    validates, plans and builds."""
    shutil.copytree(ROOT / "archspec", tmp_path / "archspec", ignore=shutil.ignore_patterns("__pycache__"))
    kinds = tmp_path / "archspec" / "planning" / "kinds.py"
    text = kinds.read_text(encoding="utf-8")
    end = "\n)\nKINDS: dict[str, Kind]"
    assert text.count(end) == 1
    kinds.write_text(text.replace(end, "\n" + NEW_DECLARATION.rstrip("\n") + end), encoding="utf-8")
    (tmp_path / "archspec" / "planning" / "blocks" / "plain.py").write_text(NEW_LAYOUT, encoding="utf-8")
    spec = write_spec(SPEC.format(kind="plain", setting="stride", value=2), "plain.yaml")
    r = run_python("-c", USE_IT, spec, cwd=tmp_path, env=dict(os.environ))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2970", "2970", "(1,", "10)"]  # stem 3·16·9 + 32, block 16·16·9 + 32, fc 16·10 + 10
    bad = write_spec(SPEC.format(kind="plain", setting="groups", value=2), "bad.yaml")
    r = run_cli("validate", bad, cwd=tmp_path, env=dict(os.environ))  # the copy's package, not this checkout's
    assert re.search(r"bad.yaml:7:\d+: error: stages.0.groups: `groups` does not apply to plain blocks", r.stdout)


def test_a_declared_kind_without_a_layout_is_refused_at_import(tmp_path):
    shutil.copytree(ROOT / "archspec", tmp_path / "archspec", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "archspec" / "planning" / "blocks" / "regnet.py").unlink()
    r = subprocess.run([sys.executable, "-c", "import archspec.planning.plan"], cwd=tmp_path, capture_output=True,
                       text=True)
    assert r.returncode == 1 and "TypeError: block kinds declared and laid out differ: ['regnet']" in r.stderr


def test_the_schema_reads_the_declarations_without_the_planner():
    r = subprocess.run([sys.executable, "-c", "import sys, archspec.reading.spec; "
                        "print(sorted(m for m in sys.modules if m.startswith('archspec.planning')))"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.split() == ["['archspec.planning',", "'archspec.planning.kinds']"]


def _types(union) -> set[str]:
    """The `type:` values of an annotated union of stem or head models."""
    models = typing.get_args(typing.get_args(union)[0])
    return {typing.get_args(m.model_fields["type"].annotation)[0] for m in models}


def test_stems_and_heads_are_declared_and_laid_out_by_type():
    from archspec.planning.kinds import HEADS, STEMS
    from archspec.planning.parts import HEAD_LAYOUTS, STEM_LAYOUTS
    from archspec.reading.spec import Head, Stem

    assert _types(Stem) == set(STEMS) == set(STEM_LAYOUTS) == {"conv", "deep", "patchify", "none"}
    assert _types(Head) == set(HEADS) == set(HEAD_LAYOUTS) == {"classifier", "conv_classifier", "features", "none",
                                                                "block"}
    source = (ROOT / "archspec" / "planning" / "plan.py").read_text(encoding="utf-8")
    assert not re.search(r"isinstance\(stem|Stem\b", source)  # the planner asks the declared layout
