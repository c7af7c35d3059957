"""Every file a command writes, past a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored, as a
full disk would answer): one line naming the path and the cause, exit 1, nothing left.
(`build -o` meets every kind of write failure in test_save.py.)"""

import resource
import signal

import pytest

from conftest import run_cli

LIMIT = 2048  # bytes: each output below is larger


def _limited() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, LIMIT))


@pytest.mark.parametrize("command", [
    ["export", "specs/cifar/resnet20.yaml", "-o", "{out}/net.pt2"],
    ["diagram", "specs/resnet50.yaml", "--depth", "blocks", "-o", "{out}/net.svg"],
    ["eject", "specs/resnet50.yaml", "-o", "{out}/net.py"],
])
def test_a_write_past_the_file_size_limit_is_one_line_and_leaves_nothing(tmp_path, command):
    args = [part.format(out=tmp_path) for part in command]
    result = run_cli(*args, preexec_fn=_limited, timeout=300)
    assert (result.returncode, result.stderr) == (1, f"{args[-1]}: error: cannot write: File too large\n")
    assert list(tmp_path.iterdir()) == []
