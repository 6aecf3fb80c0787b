"""Checks on local dataset files, as ``torchvision.datasets.utils`` (without the downloading).

``download=True`` in Ember means "make sure the files are there": with the files in place it
uses them, as torchvision does (which, for MNIST, only checks that they exist), and warns when
their checksums are not the published ones; without them it raises an error that names the
folder and the files to put there. Ember never uses the network.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import warnings
from pathlib import Path

__all__ = ["calculate_md5", "check_integrity", "verify_local_files"]


def calculate_md5(path: str | os.PathLike, chunk_size: int = 1024 * 1024) -> str:
    """The MD5 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_integrity(path: str | os.PathLike, md5: str | None = None) -> bool:
    """True when ``path`` is a file (and, with ``md5``, has that digest), as torchvision's."""
    if not os.path.isfile(path):
        return False
    return md5 is None or calculate_md5(path) == md5


def _content_md5(path: Path) -> str:
    """The MD5 of what a ``.gz`` file decompresses to."""
    digest = hashlib.md5(usedforsecurity=False)
    with gzip.open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_local_files(dataset: str, found: dict, checksums: dict, folders, source: str) -> None:
    """Raises unless every file is present; warns for a file that is not the published one.

    Args:
        dataset: the dataset's name, for messages.
        found: file stem -> the path found for it, or None when missing.
        checksums: file stem -> (MD5 of the ``.gz`` archive as published, MD5 of the uncompressed
            file). A ``.gz`` passes when either digest matches (re-compressed copies, such as
            Debian's, differ in their gzip header but not in what they hold); an uncompressed
            file must match the second.
        folders: the folders searched, for the message when files are missing.
        source: where the files can be had, for that message.

    Raises:
        RuntimeError: naming the missing files and where to put them.

    Warns:
        UserWarning: naming a file whose checksum is not the published one, with both digests.
            torchvision uses files already in place without checking them, so Ember uses them
            too (a stand-in in the same format, such as Fashion-MNIST's files under MNIST's
            names, works), but says so.
    """
    missing = [stem for stem, path in found.items() if path is None]
    if missing:
        where = " or ".join(str(folder) for folder in folders)
        raise RuntimeError(
            f"{dataset}: download=True, but Ember never downloads data and these files are "
            f"missing: {', '.join(f'{stem}.gz' for stem in missing)}. Put the four files "
            f"({', '.join(f'{stem}.gz' for stem in found)}; gzip-compressed or not) in {where}. "
            f"They are published at {source}."
        )
    for stem, path in found.items():
        archive_md5, content_md5 = checksums[stem]
        if path.suffix == ".gz":
            digest = calculate_md5(path)
            if digest == archive_md5 or _content_md5(path) == content_md5:
                continue
        else:
            digest = calculate_md5(path)
            if digest == content_md5:
                continue
        warnings.warn(
            f"{dataset}: {path} has MD5 {digest}, which is not the published file (expected "
            f"{archive_md5} for {stem}.gz or {content_md5} for {stem} uncompressed); using it as "
            "it is",
            UserWarning, stacklevel=3,
        )
