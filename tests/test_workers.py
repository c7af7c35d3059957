"""`validate` checks a folder in forked copies of itself: the same output as one process."""

import pytest

from conftest import run_cli, run_python


@pytest.mark.parametrize("folder", ["tests/hostile", "specs"])
def test_validate_in_three_processes_says_exactly_what_one_process_says(folder):
    one, three = run_cli("validate", folder, "--jobs", "1"), run_cli("validate", folder, "--jobs", "3")
    assert (three.stdout, three.stderr, three.returncode) == (one.stdout, one.stderr, one.returncode)
    assert one.stderr.startswith(("95 files checked, 92 invalid", "52 files checked, 0 invalid"))


WORKERS = """
import os, sys
from archspec.commands.workers import in_processes

def work(x):
    if x == int(sys.argv[1]):
        raise ValueError(f"item {x}")
    return x * x, os.getpid()

try:
    results = in_processes(work, range(40), 3)
except ValueError as e:
    print("raised", e)
else:
    print([r for r, _ in results] == [x * x for x in range(40)], len({pid for _, pid in results}))
"""


def test_the_items_are_dealt_among_forked_copies_and_come_back_in_order():
    assert run_python("-c", WORKERS, "-1").stdout == "True 3\n"


def test_an_item_that_fails_in_a_copy_raises_here_as_in_a_plain_loop():
    # item 37 is in a forked copy's share (37 % 3 == 1): the copy fails, and this process does that share again
    assert run_python("-c", WORKERS, "37").stdout == "raised item 37\n"


def test_when_no_process_may_be_forked_this_one_does_the_work():
    # fork failing as it does at a process limit (root is exempt from RLIMIT_NPROC, so it is injected)
    refuse = "import os\ndef fork(): raise BlockingIOError(11, 'Resource temporarily unavailable')\nos.fork = fork\n"
    result = run_python("-c", refuse + WORKERS, "-1")
    assert (result.stdout, result.stderr) == ("True 1\n", "")


def test_a_few_items_are_checked_in_this_process():
    code = "import os; from archspec.commands.workers import in_processes; " \
           "print({p == os.getpid() for p in in_processes(lambda x: os.getpid(), range(15), 2)})"
    assert run_python("-c", code).stdout == "{True}\n"  # 15 items: fewer than MIN_SHARE for a second process


def test_jobs_must_be_a_whole_number_from_1_to_32():
    for bad in ("0", "33", "x", "1e3", "99999"):
        result = run_cli("validate", "specs", "--jobs", bad)
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1] == ("archspec validate: error: argument -j/--jobs: expected a whole "
                                                  f"number from 1 to 32, got {bad!r}")
