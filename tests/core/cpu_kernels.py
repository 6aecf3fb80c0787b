"""Runs the bodies of raw-array cupy ElementwiseKernels on the CPU: each kernel is built by the C++
compiler into a loop over ``i`` (no fused multiply-adds, as the GPU builds) and called through
ctypes where cupy would launch it. Tests replace a backend module's launch function with
``CpuKernels.launch`` (see test_multi_tensor_kernels.py, test_conv_whole_batch.py) and skip
without g++."""

import ctypes
import subprocess

import numpy as np

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

    def __init__(self, folder, signatures: dict) -> None:
        self.folder, self.signatures, self.built, self.launches = folder, signatures, {}, []

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
            in_params, out_params, body = self.signatures[name]
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
