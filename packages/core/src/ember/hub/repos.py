"""Hub repositories: finding one (a local folder or a cached archive), trusting it, and reading
its ``hubconf.py``.

``source="local"``: ``repo_or_dir`` is a folder holding ``hubconf.py``, used in place.
``source="github"`` (PyTorch's default): a GitHub-style archive of the repository, given as
``"owner/name[:ref]"`` (fetched from ``https://github.com/owner/name/archive/<ref>.zip``, ref
``main`` by default), an http(s) or file:// URL, or a path to a .zip / .tar.gz file. It is
extracted safely into ``<get_dir()>/<name>`` once (again with ``force_reload=True``); when the
archive holds one top-level folder, as GitHub's do, that folder is the repository.

Differences from PyTorch, on purpose: a path that is a folder is read in place whatever the
source says (it cannot be an archive), and without ``ref`` the branch is ``main`` (Ember does not
ask GitHub's API for the default branch).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from urllib.parse import urlparse

from ember.hub.archives import extract
from ember.hub.download import download_url_to_file, get_dir

#: where "owner/name:ref" archives come from
GITHUB_ARCHIVE = "https://github.com/{owner}/{name}/archive/{ref}.zip"
_SOURCES = ("github", "local")
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")
TRUSTED_LIST = "trusted_list"


def repository_dir(repo_or_dir: str | os.PathLike, source: str, trust_repo, force_reload: bool,
                   caller: str) -> str:
    """The folder of the repository, downloading and extracting an archive when needed."""
    if source not in _SOURCES:
        raise ValueError(f"ember.hub.{caller}: unknown source {source!r}; expected 'github' (a "
                         "GitHub-style archive: 'owner/name[:ref]', a URL or a path) or 'local'")
    repo_or_dir = os.fspath(repo_or_dir)
    if os.path.isdir(repo_or_dir):
        return repo_or_dir
    if source == "local":
        raise FileNotFoundError(f"ember.hub.{caller}: {repo_or_dir!r} is not a folder "
                                "(source='local' needs a folder holding hubconf.py)")
    url, key, cache_name = _archive_location(repo_or_dir)
    _check_trusted(key, trust_repo, caller)
    hub_dir = get_dir()
    target = os.path.join(hub_dir, cache_name)
    if os.path.isdir(target) and not force_reload:
        return _repository_root(target)
    os.makedirs(hub_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=hub_dir, prefix=".extract-") as scratch:
        archive = os.path.join(scratch, "archive")
        download_url_to_file(url, archive, progress=False)
        unpacked = os.path.join(scratch, "repo")
        os.makedirs(unpacked)
        extract(archive, unpacked, repr(repo_or_dir))
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.replace(unpacked, target)
    return _repository_root(target)


def _archive_location(repo: str) -> tuple[str, str, str]:
    """(the archive's URL, its key in the trusted list, its folder name in the cache)."""
    if urlparse(repo).scheme in ("http", "https", "file"):
        url = repo
    elif os.path.isfile(repo):
        url = "file://" + os.path.abspath(repo)
    elif repo.count("/") == 1 and not repo.endswith(_ARCHIVE_SUFFIXES):
        owner_name, _, ref = repo.partition(":")
        owner, name = owner_name.split("/")
        ref = ref or "main"
        url = GITHUB_ARCHIVE.format(owner=owner, name=name, ref=ref)
        return url, f"{owner}_{name}", f"{owner}_{name}_{ref.replace('/', '_')}"
    else:
        raise FileNotFoundError(f"ember.hub: {repo!r} is neither a folder, an archive file, a "
                                "URL nor 'owner/name[:ref]'")
    stem = os.path.basename(urlparse(url).path) or "repo"
    for suffix in _ARCHIVE_SUFFIXES:
        stem = stem.removesuffix(suffix)
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return url, url, f"{stem}_{digest}"


def _repository_root(folder: str) -> str:
    entries = os.listdir(folder)
    if len(entries) == 1 and os.path.isdir(os.path.join(folder, entries[0])):
        return os.path.join(folder, entries[0])  # GitHub's archives hold "<name>-<ref>/"
    return folder


# ---- trust ---------------------------------------------------------------------------------


def _trusted(key: str) -> bool:
    path = os.path.join(get_dir(), TRUSTED_LIST)
    if not os.path.exists(path):
        return False
    with open(path, encoding="utf-8") as file:
        return key in (line.strip() for line in file)


def _remember_trust(key: str) -> None:
    os.makedirs(get_dir(), exist_ok=True)
    with open(os.path.join(get_dir(), TRUSTED_LIST), "a", encoding="utf-8") as file:
        file.write(key + "\n")


def _check_trusted(key: str, trust_repo, caller: str) -> None:
    """Runs nothing of an untrusted repository: ``trust_repo=True`` trusts it (and remembers
    that); otherwise a repository not in the trusted list is asked about on a terminal, and
    refused without one."""
    if trust_repo not in (None, True, False, "check"):
        raise ValueError(f"ember.hub.{caller}: trust_repo must be None, True, False or 'check', "
                         f"got {trust_repo!r}")
    if _trusted(key):
        return
    if trust_repo is True:
        _remember_trust(key)
        return
    question = (f"The repository {key} is not in the trusted list ({get_dir()}/{TRUSTED_LIST}); "
                "its hubconf.py would run as Python code.")
    if not sys.stdin or not sys.stdin.isatty():
        raise RuntimeError(f"ember.hub.{caller}: untrusted repository. {question} Pass "
                           "trust_repo=True if you trust it (it is then remembered)")
    answer = input(f"{question} Do you trust it and want to add it to the list (y/N)? ")
    if answer.strip().lower() not in ("y", "yes"):
        raise RuntimeError(f"ember.hub.{caller}: untrusted repository {key}")
    _remember_trust(key)


# ---- hubconf.py -------------------------------------------------------------------------------


@contextmanager
def hubconf(repo_dir: str, caller: str):
    """``<repo_dir>/hubconf.py`` imported, its ``dependencies`` checked, for the block.

    The folder is first on ``sys.path`` during the block (entry points may import the
    repository's modules), and the modules imported from it leave ``sys.modules`` after, so
    that another repository (or a new version of this one) gets its own.
    """
    path = os.path.join(repo_dir, "hubconf.py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"ember.hub.{caller}: no hubconf.py in {repo_dir}")
    module_name = "hubconf_" + hashlib.sha256(os.path.abspath(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.path.insert(0, repo_dir)
    try:
        spec.loader.exec_module(module)
        missing = [name for name in getattr(module, "dependencies", [])
                   if importlib.util.find_spec(name) is None]
        if missing:
            raise RuntimeError(f"ember.hub.{caller}: missing dependencies of {repo_dir}: "
                               f"{', '.join(missing)}")
        yield module
    finally:
        sys.path.remove(repo_dir)
        _forget_modules_from(repo_dir, before)


def _forget_modules_from(folder: str, before: set) -> None:
    """Drops the modules imported since ``before`` through the ``sys.path`` entry ``folder``
    (a top-level ``<folder>/<name>.py`` or ``<folder>/<name>/`` and its submodules)."""
    folder = os.path.realpath(folder)
    for name in set(sys.modules) - before:
        top = name.partition(".")[0]
        file = getattr(sys.modules.get(top), "__file__", None)
        if file is None:
            continue
        relative = os.path.relpath(os.path.realpath(file), folder).split(os.sep)
        if relative[0] in (top, f"{top}.py"):
            del sys.modules[name]


def entrypoint(module, model: str, caller: str):
    """The callable ``model`` of a hubconf module."""
    if not isinstance(model, str):
        raise ValueError(f"ember.hub.{caller}: invalid model name {model!r}; expected a string")
    function = getattr(module, model, None)
    if function is None or model.startswith("_"):
        raise RuntimeError(f"ember.hub.{caller}: cannot find callable {model!r} in hubconf; "
                           f"entry points: {', '.join(entrypoints(module))}")
    if not callable(function):
        raise ValueError(f"ember.hub.{caller}: {model!r} in hubconf is not callable")
    return function


def entrypoints(module) -> list[str]:
    """The public callables of a hubconf module, sorted."""
    return sorted(name for name in dir(module)
                  if not name.startswith("_") and callable(getattr(module, name)))
