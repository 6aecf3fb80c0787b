"""Checkpoint files on disk: writing as ``open(path, "wb")`` would, but atomically, and reading
the safetensors header and tensors lazily.

A regular file is replaced by rename of a finished temporary file (``.<name>.ember-tmp-<pid>-<hex>``
beside it), so a crash mid-save keeps the previous file. What ``open()`` would do decides the rest:
a symlink is followed (the link stays, its target gets the new content), an existing file keeps
its permission bits (and owner, where allowed), a file ``open()`` could not write raises
PermissionError, and a FIFO or device (``/dev/null``) is written into, never replaced. One
difference remains on purpose: a file with several hard links is replaced, so its other names
keep the previous content (open() would change them all; atomicity cannot have both).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat

_TEMPORARY_MARK = ".ember-tmp-"
_HEADER_LIMIT = 100_000_000  # safetensors' own bound on the JSON header
_EXPECTED = "expected an Ember checkpoint written by ember.save (a safetensors file)"


# ---- writing ----------------------------------------------------------------------------------


def write_file(path: str, data: bytes) -> None:
    """Writes ``data`` to ``path`` (see the module docstring for symlinks, modes and devices)."""
    target = os.path.realpath(path)  # a symlink's target, even a dangling one's
    try:
        status = os.stat(target)
    except FileNotFoundError:
        status = None
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(errno.EISDIR, "ember.save: the path is a directory", path)
    if status is not None and not stat.S_ISREG(status.st_mode):
        # A FIFO, character or block device: written into as open() would; renaming a temporary
        # file onto it would replace the device node itself.
        with open(target, "wb") as file:
            write_all(file, data)
        return
    if status is not None:
        _check_writable(target, path)
    directory, name = os.path.split(target)
    remove_stale_temporaries(directory, name)
    try:
        descriptor, temporary = _create_temporary(directory, name)
    except PermissionError:
        if status is None:
            raise
        # The directory is read-only but the file is writable: open() would succeed, so write in
        # place (not atomic: nothing else is possible here).
        with open(target, "wb") as file:
            write_all(file, data)
        return
    try:
        with os.fdopen(descriptor, "wb") as file:
            if status is not None:
                _copy_ownership(file.fileno(), status)
            write_all(file, data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        _unlink_quietly(temporary)
        raise
    _fsync_directory(directory)


def _check_writable(target: str, path: str) -> None:
    """Raises the PermissionError open(path, "wb") would, without truncating the file."""
    try:
        os.close(os.open(target, os.O_WRONLY))
    except PermissionError:
        raise PermissionError(
            errno.EACCES, "ember.save: permission denied (a file that open() could not write is "
            "never replaced)", path
        ) from None


def _create_temporary(directory: str, name: str) -> tuple:
    temporary = os.path.join(
        directory, f".{name}{_TEMPORARY_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    )
    # Mode 0o666 lets the umask decide a new file's permissions, as a plain open() would.
    return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), temporary


def _copy_ownership(descriptor: int, status: os.stat_result) -> None:
    if not hasattr(os, "fchmod"):
        return  # Windows: no POSIX modes or owners to keep
    os.fchmod(descriptor, stat.S_IMODE(status.st_mode))
    if hasattr(os, "fchown") and (status.st_uid, status.st_gid) != (os.geteuid(), os.getegid()):
        try:
            os.fchown(descriptor, status.st_uid, status.st_gid)
        except PermissionError:
            pass  # only root may give a file away; open() would have kept the owner, we cannot


def remove_stale_temporaries(directory: str, name: str) -> None:
    """Removes temporaries of saves to ``name`` whose process is gone (killed mid-save)."""
    prefix = f".{name}{_TEMPORARY_MARK}"
    try:
        entries = os.listdir(directory or ".")
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefix):
            pid = entry[len(prefix):].partition("-")[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                _unlink_quietly(os.path.join(directory, entry))


def _process_alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_all(file, data: bytes) -> None:
    """Writes ``data`` in chunks (tests interrupt it midway to check atomicity)."""
    view = memoryview(data)
    chunk = 1 << 24
    for start in range(0, len(view), chunk):
        file.write(view[start:start + chunk])


def _fsync_directory(directory: str) -> None:
    """Makes the rename itself durable; not possible (nor needed) on some platforms."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---- reading ----------------------------------------------------------------------------------


def read_header(prefix: bytes, file_size: int, read_more, source: str) -> dict:
    """Checks the safetensors framing and returns its JSON header, or raises a clear error.

    Args:
        prefix: the file's first 8 bytes (or fewer, for a short file).
        file_size: the whole file's size in bytes.
        read_more: ``n -> bytes``, the ``n`` header bytes that follow the prefix.
        source: how error messages name the file.
    """
    if file_size < 8:
        raise RuntimeError(f"ember.load({source}): file too short ({file_size} bytes): {_EXPECTED}")
    header_size = int.from_bytes(prefix[:8], "little")
    header = read_more(header_size) if header_size <= min(file_size - 8, _HEADER_LIMIT) else b""
    if not header.startswith(b"{"):
        raise RuntimeError(
            f"ember.load({source}): not a safetensors file{_guess_format(prefix)}, or truncated "
            f"(header of {header_size} bytes in a file of {file_size}): {_EXPECTED}"
        )
    try:
        parsed = json.loads(header)
        if not isinstance(parsed, dict) or not isinstance(parsed.get("__metadata__", {}), dict):
            raise ValueError("the header is not a JSON object of tensors and __metadata__")
    except (ValueError, RecursionError) as error:
        raise RuntimeError(
            f"ember.load({source}): corrupt safetensors header ({error}): {_EXPECTED}"
        ) from None
    return parsed


def _guess_format(prefix: bytes) -> str:
    if prefix[:4] == b"PK\x03\x04":
        return " (it is a zip archive, as torch.save writes: load it with PyTorch)"
    if prefix[:1] == b"\x80":
        return " (it looks like a Python pickle, which Ember never loads)"
    return ""
