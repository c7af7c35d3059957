"""One function over many items in forked copies of this process: how `validate` checks a folder
on every CPU it may use. Each copy starts with everything imported, so a copy costs a fork, not
a second start-up.

The results are always those of the plain loop, in order: where a fork cannot be trusted, for a
few items, or when a copy fails, this process does the work itself (and raises what it raises).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

Item, Result = TypeVar("Item"), TypeVar("Result")

MIN_SHARE = 8  # items per process, at least: below this a fork and a pickle cost more than they save
MAX_JOBS = 32  # the most --jobs takes
MAX_DEFAULT_JOBS = 8  # a container's CPU quota can be smaller than the CPUs it sees: no more unasked


def default_jobs() -> int:
    """The CPUs this process may run on, at most MAX_DEFAULT_JOBS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    return min(cpus, MAX_DEFAULT_JOBS)


def in_processes(work: Callable[[Item], Result], items: Sequence[Item], jobs: int) -> list[Result]:
    """`[work(x) for x in items]`, the items dealt in turn among `jobs` processes: this one and
    jobs - 1 forked copies (fewer, so that each has MIN_SHARE items)."""
    jobs = min(jobs, MAX_JOBS, len(items) // MIN_SHARE)
    if jobs < 2 or not _fork_is_safe():
        return [work(x) for x in items]
    shares = [range(k, len(items), jobs) for k in range(jobs)]
    results: list[Any] = [None] * len(items)
    copies: list[tuple[int, int, range]] = []  # (pid, read end, share)
    mine = list(shares[0])
    try:
        for share in shares[1:]:
            try:
                copies.append(_fork(work, items, share))
            except OSError:  # no more processes allowed (a limit): this one does the share
                mine += share
        for i in mine:
            results[i] = work(items[i])
        while copies:
            pid, read, share = copies[0]
            done = _collect(pid, read)
            copies.pop(0)
            for n, i in enumerate(share):
                results[i] = done[n] if done is not None else work(items[i])
    finally:
        for pid, read, _ in copies:  # only after an exception here (Ctrl-C): stop and reap them
            with contextlib.suppress(OSError):  # closed already
                os.close(read)
            with contextlib.suppress(OSError):  # reaped already
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
    return results


def _fork_is_safe() -> bool:
    """Only on Linux (macOS's system libraries do not survive a fork), and only in a process that
    runs no other thread (torch's would be copied stopped, holding their locks)."""
    return sys.platform.startswith("linux") and "torch" not in sys.modules and threading.active_count() == 1


def _fork(work: Callable, items: Sequence, share: range) -> tuple[int, int, range]:
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        raise
    if pid == 0:  # the copy: its share's results down the pipe, then gone without running any cleanup
        status = 1
        try:
            os.close(read)
            data = pickle.dumps([work(items[i]) for i in share], pickle.HIGHEST_PROTOCOL)
            with open(write, "wb") as out:
                out.write(data)
            status = 0
        except BaseException:  # the parent does the share again, and says what fails
            pass
        finally:
            os._exit(status)
    os.close(write)
    return pid, read, share


def _collect(pid: int, read: int) -> list | None:
    """A copy's results, or None if it failed."""
    with open(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    try:
        return pickle.loads(data)  # from our own copy, not from outside
    except Exception:
        return None
