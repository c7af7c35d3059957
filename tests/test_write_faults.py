"""Every file a command writes, past a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored, as a
full disk would answer): one line naming the path and the cause, exit 1, nothing left; and
`-o` onto what is not a regular file (a FIFO, a socket, a device, a symbolic link), which is
refused and left as it was. (`build -o` meets every kind of write failure in test_save.py.)"""

import os
import resource
import signal
import socket
import stat
import subprocess
import sys

import pytest

from conftest import ROOT

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
    result = subprocess.run([sys.executable, "-m", "archspec", *args], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=_limited, timeout=300)
    assert (result.returncode, result.stderr) == (1, f"{args[-1]}: error: cannot write: File too large\n")
    assert list(tmp_path.iterdir()) == []


# Where `-o` points at something that is not a regular file, nothing is replaced: one line, exit 1.
def _fifo(path):
    os.mkfifo(path)


def _socket(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock  # kept open by the caller until the test ends


@pytest.mark.parametrize("make,kind,check", [
    (_fifo, "FIFO", stat.S_ISFIFO),
    (_socket, "socket", stat.S_ISSOCK),
])
@pytest.mark.parametrize("command", [["build", "specs/examples/mnist_small.yaml", "-o", "{out}"],
                                     ["eject", "specs/examples/mnist_small.yaml", "-o", "{out}"]])
def test_an_output_that_is_no_regular_file_is_refused_and_left_as_it_was(cli, tmp_path, make, kind, check, command):
    target = tmp_path / ("m.safetensors" if command[0] == "build" else "m.py")
    keep = make(target)
    r = cli(*[part.format(out=target) for part in command])
    assert (r.returncode, r.stderr) == (1, f"{target}: error: this is a {kind}, not a regular file: "
                                           "archspec replaces only regular files\n")
    assert check(os.lstat(target).st_mode) and sorted(tmp_path.iterdir()) == [target]
    del keep


def test_dev_null_stays_a_device(cli):
    r = cli("eject", "specs/examples/mnist_small.yaml", "-o", "/dev/null")
    assert (r.returncode, r.stderr) == (1, "/dev/null: error: this is a device, not a regular file: "
                                           "archspec replaces only regular files\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_symbolic_link_is_refused_and_neither_it_nor_its_target_is_touched(cli, tmp_path):
    target, link = tmp_path / "target.py", tmp_path / "link.py"
    target.write_text("old")
    link.symlink_to(target)
    r = cli("eject", "specs/examples/mnist_small.yaml", "-o", link)
    assert (r.returncode, r.stderr) == (1, f"{link}: error: a symbolic link is in the way: archspec replaces only "
                                           "regular files; give the link's target\n")
    assert link.is_symlink() and target.read_text() == "old"


def test_the_api_refuses_what_is_no_regular_file_too(tmp_path):
    import archspec

    fifo = tmp_path / "m.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(archspec.WriteError, match="this is a FIFO, not a regular file"):
        archspec.save(archspec.build("specs/examples/mnist_small.yaml"), fifo)
    with pytest.raises(archspec.WriteError, match="^-: error: cannot write: weights are binary and do not go to stdout"):
        archspec.save(archspec.build("specs/examples/mnist_small.yaml"), "-")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dash_is_stdout_for_text_and_refused_for_weights(cli):
    plain = cli("eject", "specs/examples/mnist_small.yaml")
    dash = cli("eject", "specs/examples/mnist_small.yaml", "-o", "-")
    assert (dash.returncode, dash.stdout, dash.stderr) == (0, plain.stdout, "")
    r = cli("build", "specs/examples/mnist_small.yaml", "-o", "-")
    assert (r.returncode, r.stdout, r.stderr) == (2, "", "-: error: weights are binary and do not go to stdout; "
                                                         "name the file .safetensors, .pt or .pth\n")
