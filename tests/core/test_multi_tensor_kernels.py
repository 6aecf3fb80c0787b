"""The CUDA sources of ``ember.backend.multi_tensor``, run on the CPU: each kernel's body is built
by the C++ compiler into a loop over ``i`` (no fused multiply-adds, as the GPU build) and called
through ctypes where cupy would launch it. The foreach optimizer steps and the clipping that use
them must then give the per-parameter numpy path's values bit for bit: this checks the kernels'
arithmetic and bisection, and the scalars and flags each optimizer passes, without a GPU.
On a GPU the cuda tests of test_optim_foreach.py run the same kernels through cupy."""

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

import ember
from ember.backend import multi_tensor
from ember.nn.utils import clip_grad_norm_, clip_grad_value_
from test_clip_grad_foreach import params_with_grads
from test_optim_foreach import CASES, assert_same, case_id, trajectory

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs a C++ compiler")

_C_TYPES = {"uint64": "unsigned long long", "int64": "long long", "int32": "int", "T": "T"}
_VALUE_TYPES = {"float32": ("float", ctypes.c_float), "float64": ("double", ctypes.c_double)}


def _params(spec: str) -> list:
    """(raw, C type, name) of each parameter of an ElementwiseKernel signature."""
    params = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        words = part.split()
        params.append((words[0] == "raw", _C_TYPES[words[-2]], words[-1]))
    return params


class CpuKernels:
    """Builds each (kernel, dtype) once as a shared library and launches it like cupy would."""

    def __init__(self, folder) -> None:
        self.folder, self.built, self.launches = folder, {}, []

    def launch(self, name: str, dtype, args: list, size: int) -> None:
        library, params, value_type = self._build(name, np.dtype(dtype).name)
        converted = []
        for (raw, c_type, _), arg in zip(params, args, strict=True):
            if raw:
                converted.append(ctypes.c_void_p(arg.ctypes.data))
            else:
                converted.append(ctypes.c_int(arg) if c_type == "int" else value_type(arg))
        library.run(*converted, ctypes.c_longlong(size))
        self.launches.append(name)

    def _build(self, name: str, type_name: str):
        key = (name, type_name)
        if key not in self.built:
            in_params, out_params, body = multi_tensor.SIGNATURES[name]
            params = _params(in_params) + _params(out_params)
            signature = ", ".join(f"{c}* {n}" if raw else f"{c} {n}" for raw, c, n in params)
            c_name, value_type = _VALUE_TYPES[type_name]
            source = self.folder / f"{name}_{type_name}.cpp"
            source.write_text(
                f"#include <cmath>\nusing std::sqrt;\ntypedef {c_name} T;\n"
                f'extern "C" void run({signature}, long long size) {{\n'
                f"  for (long long i = 0; i < size; ++i) {{\n{body}\n  }}\n}}\n")
            library = source.with_suffix(".so")
            subprocess.run(["g++", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o",
                            str(library), str(source)], check=True)
            self.built[key] = (ctypes.CDLL(str(library)), params, value_type)
        return self.built[key]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return CpuKernels(tmp_path_factory.mktemp("kernels"))


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
