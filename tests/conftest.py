"""Shared fixtures: the ``device`` fixture runs a test on cpu, and on cuda where a GPU exists."""

import numpy as np
import pytest

import ember

DEVICES = ["cpu"] + (["cuda"] if ember.cuda.is_available() else [])


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (skipped where none exists)")
    config.addinivalue_line("markers", "slow: long-running (must-learn) tests")
    config.addinivalue_line(
        "markers", "four_ranks: distributed launches of 4 processes (deselected by default; "
        "pytest -m four_ranks runs them)"
    )


def pytest_collection_modifyitems(config, items):
    if ember.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=DEVICES)
def device(request):
    if request.param == "cuda":
        request.applymarker(pytest.mark.cuda)
    return ember.device(request.param)


@pytest.fixture(autouse=True)
def _late_gpu_errors():
    """What a GPU's value checks find after their op returned (an index out of range ...) fails
    the test that queued it, not a later one."""
    yield
    if DEVICES[-1] == "cuda":
        ember.cuda.synchronize()


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0) if hasattr(ember, "manual_seed") else None
    np.random.seed(0)
    yield


def to_numpy(tensor):
    """The values of a tensor as a host numpy array, wherever the tensor lives."""
    return tensor.detach().cpu().numpy()
