"""ember.hub: hubconf entry points from folders and archives, trust, and checked downloads.

The network is never used: http(s) URLs go to a server on loopback that the test starts.
"""

import functools
import http.server
import io
import os
import pickle
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import hub
from ember.hub import download, repos

ROOT = Path(__file__).resolve().parents[2]

HUBCONF = '''
"""A test repository."""
import pathlib

import ember
import helper

dependencies = ["numpy"]
pathlib.Path(__file__).with_name("ran").write_text("yes")  # proves the code ran


def tiny(n=2, *, value=1.0):
    """A Linear(n, 1) with every weight VALUE."""
    layer = ember.nn.Linear(n, 1)
    with ember.no_grad():
        layer.weight.fill_(helper.scale(value))
        layer.bias.zero_()
    return layer


def _private():
    return None
'''


@pytest.fixture(autouse=True)
def hub_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_hub_dir", str(tmp_path / "hub"))
    return tmp_path / "hub"


def _write_repo(folder: Path, version: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hubconf.py").write_text(HUBCONF)
    (folder / "helper.py").write_text(f"def scale(value):\n    return value * {version}\n")
    return folder


def _zip_repo(path: Path, top: str, version: int = 1, extra=()) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        bundle.writestr(f"{top}/hubconf.py", HUBCONF)
        bundle.writestr(f"{top}/helper.py", f"def scale(value):\n    return value * {version}\n")
        for name, data in extra:
            bundle.writestr(name, data)
    return path


@pytest.fixture
def server(tmp_path):
    """An http server on loopback serving ``tmp_path / "www"``; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802  (http.server's name)
        if self.path == "/truncated":  # promises 1000 bytes, sends 10, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            return
        super().do_GET()


# ---- local folders ---------------------------------------------------------------------------


def test_list_help_and_load_from_a_folder(tmp_path):
    repo = _write_repo(tmp_path / "repo")
    path_before = list(sys.path)
    assert hub.list(repo, source="local") == ["tiny"]
    assert hub.help(str(repo), "tiny", source="local") == "A Linear(n, 1) with every weight VALUE."
    layer = hub.load(repo, "tiny", 3, value=0.5, source="local")
    np.testing.assert_array_equal(layer.weight.detach().numpy(), np.full((1, 3), 0.5))
    assert sys.path == path_before
    # A folder needs no trust (it is the user's own), also under the default source.
    assert hub.load(repo, "tiny").in_features == 2


def test_hubconf_problems_are_clear_errors(tmp_path):
    repo = _write_repo(tmp_path / "repo")
    with pytest.raises(RuntimeError, match="cannot find callable 'nope'.*entry points: tiny"):
        hub.load(repo, "nope", source="local")
    with pytest.raises(RuntimeError, match="cannot find callable '_private'"):
        hub.load(repo, "_private", source="local")
    (repo / "hubconf.py").write_text(HUBCONF.replace('["numpy"]', '["numpy", "no_such_pkg_x"]'))
    with pytest.raises(RuntimeError, match="missing dependencies of .*: no_such_pkg_x"):
        hub.list(repo, source="local")
    with pytest.raises(FileNotFoundError, match="no hubconf.py"):
        hub.list(tmp_path, source="local")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        hub.list(tmp_path / "missing", source="local")
    with pytest.raises(ValueError, match="unknown source 'gitlab'"):
        hub.list(repo, source="gitlab")


def test_this_repository_is_a_hub_repository():
    from ember_vision import models

    names = hub.list(ROOT, source="local")
    assert set(models.list_models()) <= set(names)
    assert {"rnn_language_model", "tree_classifier", "ppo", "a2c", "reinforce"} <= set(names)
    model = hub.load(ROOT, "small_cnn", weights="DEFAULT").eval()
    reference = models.get_model("small_cnn", weights="DEFAULT").eval()
    image = ember.randn(2, 1, 28, 28)
    with ember.no_grad():
        np.testing.assert_array_equal(model(image).numpy(), reference(image).numpy())
    lm = hub.load(ROOT, "rnn_language_model", 11, 4, 6)
    logits, _ = lm(ember.zeros(3, 2, dtype=ember.int64))
    assert tuple(logits.shape) == (3, 2, 11)
    assert "Fashion-MNIST" in hub.help(ROOT, "small_cnn")


# ---- archives and trust -----------------------------------------------------------------------


def test_an_untrusted_archive_never_runs_then_trust_is_remembered(tmp_path, hub_dir):
    archive = _zip_repo(tmp_path / "repo-main.zip", "repo-main")
    with pytest.raises(RuntimeError, match="untrusted repository.*trust_repo=True"):
        hub.load(archive, "tiny")
    assert not hub_dir.exists() or not any(hub_dir.rglob("ran"))  # not even extracted
    layer = hub.load(archive, "tiny", trust_repo=True)
    assert layer.in_features == 2
    assert len(list(hub_dir.rglob("ran"))) == 1
    url = (hub_dir / "trusted_list").read_text().split()
    assert url == ["file://" + str(archive)]
    assert hub.list(str(archive)) == ["tiny"]  # remembered: no question asked now


def test_the_question_is_asked_on_a_terminal(tmp_path, monkeypatch):
    archive = _zip_repo(tmp_path / "repo.zip", "repo-main")
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(RuntimeError, match="untrusted repository"):
        hub.list(archive)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert hub.list(archive) == ["tiny"]
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked twice"))
    assert hub.list(archive) == ["tiny"]


def test_archives_are_cached_until_force_reload(tmp_path):
    archive = _zip_repo(tmp_path / "repo.zip", "repo-main", version=1)
    assert hub.load(archive, "tiny", trust_repo=True).weight[0, 0].item() == 1.0
    _zip_repo(archive, "repo-main", version=3)
    assert hub.load(archive, "tiny").weight[0, 0].item() == 1.0  # the cached copy
    assert hub.load(archive, "tiny", force_reload=True).weight[0, 0].item() == 3.0


def test_tar_gz_over_http_and_owner_name_ref(server, tmp_path, monkeypatch):
    root, base = server
    source = _write_repo(tmp_path / "src" / "proj-v1", version=2)
    with tarfile.open(root / "proj.tar.gz", "w:gz") as bundle:
        bundle.add(source, arcname="proj-v1")
    layer = hub.load(f"{base}/proj.tar.gz", "tiny", trust_repo=True)
    assert layer.weight[0, 0].item() == 2.0
    # "owner/name:ref" fetches GitHub's archive URL (here the local server standing in).
    (root / "owner" / "proj" / "archive").mkdir(parents=True)
    _zip_repo(root / "owner" / "proj" / "archive" / "v1.zip", "proj-v1", version=5)
    monkeypatch.setattr(repos, "GITHUB_ARCHIVE", base + "/{owner}/{name}/archive/{ref}.zip")
    assert hub.load("owner/proj:v1", "tiny", trust_repo=True).weight[0, 0].item() == 5.0
    assert "owner_proj" in Path(download.get_dir(), "trusted_list").read_text().split()
    assert Path(download.get_dir(), "owner_proj_v1", "proj-v1", "hubconf.py").is_file()


def _tar_with(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        bundle.addfile(member, io.BytesIO(data) if data else None)
    return path


def _member(name, kind=tarfile.REGTYPE, linkname="", size=0):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, size
    return info


@pytest.mark.parametrize("make", [
    lambda d: _zip_repo(d / "a.zip", "repo", extra=[("../escape.py", "x")]),
    lambda d: _zip_repo(d / "a.zip", "repo", extra=[("/tmp/abs_escape.py", "x")]),
    lambda d: _tar_with(d / "a.tar.gz", _member("repo/../../escape.py", size=1), b"x"),
    lambda d: _tar_with(d / "a.tar.gz", _member("repo/link", tarfile.SYMTYPE, "../../..")),
    lambda d: _tar_with(d / "a.tar.gz", _member("repo/link", tarfile.SYMTYPE, "/etc")),
    lambda d: _tar_with(d / "a.tar.gz", _member("repo/hard", tarfile.LNKTYPE, "../x")),
    lambda d: _tar_with(d / "a.tar.gz", _member("repo/fifo", tarfile.FIFOTYPE)),
], ids=["zip-dotdot", "zip-absolute", "tar-dotdot", "tar-symlink-up", "tar-symlink-absolute",
        "tar-hardlink-up", "tar-fifo"])
def test_unsafe_archives_are_refused_before_anything_is_written(tmp_path, hub_dir, make):
    archive = make(tmp_path)
    with pytest.raises(RuntimeError, match="refusing to extract"):
        hub.list(archive, trust_repo=True)
    assert not (tmp_path / "escape.py").exists()
    assert [p.name for p in hub_dir.iterdir()] == ["trusted_list"]  # no extraction left over


def test_links_inside_an_archive_are_kept(tmp_path):
    link = zipfile.ZipInfo("repo-main/alias.py")
    link.external_attr = (0o120777 << 16)
    archive = _zip_repo(tmp_path / "a.zip", "repo-main")
    with zipfile.ZipFile(archive, "a") as bundle:
        bundle.writestr(link, "helper.py")
    assert hub.list(archive, trust_repo=True) == ["tiny"]
    alias = next(Path(download.get_dir()).rglob("alias.py"))
    assert alias.is_symlink() and os.readlink(alias) == "helper.py"


# ---- downloads --------------------------------------------------------------------------------


def test_download_checks_the_hash_and_shows_progress(server, tmp_path, capsys):
    import hashlib

    root, base = server
    payload = os.urandom(200_000)
    (root / "blob.bin").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    target = tmp_path / "out" / "blob.bin"
    target.parent.mkdir()
    hub.download_url_to_file(f"{base}/blob.bin", target, hash_prefix=digest[:10])
    assert target.read_bytes() == payload
    assert "195k" in capsys.readouterr().err  # tqdm's bar, in KiB
    with pytest.raises(RuntimeError, match="invalid hash value"):
        hub.download_url_to_file(f"{base}/blob.bin", tmp_path / "out" / "bad", "00ff")
    assert sorted(p.name for p in target.parent.iterdir()) == ["blob.bin"]
    hub.download_url_to_file((root / "blob.bin").as_uri(), tmp_path / "copy", progress=False)
    assert (tmp_path / "copy").read_bytes() == payload
    with pytest.raises(ValueError, match="unsupported URL 'ftp://x/y'"):
        hub.download_url_to_file("ftp://x/y", tmp_path / "ftp")


def test_an_interrupted_download_leaves_nothing(server, tmp_path):
    _, base = server
    (tmp_path / "out").mkdir()
    with pytest.raises(RuntimeError, match="ended after 10 of 1000 bytes"):
        hub.download_url_to_file(f"{base}/truncated", tmp_path / "out" / "file", progress=False)
    assert list((tmp_path / "out").iterdir()) == []


def test_load_state_dict_from_url_checks_and_caches(server, tmp_path, hub_dir):
    import hashlib

    root, base = server
    state = {"weight": ember.randn(3, 2), "bias": ember.zeros(3)}
    ember.save(state, tmp_path / "plain.safetensors")
    data = (tmp_path / "plain.safetensors").read_bytes()
    name = f"tiny-{hashlib.sha256(data).hexdigest()[:8]}.safetensors"
    (root / name).write_bytes(data)
    loaded = hub.load_state_dict_from_url(f"{base}/{name}", check_hash=True, progress=False)
    np.testing.assert_array_equal(loaded["weight"].numpy(), state["weight"].numpy())
    (root / name).unlink()  # the cached copy serves now
    again = hub.load_state_dict_from_url(f"{base}/{name}", progress=False)
    np.testing.assert_array_equal(again["bias"].numpy(), np.zeros(3))
    assert (hub_dir / "checkpoints" / name).is_file()
    (root / "tiny-00000000.safetensors").write_bytes(data)
    with pytest.raises(RuntimeError, match="invalid hash value"):
        hub.load_state_dict_from_url(f"{base}/tiny-00000000.safetensors", check_hash=True,
                                     progress=False)
    assert not (hub_dir / "checkpoints" / "tiny-00000000.safetensors").exists()
    other = hub.load_state_dict_from_url((root / "tiny-00000000.safetensors").as_uri(),
                                         model_dir=tmp_path / "models", file_name="w.safetensors")
    assert sorted(other) == ["bias", "weight"] and (tmp_path / "models" / "w.safetensors").exists()


class _Trap:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling would create the marker file


def test_pickles_are_refused_never_opened(tmp_path):
    marker = tmp_path / "unpickled"
    (tmp_path / "model.pth").write_bytes(pickle.dumps(_Trap(str(marker))))
    with pytest.raises(RuntimeError, match="model.pth is a Python pickle.*never unpickles"):
        hub.load_state_dict_from_url((tmp_path / "model.pth").as_uri(), progress=False)
    assert not marker.exists()
    with zipfile.ZipFile(tmp_path / "zipped.pt", "w") as bundle:
        bundle.writestr("archive/data.pkl", pickle.dumps(1))
    with pytest.raises(RuntimeError, match="zip archive"):
        hub.load_state_dict_from_url((tmp_path / "zipped.pt").as_uri(), progress=False)
    with pytest.raises(ValueError, match="weights_only must be True"):
        hub.load_state_dict_from_url("file:///x.safetensors", weights_only=False)


def test_the_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(download, "_hub_dir", None)
    monkeypatch.setenv("EMBER_HOME", str(tmp_path / "home"))
    assert hub.get_dir() == str(tmp_path / "home" / "hub")
    monkeypatch.delenv("EMBER_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.get_dir() == str(tmp_path / "xdg" / "ember" / "hub")
    hub.set_dir(tmp_path / "mine")
    assert hub.get_dir() == str(tmp_path / "mine")


def test_hub_offers_tqdm_as_torch_hub_does():
    # Programs write `from torch.hub import tqdm` for their own progress bars.
    from ember.hub import tqdm

    assert list(tqdm(range(3), disable=True)) == [0, 1, 2]
