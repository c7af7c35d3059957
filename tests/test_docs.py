"""The README and the pages under docs/ render as written (CommonMark), their links lead somewhere,
and CI runs exactly the README's commands."""

import re
import subprocess
import sys
import tomllib

import pytest
from markdown_it import MarkdownIt

from conftest import ROOT

PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
MARKDOWN = MarkdownIt("commonmark").enable("table")


def tokens(page: str) -> list:
    return MARKDOWN.parse((ROOT / page).read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def anchors(page: str) -> set[str]:
    found, seen = set(), {}
    parsed = tokens(page)
    for opening, inline in zip(parsed, parsed[1:]):
        if opening.type == "heading_open":
            base = slug("".join(child.content for child in inline.children))
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    return found


def test_the_pages_are_the_ones_the_readme_maps():
    assert PAGES == ["README.md", "docs/api.md", "docs/artifacts.md", "docs/budgets.md", "docs/ci.md", "docs/cli.md",
                     "docs/design.md", "docs/review.md", "docs/safety.md", "docs/spec.md"]
    linked = {href.partition("#")[0] for href in links("README.md") if href.startswith("docs/")}
    assert linked == set(PAGES[1:])


@pytest.mark.parametrize("page", PAGES)
def test_every_code_block_is_closed_where_it_was_meant_to_end(page):
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    for block in (t for t in tokens(page) if t.type == "fence"):
        start, end = block.map
        # a fence line inside a block means the block swallowed prose (a closing fence with text after it)
        assert not [line for line in block.content.splitlines() if line.startswith(block.markup)], \
            f"{page}:{start + 1}: the code block opened here runs on into other text"
        assert lines[end - 1].strip() == block.markup, f"{page}:{start + 1}: the code block opened here is never closed"


def links(page: str) -> list[str]:
    found = []
    for inline in (t for t in tokens(page) if t.type == "inline"):
        for child in inline.children:
            if child.type in ("link_open", "image"):
                found.append(child.attrs["href" if child.type == "link_open" else "src"])
    return found


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page):
    for href in links(page):
        if re.match(r"[a-z]+:", href):
            continue  # an address on the web
        path, _, anchor = href.partition("#")
        target = (ROOT / page).parent / path if path else ROOT / page
        assert target.resolve().is_file() and target.resolve().is_relative_to(ROOT), f"{page}: {href}: no such file"
        if anchor:
            assert anchor in anchors(str(target.resolve().relative_to(ROOT))), f"{page}: {href}: no such heading"


def test_the_readme_stays_an_introduction():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 240


def test_the_readmes_block_is_the_shipped_examples():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    excerpt = readme.split("## Your own blocks", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert excerpt in (ROOT / "specs" / "examples" / "wide_kernel_net.yaml").read_text(encoding="utf-8")


def readme_block(info: str) -> str:
    blocks = [t.content for t in tokens("README.md") if t.type == "fence" and t.info == info]
    assert len(blocks) == 1, f"README.md needs one ```{info} block"
    return blocks[0]


def test_ci_runs_exactly_the_readmes_set_up_and_test_commands():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line for line in script if line.startswith("python ")]
    assert "\n".join(commands) + "\n" == readme_block("sh setup") + readme_block("sh test")
    assert "python -m pytest -q\n" in readme_block("sh test")
    assert "set -euxo pipefail" in script  # the first failing command fails CI


def test_the_set_up_installs_every_extra_the_tests_need():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    installed = re.search(r'pip install "\.\[([\w,-]+)\]"', readme_block("sh setup"))
    assert set(installed.group(1).split(",")) == set(extras)


def test_every_install_hint_names_the_distribution_archspec_nn():
    """PyPI's `archspec` is another project: `pip install 'archspec[torch]'` would install it."""
    files = [*(ROOT / "archspec").rglob("*.py"), *(ROOT / p for p in PAGES), ROOT / "pyproject.toml",
             ROOT / ".pre-commit-hooks.yaml", ROOT / ".ci/run"]
    wrong = re.compile(r"""pip install (?:-\S+ )*['"]?archspec(?!-nn)\b|(?<![\w-])archspec(?:\[| @ )""")
    found = [f"{path.relative_to(ROOT)}: {m.group(0)}" for path in files
             for m in wrong.finditer(path.read_text(encoding="utf-8"))]
    assert found == []
    assert "pip install 'archspec-nn[torch]'" in (ROOT / "archspec/errors.py").read_text(encoding="utf-8")


def test_a_failed_write_exits_with_the_code_the_docs_give(tmp_path):
    r = subprocess.run([sys.executable, "-m", "archspec", "eject", "specs/cifar/resnet20.yaml", "-o",
                        tmp_path / "missing" / "m.py"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (1, f"{tmp_path / 'missing' / 'm.py'}: error: folder "
                                           f"'{tmp_path / 'missing'}' does not exist\n")
    assert "(`archspec.WriteError`, an `OSError`; exit code 1 from the\ncommand line)" in \
        (ROOT / "docs/artifacts.md").read_text(encoding="utf-8")
    assert "| 1 | at least one spec has an error; with `--strict`, a warning counts too; or an output file" in \
        (ROOT / "docs/ci.md").read_text(encoding="utf-8")
