"""Downloads into the hub cache: ``download_url_to_file``, ``load_state_dict_from_url`` and the
cache folder (``get_dir`` / ``set_dir``).

URLs are http(s) or file://. A download goes to a temporary file beside its destination and is
renamed into place only once complete (and its SHA-256 checked), so a partial or corrupt file
never sits at the final path.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from tqdm.auto import tqdm

from ember.serialization import load

__all__ = ["download_url_to_file", "get_dir", "load_state_dict_from_url", "set_dir"]

#: a file name's hash prefix, as PyTorch writes them: ``resnet18-f37072fd.safetensors``
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
_SCHEMES = ("http", "https", "file")
_CHUNK = 1 << 16
_hub_dir: str | None = None


def get_dir() -> str:
    """The hub cache folder: the one ``set_dir`` gave, else ``$EMBER_HOME/hub``, where
    ``EMBER_HOME`` defaults to ``$XDG_CACHE_HOME/ember`` (``~/.cache/ember``)."""
    if _hub_dir is not None:
        return _hub_dir
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    home = os.environ.get("EMBER_HOME", os.path.join(cache, "ember"))
    return os.path.join(os.path.expanduser(home), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Sets the hub cache folder (over ``EMBER_HOME``) for this process."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def _open_url(url: str, caller: str):
    scheme = urlparse(url).scheme
    if scheme not in _SCHEMES:
        raise ValueError(f"{caller}: unsupported URL {url!r}; expected an http://, https:// or "
                         "file:// URL")
    request = urllib.request.Request(url, headers={"User-Agent": "ember.hub"})
    return urllib.request.urlopen(request)  # noqa: S310  (the scheme is checked above)


def download_url_to_file(url: str, dst: str | os.PathLike, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    """Downloads ``url`` (http, https or file) to ``dst``, atomically.

    Args:
        url: the file's URL.
        dst: the destination path; the download is written beside it as
            ``<dst>.<random>.partial`` and renamed to ``dst`` when complete.
        hash_prefix: when given, the file's SHA-256 (hex) must start with it.
        progress: show a tqdm progress bar (on stderr).

    Raises:
        ValueError: for a URL of another scheme.
        RuntimeError: when the SHA-256 does not start with ``hash_prefix`` or the download
            ends early; nothing is left at ``dst`` or beside it.
        urllib.error.URLError: when the URL cannot be read.
    """
    dst = os.path.expanduser(os.fspath(dst))
    partial = f"{dst}.{secrets.token_hex(8)}.partial"
    digest = hashlib.sha256()
    try:
        with _open_url(url, "download_url_to_file") as response, open(partial, "wb") as file:
            size = response.headers.get("Content-Length")
            with tqdm(total=int(size) if size else None, disable=not progress, unit="B",
                      unit_scale=True, unit_divisor=1024) as bar:
                received = 0
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    file.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
                    received += len(chunk)
            if size and received != int(size):
                raise RuntimeError(f"download_url_to_file({url!r}): the connection ended after "
                                   f"{received} of {size} bytes; the file was not kept")
            file.flush()
            os.fsync(file.fileno())
        if hash_prefix is not None and not digest.hexdigest().startswith(hash_prefix):
            raise RuntimeError(f"download_url_to_file({url!r}): invalid hash value (expected "
                               f"a SHA-256 starting with {hash_prefix!r}, got "
                               f"{digest.hexdigest()!r}); the file was not kept")
        os.replace(partial, dst)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def load_state_dict_from_url(url: str, model_dir: str | os.PathLike | None = None,
                             map_location=None, progress: bool = True, check_hash: bool = False,
                             file_name: str | None = None, weights_only: bool = True) -> dict:
    """Loads a safetensors checkpoint from ``url``, downloading it into the cache once.

    Args:
        url: an http(s) or file:// URL of a file written by ``ember.save`` or a plain
            safetensors file.
        model_dir: where to cache it (default ``<get_dir()>/checkpoints``).
        map_location: as for ``ember.load``.
        progress: show a progress bar while downloading.
        check_hash: check the download's SHA-256 against the hex prefix in its file name
            (``name-<prefix>.safetensors``), as PyTorch does.
        file_name: the cached file's name (default: the URL's last path component).
        weights_only: accepted for PyTorch's signature; loading never unpickles, so only True.

    Differences from PyTorch, on purpose: the file must be safetensors. A pickle (a ``.pth``
    from ``torch.save``) or zip is refused with a RuntimeError after reading its first bytes;
    it is never unpickled. A cached file is used as it is (its hash is checked at download).

    Raises:
        RuntimeError: for a pickle or zip checkpoint, a hash mismatch, or a corrupt file.
        ValueError: for an unsupported URL, or ``check_hash`` with no hash in the file name.
    """
    if not weights_only:
        raise ValueError("load_state_dict_from_url: Ember never unpickles, so weights_only "
                         "must be True")
    model_dir = os.fspath(model_dir) if model_dir is not None else os.path.join(get_dir(),
                                                                                 "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    name = file_name or os.path.basename(urlparse(url).path)
    if not name:
        raise ValueError(f"load_state_dict_from_url: the URL {url!r} names no file; pass "
                         "file_name=")
    cached = os.path.join(model_dir, name)
    if not os.path.exists(cached):
        hash_prefix = None
        if check_hash:
            match = HASH_REGEX.search(name)
            if match is None:
                raise ValueError(f"load_state_dict_from_url: check_hash=True needs a hash "
                                 f"prefix in the file name ('name-<sha256 prefix>.ext'), got "
                                 f"{name!r}")
            hash_prefix = match.group(1)
        download_url_to_file(url, cached, hash_prefix, progress=progress)
    refuse_pickle(cached, f"load_state_dict_from_url({url!r})")
    return load(cached, map_location=map_location)


def refuse_pickle(path: str | os.PathLike, caller: str) -> None:
    """Raises RuntimeError when ``path`` starts like a pickle or a zip (``torch.save``'s
    formats); only its first bytes are read."""
    with open(path, "rb") as file:
        head = file.read(4)
    if head[:1] == b"\x80" or head == b"PK\x03\x04":
        kind = "a Python pickle" if head[:1] == b"\x80" else "a zip archive (torch.save's format)"
        raise RuntimeError(f"{caller}: {Path(path).name} is {kind}; Ember loads weights only "
                           "from safetensors files and never unpickles. Convert the checkpoint "
                           "with PyTorch (safetensors.torch.save_file(state_dict, path)) first")
