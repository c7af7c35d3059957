"""The JSON Schema for editors: shipped, in sync, draft-07, and it agrees with archspec."""

import json
import re

import jsonschema
import pytest

from archspec import load
from archspec.errors import SpecError
from archspec.reading.source import load_source, parse_source
from archspec.reading.spec import json_schema
from conftest import ROOT, SPECS, shipped_specs, spec_id

SCHEMA_FILE = ROOT / "archspec.schema.json"
MODELINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")
VALIDATOR = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_shipped_schema_is_what_archspec_schema_prints():
    """If this fails, run `archspec schema > archspec.schema.json`."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def test_schema_is_draft_07_without_2020_12_keywords():
    jsonschema.Draft7Validator.check_schema(VALIDATOR.schema)
    assert VALIDATOR.schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert "prefixItems" not in SCHEMA_FILE.read_text()


def test_every_spec_in_specs_starts_with_a_modeline_to_the_shipped_schema():
    paths = shipped_specs() + sorted(SPECS.rglob("*.yml"))
    assert paths
    for path in paths:
        match = MODELINE.match(path.read_text(encoding="utf-8"))
        assert match, f"{path} does not start with '# yaml-language-server: $schema=...'"
        assert (path.parent / match[1]).resolve() == SCHEMA_FILE, path


@pytest.mark.parametrize("path", shipped_specs(), ids=spec_id)
def test_shipped_specs_satisfy_the_schema(path):
    VALIDATOR.validate(load_source(path).tree)


VALID = """\
archspec: 1
name: net
input: {channels: 3, size: [224, 192]}
defaults: {block: bottleneck, shortcut: projection, norm_eps: 0.001}
stem: {type: none}
stages:
  - {depth: 1, channels: 64, block: basic}
head: {type: none}
constraints: {max_params: 25.6M, max_macs: 4100000000, min_input: 32}
"""


def test_a_spec_with_every_section_satisfies_both():
    tree = parse_source(VALID).tree
    VALIDATOR.validate(tree)
    load(parse_source(VALID))


@pytest.mark.parametrize("old, new", [
    ("stem: {type: none}", "stem: {type: none, channels: 3}"),  # a key of the other stem kind
    ("block: basic", "block: basik"),
    ("{depth: 1, channels: 64, block: basic}", "{channels: 64}"),
    ("size: [224, 192]", "size: [224, 192, 3]"),
    ("max_params: 25.6M", "max_params: 25.6Q"),
    ("head: {type: none}", "head: {type: classifier}"),
    ("archspec: 1", "archspec: '1'"),
])
def test_invalid_specs_fail_both_the_schema_and_archspec(old, new):
    text = VALID.replace(old, new)
    assert text != VALID
    assert list(VALIDATOR.iter_errors(parse_source(text).tree))
    with pytest.raises(SpecError):
        load(parse_source(text))
