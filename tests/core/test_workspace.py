"""The per-thread scratch buffers that ops reuse between calls."""

import threading

import numpy as np

from ember.ops import _workspace
from ember.ops._workspace import workspace


def test_a_name_gives_the_same_memory_again_and_grows_when_asked_for_more():
    first = workspace(np, "test.a", 100, np.float32)
    again = workspace(np, "test.a", 50, np.float32)
    assert first.shape == (100,) and again.shape == (50,) and first.dtype == np.float32
    assert np.shares_memory(first, again)
    assert not np.shares_memory(first, workspace(np, "test.b", 100, np.float32))
    bigger = workspace(np, "test.a", 1000, np.float64)
    assert bigger.shape == (1000,) and bigger.dtype == np.float64
    assert np.shares_memory(bigger, workspace(np, "test.a", 10, np.int8))


def test_large_buffers_are_not_kept(monkeypatch):
    monkeypatch.setattr(_workspace, "_LIMIT_BYTES", 400)
    kept = workspace(np, "test.limit", 100, np.float32)
    assert np.shares_memory(kept, workspace(np, "test.limit", 100, np.float32))
    large = workspace(np, "test.limit", 101, np.float32)
    assert large.shape == (101,)
    assert not np.shares_memory(large, workspace(np, "test.limit", 101, np.float32))


def test_each_thread_has_its_own_buffers():
    mine = workspace(np, "test.thread", 10, np.float32)
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(
        workspace(np, "test.thread", 10, np.float32)))
    thread.start()
    thread.join()
    assert not np.shares_memory(mine, theirs[0])
