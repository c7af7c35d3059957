"""`archspec validate` as CI runs it: output formats, exit codes, no torch."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

CI = ROOT / "tests" / "data" / "ci"
BROKEN = ["tests/data/ci/broken.yaml", "tests/data/ci/over_budget.yaml", "tests/data/ci/shape_error.yaml"]


def archspec(*args: str, flags: tuple = ()) -> subprocess.CompletedProcess:
    """Run the checkout's CLI as CI would, from the repository root."""
    return subprocess.run([sys.executable, *flags, "-m", "archspec", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, encoding="utf-8")


@pytest.mark.parametrize("format", ["text", "json", "github"])
def test_each_format_gives_exactly_the_expected_output(format):
    result = archspec("validate", "--format", format, *BROKEN)
    assert result.stdout == (CI / f"expected.{format}").read_text(encoding="utf-8")
    assert result.stderr == "3 files checked, 3 invalid, 1 warning\n"
    assert result.returncode == 1


def test_the_broken_spec_reports_seven_errors_of_six_codes_in_line_order():
    issues = json.loads(archspec("validate", "--format", "json", BROKEN[0]).stdout)
    assert [(i["line"], i["column"], i["code"]) for i in issues] == [
        (3, 28, "AS204"), (4, 19, "AS205"), (5, 34, "AS201"), (7, 13, "AS203"),
        (8, 5, "AS202"), (9, 50, "AS204"), (10, 27, "AS203")]


def test_text_format_is_path_line_column_severity_message_hint():
    result = archspec("validate", BROKEN[2])
    assert result.stdout == (
        "tests/data/ci/shape_error.yaml:8:5: error: layer2.0: identity shortcut cannot carry "
        "256×56×56 to 512×28×28 (stride 2, channels change) — use `shortcut: auto` or `projection`\n")


def test_json_of_valid_specs_is_an_empty_list():
    result = archspec("validate", "--format", "json", "specs/resnet18.yaml")
    assert (result.stdout, result.returncode) == ("[]\n", 0)


def test_shipped_specs_are_valid_without_warnings():
    result = archspec("validate", "--strict", "specs")
    assert (result.stdout, result.returncode) == ("", 0)
    assert result.stderr.endswith(" checked, 0 invalid\n")


def test_warnings_exit_0_unless_strict(write_spec):
    text = (CI / "over_budget.yaml").read_text().replace("constraints: {max_params: 25.5M, max_macs: 4.1G}\n", "")
    path = write_spec(text)
    relaxed, strict = archspec("validate", str(path)), archspec("validate", "--strict", str(path))
    assert relaxed.stdout == strict.stdout == (
        f"{path}:9:50: warning: stages.2 (layer3): bottleneck width 2048 is larger than its 1024 output channels — "
        "a bottleneck narrows: the default width is channels / 4 = 256; are width and channels swapped?\n")
    assert (relaxed.returncode, strict.returncode) == (0, 1)
    assert relaxed.stderr == "1 file checked, 0 invalid, 1 warning\n"


def test_missing_paths_are_usage_errors_in_every_format(tmp_path):
    missing = str(tmp_path / "nope.yaml")
    github = archspec("validate", "--format", "github", missing)
    assert (github.stdout, github.returncode) == (f"::error file={missing},title=archspec AS100::no such file or folder\n", 2)
    issues = json.loads(archspec("validate", "--format", "json", str(tmp_path)).stdout)
    assert issues == [{"file": str(tmp_path), "line": None, "column": None, "severity": "error", "code": "AS100",
                       "message": "no *.yaml or *.yml files in this folder", "hint": ""}]


def test_build_fails_on_a_budget_and_prints_warnings(write_spec):
    result = archspec("build", BROKEN[1])
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith("tests/data/ci/over_budget.yaml:9:50: warning: stages.2 (layer3):")
    assert result.stderr.splitlines()[1].startswith("tests/data/ci/over_budget.yaml:12:27: error: the network has 269,656,104")


@pytest.mark.parametrize("command", [["validate", "specs", "tests/data/ci"], ["schema"],
                                     ["build", "specs/regnet_y_400mf.yaml"]])  # a generated plan, no -o
def test_validate_schema_and_planning_never_import_torch(command):
    result = archspec(*command, flags=("-X", "importtime"))
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}
    assert "archspec.reading.spec" in imported
    assert not {name for name in imported if name.split(".")[0] == "torch"}


def test_every_error_code_in_the_source_is_documented():
    used = {code for path in (ROOT / "archspec").rglob("*.py")
            for code in re.findall(r'"(AS\d{3})"', path.read_text(encoding="utf-8"))} - {"AS000"}
    doc = (ROOT / "docs/ci.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| (AS\d{3}) \|", doc, re.M))
    assert used <= documented, f"add these codes to the error-code table in docs/ci.md: {sorted(used - documented)}"


def test_pre_commit_hooks_run_validate_on_the_specs_they_select():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["archspec-validate", "archspec-validate-system"]
    for hook in hooks:
        assert hook["entry"] == "archspec validate"
        selected = [p for p in ["specs/resnet18.yaml", "models/specs/a.yml", "tests/data/ci/broken.yaml", "x.py"]
                    if re.search(hook["files"], p)]
        assert selected == ["specs/resnet18.yaml", "models/specs/a.yml"]
    assert archspec(*hooks[0]["entry"].split()[1:], "specs/resnet18.yaml", "specs/cifar/resnet20.yaml").returncode == 0


def test_schema_command_prints_the_shipped_schema():
    result = archspec("schema")
    assert (result.stdout, result.returncode) == ((ROOT / "archspec.schema.json").read_text(encoding="utf-8"), 0)
