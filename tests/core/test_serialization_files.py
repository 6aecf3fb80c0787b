"""ember.save / ember.load on the file system: paths behave as open(path, "wb") and a lazy read.

torch.save opens the path with open(path, "wb"): it follows symlinks, keeps the file's mode, raises
PermissionError for a read-only file and writes into FIFOs and devices. Ember writes atomically
(temporary file + rename) and must keep all of that.
"""

import contextlib
import errno
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy

import ember
from ember import nn
from ember.serialization import load, save

posix_only = pytest.mark.skipif(os.name != "posix", reason="symlinks, FIFOs and modes are POSIX")


def run_python(code: str, user: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120, user=user)


@posix_only
def test_save_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.safetensors"
    save({"epoch": 1}, target)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(target.name)  # relative, as `ln -s real latest` makes
    save({"epoch": 2}, link)
    assert link.is_symlink() and os.readlink(link) == target.name
    assert load(target) == {"epoch": 2}
    dangling = tmp_path / "dangling"
    dangling.symlink_to("created.safetensors")
    save({"epoch": 3}, dangling)
    assert dangling.is_symlink() and load(tmp_path / "created.safetensors") == {"epoch": 3}
    assert sorted(os.listdir(tmp_path)) == ["created.safetensors", "dangling",
                                            "latest.safetensors", "real.safetensors"]


@posix_only
def test_save_keeps_the_mode_of_an_existing_file(tmp_path):
    target = tmp_path / "checkpoint.safetensors"
    save({"epoch": 1}, target)
    os.chmod(target, 0o640)
    save({"epoch": 2}, target)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640 and load(target) == {"epoch": 2}


@contextlib.contextmanager
def unprivileged():
    """Root may write any file (open() succeeds), so permission checks run as user nobody."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)  # the real uid stays root, so the effective one can be restored
    try:
        yield
    finally:
        os.seteuid(0)


@posix_only
def test_save_refuses_a_read_only_file_as_open_would():
    with tempfile.TemporaryDirectory() as directory:
        os.chmod(directory, 0o777)  # a writable directory: only the file's mode may refuse
        target = os.path.join(directory, "frozen.safetensors")
        save({"epoch": 1}, target)
        os.chmod(target, 0o444)
        with unprivileged(), pytest.raises(PermissionError) as info:
            save({"epoch": 2}, target)
        assert info.value.errno == errno.EACCES and info.value.filename == target
        assert "ember.save: permission denied" in str(info.value)
        assert load(target) == {"epoch": 1} and os.listdir(directory) == ["frozen.safetensors"]


@posix_only
def test_save_into_a_read_only_directory_writes_a_writable_file_in_place():
    # open(path, "wb") needs only the file to be writable; the temporary file cannot be made
    # there, so the file is written in place (not atomic: nothing else is possible).
    with tempfile.TemporaryDirectory() as directory:
        target = os.path.join(directory, "shared.safetensors")
        save({"epoch": 1}, target)
        os.chmod(target, 0o666)
        os.chmod(directory, 0o555)
        try:
            with unprivileged():
                save({"epoch": 2}, target)
                with pytest.raises(PermissionError):
                    save({"epoch": 1}, os.path.join(directory, "new.safetensors"))
        finally:
            os.chmod(directory, 0o755)
        assert load(target) == {"epoch": 2} and os.listdir(directory) == ["shared.safetensors"]


@posix_only
def test_save_writes_into_a_fifo_and_a_device_without_replacing_them(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    save({"weight": ember.arange(5)}, fifo)
    reader.join(timeout=30)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]
    restored = tmp_path / "received.safetensors"
    restored.write_bytes(received[0])
    assert load(restored)["weight"].tolist() == [0, 1, 2, 3, 4]
    save({"weight": ember.ones(3)}, os.devnull)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save({}, tmp_path)


@posix_only
def test_temporaries_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    target = tmp_path / "checkpoint.safetensors"
    save({"epoch": 1}, target)
    killed = run_python(f"""
        import os, signal
        import ember
        from ember.serialization import _files

        def die_midway(file, data):
            file.write(data[: len(data) // 2])
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        _files.write_all = die_midway
        ember.save({{"weight": ember.ones(1000)}}, {str(target)!r})
    """)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    leftovers = [name for name in os.listdir(tmp_path) if name != target.name]
    assert len(leftovers) == 1 and leftovers[0].startswith(".checkpoint.safetensors.ember-tmp-")
    # A live process's temporary (a save in progress) and other files' temporaries stay.
    alive = f".checkpoint.safetensors.ember-tmp-{os.getpid()}-0000"
    other = ".other.safetensors.ember-tmp-999999999-0000"
    for name in (alive, other):
        (tmp_path / name).write_bytes(b"partial")
    assert load(target) == {"epoch": 1}
    save({"epoch": 2}, target)
    assert sorted(os.listdir(tmp_path)) == sorted([alive, other, target.name])
    assert load(target) == {"epoch": 2}


def test_plain_safetensors_files_load_as_a_flat_dict_of_tensors(tmp_path):
    # Weights converted from torchvision (safetensors.torch.save_file(model.state_dict())) have
    # no Ember structure header: they load as {name: tensor}, ready for load_state_dict.
    model = nn.Linear(3, 2)
    weights = {"weight": np.arange(6, dtype=np.float32).reshape(2, 3),
               "bias": np.array([0.5, -0.5], dtype=np.float32)}
    path = tmp_path / "converted.safetensors"
    safetensors.numpy.save_file(weights, path, metadata={"format": "pt"})
    loaded = load(path)
    assert sorted(loaded) == ["bias", "weight"]
    assert all(isinstance(value, ember.Tensor) for value in loaded.values())
    model.load_state_dict(loaded)
    np.testing.assert_array_equal(model.weight.detach().numpy(), weights["weight"])
    with open(path, "rb") as file:
        assert load(file)["bias"].tolist() == [0.5, -0.5]
    seen = []
    load(path, map_location=lambda tensor, location: seen.append(location))
    assert seen == ["cpu", "cpu"]


def test_load_reads_tensors_lazily_at_about_the_file_size(tmp_path):
    # Reading the whole file, then copying each tensor out of it peaked at about 3x the file.
    path = tmp_path / "big.safetensors"
    save({f"layer{n}": ember.ones(256, 1024) for n in range(8)}, path)  # 8 MiB of float32
    size = os.path.getsize(path)
    tracemalloc.start()
    try:
        loaded = load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert float(loaded["layer7"].sum()) == 256 * 1024
    assert peak < 1.3 * size, f"peak {peak / size:.2f}x the file size"
