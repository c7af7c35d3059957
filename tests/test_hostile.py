"""Hostile and broken input: every file in tests/hostile/ (and a few paths made here) is
refused by `archspec validate` and `archspec build` through a subprocess, quickly, in
little memory, with one message that names the file and line, and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT

resource = pytest.importorskip("resource")  # Unix: peak memory of each run

HOSTILE = Path(__file__).parent / "hostile"
MAX_SECONDS = 5.0  # per run; a run takes about 0.5 s (Python and pydantic start-up)
MAX_MB = 200  # peak resident memory per run; a run uses about 40 MB
ADDRESS_SPACE = 1 << 30  # a runaway run dies at 1 GiB instead of taking the machine's memory


@dataclass(frozen=True)
class Case:
    exits: tuple[int, int]  # of `validate` and of `build`
    line: int | None  # where the one error is; None for file-level errors
    column: int | None
    message: str  # a fragment of the error message
    build_message: str | None = None  # when `build` says it differently


SCHEMA = "error: "  # schema errors: the location and key path are the contract, not pydantic's words

CASES = {
    # YAML tags: nothing is ever constructed from them
    "python_tag_apply.yaml": Case((1, 1), 3, 14, "'!!python/object/apply:os.system' is not allowed"),
    "python_tag_name.yaml": Case((1, 1), 5, 14, "'!!python/name:os.system' is not allowed"),
    "python_tag_module.yaml": Case((1, 1), 4, 11, "'!!python/module:os' is not allowed"),
    # valid, but its name and description try to break out of the source `eject` writes (test_eject.py)
    "eject_injection.yaml": Case((0, 0), None, None, ""),
    "binary_tag.yaml": Case((1, 1), 3, 14, "'!!binary' is not allowed"),
    "set_tag.yaml": Case((1, 1), 6, 9, "'!!set' is not allowed"),
    "custom_tag.yaml": Case((1, 1), 4, 11, "'!include' is not allowed"),
    "merge_key.yaml": Case((1, 1), 9, 6, "merge keys ('<<') are not allowed"),
    # aliases and nesting: refused before anything expands or recurses
    "billion_laughs.yaml": Case((1, 1), 7, 4, "aliases expand to more than 20,000 nodes"),
    "alias_cycle.yaml": Case((1, 1), 6, 9, "(a cycle)"),
    "deep_nesting.yaml": Case((1, 1), 3, 77, "nesting is deeper than 64 levels"),
    "deep_nesting_block.yaml": Case((1, 1), 67, 129, "nesting is deeper than 64 levels"),
    # the shape of the file
    "empty.yaml": Case((1, 1), None, None, "file is empty"),
    "comments_only.yaml": Case((1, 1), None, None, "file is empty"),
    "top_level_list.yaml": Case((1, 1), 1, 1, "the top level must be a mapping"),
    "top_level_scalar.yaml": Case((1, 1), 1, 1, "the top level must be a mapping"),
    "two_documents.yaml": Case((1, 1), 10, 1, "one YAML document"),
    # syntax errors, with their line and column
    "tab_indent.yaml": Case((1, 1), 6, 1, "indent with spaces, not tabs"),
    "unclosed_quote.yaml": Case((1, 1), 10, 1, "while scanning a quoted scalar at line 2, column 7"),
    "unclosed_bracket.yaml": Case((1, 1), 8, 5, "while parsing a flow mapping at line 7, column 5"),
    "nul_byte.yaml": Case((1, 1), 2, 9, "U+0000"),
    # bytes that are not UTF-8: a file error, like an unreadable file
    "not_utf8.yaml": Case((2, 2), 3, 17, "not UTF-8 (byte 0xe9)"),
    "utf16.yaml": Case((2, 2), 1, 1, "not UTF-8 (byte 0xff)"),
    # duplicate keys: both lines
    "duplicate_key.yaml": Case((1, 1), 11, 5, "duplicate key 'stride' (first at line 9)"),
    "duplicate_section.yaml": Case((1, 1), 10, 1, "duplicate key 'stem' (first at line 5)"),
    # strict types and ranges
    "channels_bool.yaml": Case((1, 1), 8, 26, SCHEMA + "stages.1.channels: "),
    "channels_float.yaml": Case((1, 1), 8, 26, SCHEMA + "stages.1.channels: "),
    "channels_quoted.yaml": Case((1, 1), 8, 26, SCHEMA + "stages.1.channels: "),
    "channels_5000_digits.yaml": Case((1, 1), 8, 26, "a number of 5,000 digits is too long to read"),
    "channels_zero.yaml": Case((1, 1), 8, 26, SCHEMA + "stages.1.channels: "),
    "stride_negative.yaml": Case((1, 1), 8, 38, SCHEMA + "stages.1.stride: "),
    "depth_zero.yaml": Case((1, 1), 8, 13, SCHEMA + "stages.1.depth: "),
    "kernel_zero.yaml": Case((1, 1), 5, 42, SCHEMA + "stem.kernel: "),
    "classes_zero.yaml": Case((1, 1), 9, 46, SCHEMA + "head.classes: "),
    "dropout_nan.yaml": Case((1, 1), 9, 59, SCHEMA + "head.dropout: "),
    "dropout_inf.yaml": Case((1, 1), 9, 59, SCHEMA + "head.dropout: "),
    "float_overflow.yaml": Case((1, 1), 9, 59, SCHEMA + "head.dropout: "),  # 1e999 is inf
    "dropout_one.yaml": Case((1, 1), 9, 59, SCHEMA + "head.dropout: "),
    "yes_is_not_true.yaml": Case((1, 1), 4, 62, SCHEMA + "defaults.zero_init_residual: "),
    "name_escape_codes.yaml": Case((1, 1), 2, 7, SCHEMA + "name: "),
    "key_escape_codes.yaml": Case((1, 1), 10, 1, r"unknown key '\x1b[2J\x1b[31mpwned'"),
    # absurd sizes: refused by the planner, with the computed count, before any memory is used
    "depth_billion.yaml": Case((1, 1), 8, 5, "stages.1 (layer2): the network reaches 18,560,000,005,776 parameters here; "
                                             "the planning limit is 100,000,000,000"),
    "channels_trillion.yaml": Case((1, 1), 8, 5, "stages.1 (layer2): the network reaches 2.70e+25 parameters here"),
    "channels_4000_digits.yaml": Case((1, 1), 8, 26, "stages.1.channels: 9999999999999999999999999999999999999... "
                                                     "is too large — use a number ≤ 1e+15"),  # limits.MAX_WHOLE
    "input_size_huge.yaml": Case((1, 1), 5, 7, "stem: the network reaches 4.32e+26 multiply-adds here"),
    "too_many_blocks.yaml": Case((1, 1), 8, 5, "stages.1 (layer2): the network reaches 20,002 blocks here, "
                                               "with 449,961 parameters; the planning limit is 10,000"),
    # valid specs that `build` refuses or prints safely
    # (`build` without -o plans it and warns after the table; `build -o` refuses it: test_trust_cli.py)
    "over_build_limit.yaml": Case((0, 0), None, None, ""),
    "description_escape_codes.yaml": Case((0, 0), None, None, ""),
    # extends: every problem with a base is told at the child's `extends` value, with the chain
    "extends_self.yaml": Case((1, 1), 2, 10, "extends extends_self.yaml, which is already in the chain (a cycle)"),
    "extends_cycle_a.yaml": Case((1, 1), 2, 10, "extends extends_cycle_b.yaml, which extends extends_cycle_a.yaml, "
                                                "which is already in the chain (a cycle)"),
    "extends_cycle_b.yaml": Case((1, 1), 3, 10, "extends extends_cycle_a.yaml, which extends extends_cycle_b.yaml, "
                                                "which is already in the chain (a cycle)"),
    "extends_folder.yaml": Case((1, 1), 2, 10, "extends ../hostile, which is a directory"),
    "extends_dotdot.yaml": Case((1, 1), 2, 10, "extends .., which is outside the folders bases are read from: "
                                               "tests/hostile (this spec's folder) and the built-in specs"),
    "extends_dev_zero.yaml": Case((1, 1), 2, 10, "extends /dev/zero, which is outside the folders"),
    "extends_alias_bomb.yaml": Case((1, 1), 2, 10, "extends billion_laughs.yaml, which has an error at "
                                                   "tests/hostile/billion_laughs.yaml:7:4: aliases expand to more"),
    "extends_backslash_name.yaml": Case((1, 1), 2, 10, "which is not available: no built-in spec has this name, "
                                                       "and tests/hostile has no file"),
    "extends_etc_passwd.yaml": Case((1, 1), 2, 10, "extends /etc/passwd, which is outside the folders"),
    # extends reads only the spec's folder tree and the built-ins, refused before anything is opened
    "extends_absolute_outside.yaml": Case((1, 1), 2, 10, "extends /etc/shadow, which is outside the folders bases "
                                                         "are read from: tests/hostile (this spec's folder) and the "
                                                         "built-in specs"),
    "extends_proc_self.yaml": Case((1, 1), 2, 10, "extends /proc/self/environ, which is outside the folders"),
    # bounded before the work: no generated width, no float overflow
    "regnet_depth_billion.yaml": Case((1, 1), 6, 31, "stages.depth: 1,000,000,000 blocks are more than the planning "
                                                     "limit of 10,000"),
    "regnet_wa_1e308.yaml": Case((1, 1), 6, 47, "stages.wa: 1e+308 is too large"),
    "ratio_tiny.yaml": Case((1, 1), 6, 98, "stages.bottleneck_ratio: 1e-300 makes the inner width of a 48-channel "
                                           "block 0"),
    "scale_width_1e308.yaml": Case((1, 1), 3, 16, "scale.width: 1e+308 is too large"),
    "expand_1e308.yaml": Case((1, 1), 8, 49, "stages.1.expand: 1e+308 is too large"),
    "int_5000_digits.yaml": Case((1, 1), 3, 28, "a number of 5,000 digits is too long to read"),
    # blocks written in the spec: recursion, cycles, sizes and expressions, refused where they are written
    "blockdef_recursive.yaml": Case((1, 1), 8, 30, "blocks.loop.nodes.1.block: loop uses loop: a block cannot "
                                                   "contain itself"),
    "blockdef_mutual.yaml": Case((1, 1), 8, 29, "blocks.ping.nodes.1.block: ping uses pong, which uses ping"),
    "blockdef_cycle.yaml": Case((1, 1), 8, 37, "blocks.knot.nodes.0: the nodes form a cycle: conv1 ← add ← conv2 "
                                               "← conv1"),
    "blockdef_nested_10000_nodes.yaml": Case((1, 1), 14, 3, "blocks.thousand: 1,110 modules once the blocks it uses "
                                                            "are written out; a block may have 1,000"),
    "blockdef_network_nodes.yaml": Case((1, 1), 22, 5, "stages.1 (layer2): the network reaches 100,800 modules of "
                                                       "blocks written in the spec here; the limit is 100,000"),
    "expr_huge_power.yaml": Case((1, 1), 8, 14, "blocks.wide.let.width: `9 ** 9 ** 9 ** 9` raises to the power "
                                                "387420489"),
    "expr_divide_by_zero.yaml": Case((1, 1), 8, 18, "blocks.wide.let.per_group: `channels // groups` divides by zero "
                                                    "(in stages.0 (layer1))"),
    "expr_import.yaml": Case((1, 1), 8, 14, "calls `__import__('os').system`, which is not a function expressions "
                                            "have"),
    # heads written as blocks, `after:` between stages and the graph primitives: refused where written
    "head_from_unknown.yaml": Case((1, 1), 17, 49, "head.from.1: there is no module '/etc/passwd' to take a map "
                                                   "from"),
    "head_from_huge.yaml": Case((1, 1), 13, 40, "head.from: names 8 modules, but a neck block takes 1 input"),
    "after_unknown.yaml": Case((1, 1), 11, 37, "stages.0.after: '__import__' is not one of: pool"),
    "concat_sizes_differ.yaml": Case((1, 1), 10, 9, "layer1.0.cat: concat of 16×16×16 and 16×32×32: maps of "
                                                    "different sizes"),
    "split_chunks_huge.yaml": Case((1, 1), 9, 9, "split of 16 channels into 1000000000000 equal chunks"),
    "upsample_scale_huge.yaml": Case((1, 1), 9, 9, "layer1.0.up: a map of 16,384,000,000,000,000,000,000 values "
                                                   "(16×32000000000×32000000000) is more than the planning limit"),
    # design spaces (archspec sample) and fitted scales (scale: {fit: …}): refused alike by both commands
    "space_huge_range.yaml": Case((1, 1), 6, 5, "the network reaches 9.00e+24 parameters here"),
    "space_million_stages.yaml": Case((1, 1), 8, 14, "stage_count: 1000000 is not a count of the 2 stages listed"),
    "space_window_admits_nothing.yaml": Case((1, 1), 8, 25, "no network of the space meets it: the smallest "
                                                             "(every number at its low end) has 5,161,120 MACs"),
    "space_choice_bomb.yaml": Case((1, 1), 9, 4, "aliases expand to more than 20,000 nodes"),
    "space_empty_range.yaml": Case((1, 1), 6, 21, "stages.0.depth.range: [4, 2] is empty: low is above high"),
    "space_unknown_kind.yaml": Case((1, 1), 4, 36, "defaults.block: 'botleneck' is not one of"),
    "space_typo.yaml": Case((1, 1), 6, 44, "unknown key 'quantise' in a distribution — did you mean 'quantize'?"),
    "space_tie_mismatch.yaml": Case((1, 1), 7, 13, "stages.1.depth: tied to stages.0.depth (tie: d)"),
    "space_unknown_rule.yaml": Case((1, 1), 8, 22, "rules.0: stages have no setting 'chanels'"),
    "fit_impossible.yaml": Case((1, 1), 3, 15, "even the smallest network along width has 24.42 M MACs, more than "
                                               "the budget of 1 M MACs"),
    "fit_no_budget.yaml": Case((1, 1), 2, 14, "scale.fit: give a budget"),
    "fit_axis_given.yaml": Case((1, 1), 2, 49, "scale.width: fit chooses the width along width"),
    "fit_memory_words.yaml": Case((1, 1), 2, 23, "scale.fit.memory: '40 gigs' is not a size in bytes"),
}

SECRET = "s3cr3t-token-in-a-file-outside"  # in every file planted outside a spec's folder: it must never be printed


def _outside(folder: Path, case: str) -> tuple[Path, Path]:
    """A folder for one spec, and beside it (outside it) a file that holds the secret."""
    (folder / case).mkdir()
    secret = folder / f"{case}_secret.yaml"
    secret.write_text(f"archspec: 1\nname: {SECRET}\ntoken: {SECRET}\n")
    return folder / case, secret


def _make_extends_symlink_out(folder: Path) -> Path:
    inside, secret = _outside(folder, "symlink_out")
    (inside / "base.yaml").symlink_to(secret)  # looks like a file in the folder
    return _extending(inside, "extends_symlink_out.yaml", "base.yaml")


def _make_extends_fifo(folder: Path) -> Path:
    os.mkfifo(folder / "base.fifo")  # nobody writes to it: opening it for reading would wait for ever
    return _extending(folder, "extends_fifo.yaml", "base.fifo")


def _make_extends_not_a_spec(folder: Path) -> Path:
    (folder / "ci.env").write_text(f"TOKEN: {SECRET}\nOTHER {SECRET}\n")  # inside the folder, but not a spec
    return _extending(folder, "extends_not_a_spec.yaml", "ci.env")


def _make_long_line(folder: Path) -> Path:
    path = folder / "long_line_100kb.yaml"  # a missing colon, then 100 kB of spaces: the slip hint reads the line
    path.write_text("archspec: 1\nname tiny" + " " * 100_000 + "x\ninput: {size: 32}\n")
    return path


def _make_oversize(folder: Path) -> Path:
    path = folder / "oversize.yaml"
    path.write_text("archspec: 1\n" + "# padding\n" * 100_000)  # 1,000,012 bytes
    return path


def _make_many_nodes(folder: Path) -> Path:
    path = folder / "many_nodes.yaml"
    path.write_text("archspec: 1\nstages:\n" + "- {depth: 1, channels: 1}\n" * 30_000)  # 780 KB, 150,000 nodes
    return path


def _make_sparse_10gb(folder: Path) -> Path:
    path = folder / "sparse_10gb.yaml"
    with open(path, "wb") as f:
        f.truncate(10**10)  # no disk used; refused from its size, never read
    return path


def _make_chain_of_1000(folder: Path) -> Path:
    for n in range(1000):
        (folder / f"chain{n:04}.yaml").write_text(f"extends: chain{n + 1:04}.yaml\n" if n < 999 else "archspec: 1\n")
    return folder / "chain0000.yaml"


def _extending(folder: Path, name: str, base: str) -> Path:
    path = folder / name
    path.write_text(f"archspec: 1\nextends: {base}\n")
    return path


def _make_extends_100mb(folder: Path) -> Path:
    with open(folder / "base_100mb.yaml", "wb") as f:
        f.truncate(10**8)  # sparse: no disk used, refused from its size
    return _extending(folder, "extends_100mb.yaml", "base_100mb.yaml")


def _make_extends_binary(folder: Path) -> Path:
    (folder / "base.bin").write_bytes(bytes(range(256)) * 64)
    return _extending(folder, "extends_binary.yaml", "base.bin")


def _make_concat_of_10000(folder: Path) -> Path:
    text = (HOSTILE / "blockdef_cycle.yaml").read_text().replace("in: [x, conv2]", "in: [" + ", ".join(["x"] * 10_000) + "]")
    path = folder / "blockdef_concat_10000.yaml"
    path.write_text(text)
    return path


def _make_empty_folder(folder: Path) -> Path:
    (folder / "empty_folder").mkdir()
    (folder / "empty_folder" / "notes.txt").write_text("not a spec")
    return folder / "empty_folder"


# Paths made at test time: too big to commit, or not files at all.
GENERATED = {
    "oversize.yaml": (_make_oversize, Case((2, 2), None, None, "file is 1,000,012 bytes; the limit is 1,000,000")),
    # refused from the event stream at node 20,001: the first node of the 4,000th stage
    "many_nodes.yaml": (_make_many_nodes, Case((1, 1), 4002, 3, "the file has more than 20,000 nodes")),
    "sparse_10gb.yaml": (_make_sparse_10gb, Case((2, 2), None, None, "file is 10,000,000,000 bytes")),
    "missing.yaml": (lambda folder: folder / "missing.yaml",
                     Case((2, 2), None, None, "no such file or folder")),  # the same words from every command
    "empty_folder": (_make_empty_folder, Case((2, 2), None, None, "no *.yaml or *.yml files", "directory")),
    "/dev/zero": (lambda folder: Path("/dev/zero"), Case((2, 2), None, None, "not a regular file")),
    # refused at the 16th file, which is where the limit is met; each file before it says whom it extends
    "chain0000.yaml": (_make_chain_of_1000, Case((1, 1), 1, 10, "extends chain0001.yaml, which extends "
                                                                "chain0002.yaml, which extends")),
    "extends_100mb.yaml": (_make_extends_100mb, Case((1, 1), 2, 10, "extends base_100mb.yaml, which is "
                                                                    "100,000,000 bytes; the limit is 1,000,000")),
    "extends_symlink_out.yaml": (_make_extends_symlink_out, Case((1, 1), 2, 10, "extends base.yaml, which is outside "
                                                                              "the folders bases are read from")),
    "extends_fifo.yaml": (_make_extends_fifo, Case((1, 1), 2, 10, "extends base.fifo, which is not a regular file")),
    "extends_not_a_spec.yaml": (_make_extends_not_a_spec, Case((1, 1), 2, 10, "extends ci.env, which is not an "
                                                                            "archspec spec")),
    "long_line_100kb.yaml": (_make_long_line, Case((1, 1), 2, 1, "missing ':' after 'name'")),
    "extends_binary.yaml": (_make_extends_binary, Case((1, 1), 2, 10, "extends base.bin, which is not an archspec "
                                                                           "spec (it has no `archspec:` line)")),
    "blockdef_concat_10000.yaml": (_make_concat_of_10000, Case((1, 1), 10, 34, "blocks.knot.nodes.2.in: 10,000 "
                                                                               "inputs; a node may have 1,000")),
}


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


# `python -m archspec ARGS` that writes its own peak memory (VmHWM) to a file at exit. The rusage of
# wait4 would not do: a child forked from this pytest process (torch imported) inherits its high
# water mark across exec.
_LAUNCH = """\
import atexit, os, runpy, sys
def report():
    with open("/proc/self/status") as status, open(os.environ["ARCHSPEC_PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM")).split()[1])
atexit.register(report)
sys.argv = ["archspec", *sys.argv[1:]]
runpy.run_module("archspec", run_name="__main__", alter_sys=True)
"""


def run_measured(*args: str, cap_memory: bool = True, timeout: float = 60, stdin=None) -> Run:
    """Run `python -m archspec ARGS` from the checkout (standard input from the file `stdin`);
    its time and peak resident memory."""
    limit = (lambda: resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))) if cap_memory else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as peak:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ARCHSPEC_PEAK_FILE": peak.name}
        start = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", _LAUNCH, *args], stdout=out, stderr=err, cwd=ROOT,
                              env=env, preexec_fn=limit, timeout=timeout, stdin=stdin)
        seconds = time.monotonic() - start
        out.seek(0), err.seek(0)
        kib = peak.read()
        return Run(proc.returncode, out.read().decode(), err.read().decode(), seconds,
                   int(kib) / 1024 if kib else float("inf"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[tuple[str, str], tuple[str, Run]]:
    """(case, command) -> (the path given, its run): all of them, one per core at a time."""
    folder = tmp_path_factory.mktemp("generated")
    paths = {name: str((HOSTILE / name).relative_to(ROOT)) for name in CASES}
    paths |= {name: str(make(folder)) for name, (make, _) in GENERATED.items()}
    jobs = [(name, command) for name in paths for command in ("validate", "build")]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # more would slow each run
        results = pool.map(lambda job: run_measured(job[1], paths[job[0]]), jobs)
        return {job: (paths[job[0]], run) for job, run in zip(jobs, results)}


def _cases() -> dict[str, Case]:
    return CASES | {name: case for name, (_, case) in GENERATED.items()}


@pytest.mark.parametrize("command", ["validate", "build"])
@pytest.mark.parametrize("name", list(_cases()))
def test_hostile_input_is_refused_cleanly(runs, name, command):
    case = _cases()[name]
    path, run = runs[(name, command)]
    output = run.stdout + run.stderr
    assert run.returncode == case.exits[command == "build"], output
    assert "Traceback" not in output and SECRET not in output
    assert "\x1b" not in output and "\u202e" not in output  # nothing from the file reaches the terminal raw
    assert run.seconds < MAX_SECONDS
    assert run.peak_mb < MAX_MB
    errors = [line for line in output.splitlines() if ": error: " in line]
    message = case.build_message if command == "build" and case.build_message else case.message
    if not message:
        assert errors == []
        return
    assert len(errors) == 1, output
    where = f"{path}:{case.line}:{case.column}" if case.line else path
    assert errors[0].startswith(f"{where}: error: "), errors[0]
    assert message in errors[0]


def test_every_hostile_file_has_a_case():
    """Each file is a case here, or is named by another test (`cli_…` files: `validate` on a folder)."""
    files = {p.name for p in HOSTILE.iterdir()}
    elsewhere = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py")
                        if p.name != "test_hostile.py")
    assert {name for name in files - set(CASES) if name not in elsewhere} == set()
    assert set(CASES) <= files
    assert len(files) >= 30


def test_no_code_from_a_spec_runs(runs):
    assert not (ROOT / "archspec-was-pwned").exists()  # python_tag_apply.yaml would have made it


def test_a_description_with_escape_codes_is_printed_escaped(runs):
    _, run = runs[("description_escape_codes.yaml", "build")]
    assert run.stdout.splitlines()[0] == r"tiny: tiny\x1b[2J\x1b]0;pwned\x07 \u202eevil"


def test_an_unreadable_file_exits_2(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    path = tmp_path / "secret.yaml"
    path.write_text("archspec: 1\n")
    path.chmod(0)
    for command in ("validate", "build"):
        run = run_measured(command, str(path))
        assert run.returncode == 2
        errors = [line for line in (run.stdout + run.stderr).splitlines() if ": error: " in line]
        assert errors == [f"{path}: error: file cannot be read: Permission denied"]


BOMB = "[" + ", ".join(["&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [f"&{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
                                          for p, n in zip("abcdefgh", "bcdefghi")]) + "]"

# --set and stdin: the option or <stdin> is the location
SET_CASES = {
    "key path 10,000 levels deep": (["--set", ".".join(["a"] * 10_000) + "=1"], "--set a.a.a.",
                                    "the key path is longer than 64 keys"),
    "alias bomb as the value": (["--set", f"head.dropout={BOMB}"], "--set head.dropout=[&a",
                                "aliases expand to more than 20,000 nodes"),
    "value nested 10,000 deep": (["--set", "head.dropout=" + "[" * 10_000], "--set head.dropout=[[[",
                                 "nesting is deeper than 64 levels"),
    "index past the list": (["--set", "stages.99999999999999999999.depth=1"], "--set stages.9999",
                            "stages has 4 items, so there is no item 99999999999999999999"),
}


@pytest.mark.parametrize("case", list(SET_CASES))
def test_hostile_set_is_refused_cleanly(case):
    args, where, message = SET_CASES[case]
    run = run_measured("validate", "resnet50", *args)
    errors = [line for line in (run.stdout + run.stderr).splitlines() if ": error: " in line]
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.seconds < MAX_SECONDS and run.peak_mb < MAX_MB
    assert len(errors) == 1 and errors[0].startswith(where) and message in errors[0], errors


@pytest.mark.parametrize("source,message", [
    ("/dev/zero", "<stdin>: error: file is 1,000,001 bytes; the limit is 1,000,000"),
    ("tests/hostile/billion_laughs.yaml", "<stdin>:7:4: error: aliases expand to more than 20,000 nodes"),
    ("tests/hostile/utf16.yaml", "<stdin>:1:1: error: file is not UTF-8 (byte 0xff)"),
])
def test_hostile_stdin_is_refused_cleanly(source, message):
    with open(ROOT / source, "rb") as stdin:
        run = run_measured("validate", "-", stdin=stdin)
    errors = [line for line in (run.stdout + run.stderr).splitlines() if ": error: " in line]
    assert run.returncode in (1, 2) and "Traceback" not in run.stderr
    assert run.seconds < MAX_SECONDS and run.peak_mb < MAX_MB
    assert len(errors) == 1 and errors[0].startswith(message), errors
