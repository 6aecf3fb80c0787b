"""Safe extraction of repository archives (zip, tar, tar.gz), as GitHub serves them.

Every member must land inside the destination: absolute names, ``..`` components, links that
point outside, device files and FIFOs are refused before anything is written.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
import zipfile


def _inside(name: str, source: str) -> str:
    """``name`` normalised, checked to stay inside the extraction folder."""
    normal = posixpath.normpath(name.replace("\\", "/"))
    if posixpath.isabs(normal) or normal == ".." or normal.startswith("../"):
        raise RuntimeError(f"ember.hub: the archive {source} holds {name!r}, which would be "
                           "written outside its folder; refusing to extract it")
    return normal


def _check_link(name: str, target: str, source: str) -> None:
    """A symbolic link ``name -> target`` must resolve inside the extraction folder."""
    joined = posixpath.join(posixpath.dirname(_inside(name, source)), target)
    if posixpath.isabs(target) or posixpath.normpath(joined).startswith(".."):
        raise RuntimeError(f"ember.hub: the archive {source} holds a link {name!r} -> "
                           f"{target!r} pointing outside its folder; refusing to extract it")


def extract(archive: str, destination: str, source: str) -> None:
    """Extracts the zip or tar(.gz/.bz2/.xz) file ``archive`` into ``destination``.

    Raises:
        RuntimeError: for an archive of another format or an unsafe member (nothing is
            extracted then).
    """
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, destination, source)
    elif tarfile.is_tarfile(archive):
        _extract_tar(archive, destination, source)
    else:
        raise RuntimeError(f"ember.hub: {source} is neither a zip nor a tar archive")


def _extract_zip(archive: str, destination: str, source: str) -> None:
    with zipfile.ZipFile(archive) as bundle:
        members = bundle.infolist()
        links = {}
        for member in members:
            _inside(member.filename, source)
            if stat.S_ISLNK(member.external_attr >> 16):
                links[member.filename] = bundle.read(member).decode()
                _check_link(member.filename, links[member.filename], source)
        for member in members:
            if member.filename in links:
                path = os.path.join(destination, _inside(member.filename, source))
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.symlink(links[member.filename], path)
            else:
                bundle.extract(member, destination)


def _extract_tar(archive: str, destination: str, source: str) -> None:
    with tarfile.open(archive) as bundle:
        members = bundle.getmembers()
        for member in members:
            _inside(member.name, source)
            if member.issym():
                _check_link(member.name, member.linkname, source)
            elif member.islnk():
                _inside(member.linkname, source)
            elif not (member.isfile() or member.isdir()):
                raise RuntimeError(f"ember.hub: the archive {source} holds {member.name!r}, "
                                   "a device or FIFO; refusing to extract it")
        # The data filter (where Python has it) re-checks the same and drops unsafe modes.
        options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        bundle.extractall(destination, members, **options)
