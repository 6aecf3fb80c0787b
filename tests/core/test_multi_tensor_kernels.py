"""The CUDA sources of ``ember.backend.multi_tensor``, run on the CPU: each kernel's body is built
by the C++ compiler into a loop over ``i`` (no fused multiply-adds, as the GPU build) and called
through ctypes where cupy would launch it. The foreach optimizer steps and the clipping that use
them must then give the per-parameter numpy path's values bit for bit: this checks the kernels'
arithmetic and bisection, and the scalars and flags each optimizer passes, without a GPU.
On a GPU the cuda tests of test_optim_foreach.py run the same kernels through cupy."""

import shutil

import numpy as np
import pytest

import ember
from cpu_kernels import CpuKernels
from ember.backend import multi_tensor
from ember.nn.utils import clip_grad_norm_, clip_grad_value_
from test_clip_grad_foreach import params_with_grads
from test_optim_foreach import CASES, assert_same, case_id, trajectory

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")

@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return CpuKernels(tmp_path_factory.mktemp("kernels"), multi_tensor.SIGNATURES)


@pytest.fixture
def kernels(compiled, monkeypatch):
    """numpy arrays stand for cupy ones: the tables stay host arrays, addresses are numpy's."""
    monkeypatch.setattr(multi_tensor, "_on_gpu", lambda array: True)
    monkeypatch.setattr(multi_tensor, "_upload", lambda host: host)
    monkeypatch.setattr(multi_tensor, "_address", lambda array: array.ctypes.data)
    monkeypatch.setattr(multi_tensor, "_launch", compiled.launch)
    compiled.launches.clear()
    return compiled


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=str)
def test_foreach_with_kernels_equals_the_per_parameter_path(case, dtype, kernels):
    cls, kwargs = case
    skips = {2: (1,)}  # a parameter without gradient: its step counter falls behind
    got = trajectory(cls, kwargs, True, dtype=dtype, skips=skips)
    launches = list(kernels.launches)
    assert_same(got, trajectory(cls, kwargs, False, dtype=dtype, skips=skips))
    # One bucket a step, two from step 3 on where a step counter splits them. Each bucket update
    # is the optimizer's kernel, or, on step 0 where the state is created (all but SGD's and
    # Adagrad's), gather (params, grads) + the update's ufuncs + scatter.
    updates = 7 if cls is ember.optim.SGD else 3 + 2 * 4
    flat = 0 if cls in (ember.optim.SGD, ember.optim.Adagrad) else 1
    assert launches.count("scatter") == flat and launches.count("gather") == 2 * flat
    kernel = {"adamw": "adam"}.get(cls.__name__.lower(), cls.__name__.lower())
    assert launches.count(kernel) == updates - flat


@pytest.mark.parametrize("clip, kwargs", [(clip_grad_norm_, {"max_norm": 0.5}),
                                          (clip_grad_value_, {"clip_value": 0.3})])
def test_clipping_kernels_equal_the_loop(clip, kwargs, kernels):
    with_kernels, _ = params_with_grads("cpu", scale=3.0)
    looped, _ = params_with_grads("cpu", scale=3.0)
    clip(with_kernels, **kwargs)
    assert kernels.launches == ["scale" if clip is clip_grad_norm_ else "clamp"] * 2  # 2 dtypes
    clip(looped, foreach=False, **kwargs)
    for a, b in zip(with_kernels, looped):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
