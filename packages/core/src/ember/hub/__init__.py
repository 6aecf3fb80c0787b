r"""``ember.hub``: models from a repository's ``hubconf.py`` and weights by URL, as ``torch.hub``.

A hub repository is a folder (or an archive of one) whose ``hubconf.py`` defines entry points:
public functions that build a model (their docstrings are the help) and an optional
``dependencies`` list of importable package names, checked before any entry point runs. See
``ember.hub.repos`` for the sources and ``ember.hub.download`` for the cache.

Archives run only when trusted: the first ``load`` of a repository not in the trusted list
(``<get_dir()>/trusted_list``) asks on a terminal and raises without one, unless
``trust_repo=True``. Local folders are yours and run without asking, as in PyTorch.

Example:
    >>> import pathlib
    >>> pathlib.Path("repo").mkdir()
    >>> _ = pathlib.Path("repo/hubconf.py").write_text(
    ...     'def double(x):\n    "Twice x."\n    return 2 * x\n')
    >>> ember.hub.list("repo", source="local"), ember.hub.help("repo", "double", source="local")
    (['double'], 'Twice x.')
    >>> ember.hub.load("repo", "double", 21, source="local")
    42
"""

from __future__ import annotations

import builtins
import os

from ember.hub.download import (
    HASH_REGEX,
    download_url_to_file,
    get_dir,
    load_state_dict_from_url,
    set_dir,
    tqdm,  # torch.hub.tqdm, which programs import from here
)
from ember.hub.repos import entrypoint, entrypoints, hubconf, repository_dir

__all__ = ["HASH_REGEX", "download_url_to_file", "get_dir", "help", "list", "load",
           "load_state_dict_from_url", "set_dir", "tqdm"]


def _hubconf(repo_or_dir, source, trust_repo, force_reload, caller):
    return hubconf(repository_dir(repo_or_dir, source, trust_repo, force_reload, caller), caller)


def list(repo_or_dir: str | os.PathLike, force_reload: bool = False,  # noqa: A001
         skip_validation: bool = False, trust_repo=None, verbose: bool = True, *,
         source: str = "github") -> builtins.list[str]:
    """The entry points of a repository's ``hubconf.py``, sorted.

    ``skip_validation`` and ``verbose`` are PyTorch's GitHub options, accepted and unused.
    """
    with _hubconf(repo_or_dir, source, trust_repo, force_reload, "list") as module:
        return entrypoints(module)


def help(repo_or_dir: str | os.PathLike, model: str, force_reload: bool = False,  # noqa: A001
         skip_validation: bool = False, trust_repo=None, *, source: str = "github") -> str:
    """The docstring of the entry point ``model`` (empty when it has none)."""
    with _hubconf(repo_or_dir, source, trust_repo, force_reload, "help") as module:
        return entrypoint(module, model, "help").__doc__ or ""


def load(repo_or_dir: str | os.PathLike, model: str, *args, source: str = "github",
         trust_repo=None, force_reload: bool = False, verbose: bool = True,
         skip_validation: bool = False, **kwargs):
    """Calls the entry point ``model`` of a repository's ``hubconf.py`` with ``*args`` and
    ``**kwargs`` and returns what it returns (usually a model).

    Args:
        repo_or_dir: a folder holding ``hubconf.py``, or (``source="github"``) an archive:
            ``"owner/name[:ref]"``, an http(s)/file:// URL or a path to a .zip / .tar.gz.
        model: the entry point's name (see ``list``).
        source: ``"github"`` (an archive; a folder is read in place) or ``"local"``.
        trust_repo: True trusts the repository (remembered); None, False or ``"check"`` run it
            only if it is in the trusted list, asking on a terminal otherwise.
        force_reload: download and extract the archive again.
        verbose, skip_validation: PyTorch's options, accepted and unused.

    Raises:
        RuntimeError: an untrusted repository, missing ``dependencies``, or no such entry point.
        FileNotFoundError: no ``hubconf.py``, or a path that does not exist.
    """
    with _hubconf(repo_or_dir, source, trust_repo, force_reload, "load") as module:
        return entrypoint(module, model, "load")(*args, **kwargs)
