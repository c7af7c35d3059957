"""Small code rules a reader relies on: names mean one thing, numbers are written one way."""

import ast
import builtins
import sys

from conftest import ROOT

SOURCES = sorted((ROOT / "archspec").rglob("*.py"))


def _functions(path):
    return [n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.FunctionDef)]


def test_no_function_or_argument_shadows_a_builtin_or_a_standard_module():
    shadowing = []
    for path in SOURCES:
        for f in _functions(path):
            arguments = [a.arg for a in f.args.posonlyargs + f.args.args + f.args.kwonlyargs]
            shadowing += [f"{path.name}:{f.lineno} {name}" for name in [f.name, *arguments] if name in dir(builtins)]
            if f.col_offset == 0 and f.name in sys.stdlib_module_names:
                shadowing.append(f"{path.name}:{f.lineno} {f.name}")
    assert shadowing == []


def test_numbers_and_shapes_are_formatted_in_one_module():
    formatters = {"count", "si", "dims", "fmt"}
    defined = {(path.name, f.name) for path in SOURCES for f in _functions(path) if f.name in formatters}
    assert defined == {("units.py", "count"), ("units.py", "si"), ("units.py", "dims")}


def test_the_stage_module_name_is_spelled_in_one_module():
    """`layer{i+1}` is torchvision's; a layout that names stages otherwise changes naming.py only."""
    spelled = [f"{path.relative_to(ROOT)}:{n}" for path in SOURCES
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if 'f"layer{' in line]
    assert [line.split(":")[0] for line in spelled] == ["archspec/commands/eject.py",  # in the source it writes
                                                        "archspec/naming.py"]
