"""Writes cupy/api.json: the public names of CuPy (and of its linalg, random and fft modules, of
cupyx and of cupy.ndarray, MemoryPointer, Stream, Event and Device) with their signatures, read
from an installed CuPy wheel. Importing CuPy needs no GPU.

    python tests/emulated_gpu/dump_cupy_api.py   # with the CuPy to mirror installed
"""

import inspect
import json
import pathlib
import sys
import types

# This folder (sys.path[0] when run as a script) holds the emulation's own cupy: skip it.
HERE = pathlib.Path(__file__).resolve().parent
sys.path = [p for p in sys.path if pathlib.Path(p or ".").resolve() != HERE]

import cupy  # noqa: E402
import cupy.fft  # noqa: E402
import cupy.linalg  # noqa: E402
import cupy.random  # noqa: E402
import cupyx  # noqa: E402

OUT = HERE / "cupy" / "api.json"
# ndarray's special methods the emulation reads (the rest are numpy's own protocol)
SPECIAL = {"__getitem__", "__setitem__", "__array__", "__bool__", "__float__", "__int__",
           "__index__", "__len__", "__iter__", "__dlpack__", "__cuda_array_interface__"}


def signature(obj):
    """The signature as text: inspect's, or the first docstring line of a Cython method."""
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        pass
    lines = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    first = lines[0] if lines else ""
    head = first.split("(")[0]
    if "(" in first and head.replace(".", "").replace("_", "").isalnum():
        return "(" + first.split("(", 1)[1].split(" -> ")[0]
    return None


def describe(obj):
    kind = type(obj).__name__
    if isinstance(obj, types.ModuleType):
        return {"kind": "module"}
    if "ufunc" in kind.lower():
        methods = [m for m in ("at", "reduce", "accumulate", "outer", "reduceat")
                   if hasattr(obj, m)]
        return {"kind": kind, "ufunc": True, "methods": methods}
    if callable(obj):
        return {"kind": kind, "sig": signature(obj)}
    return {"kind": kind}


def public(owner, keep=lambda name: not name.startswith("_")):
    return {name: getattr(owner, name) for name in dir(owner)
            if keep(name) and hasattr(owner, name)}


def main():
    api = {module.__name__: {name: describe(obj) for name, obj in public(module).items()}
           for module in (cupy, cupyx, cupy.linalg, cupy.random, cupy.fft)}
    api["ndarray"] = {
        name: {"kind": type(obj).__name__, "sig": signature(obj) if callable(obj) else None}
        for name, obj in public(cupy.ndarray, lambda n: not n.startswith("__") or n in SPECIAL)
        .items()}
    api["MemoryPointer"] = {name: signature(obj)
                            for name, obj in public(cupy.cuda.MemoryPointer).items()}
    for cls in ("Stream", "Event", "Device"):
        members = public(getattr(cupy.cuda, cls),
                         lambda n: not n.startswith("_") or n in ("__init__", "__enter__"))
        api[cls] = {name: signature(obj) if callable(obj) else "attr"
                    for name, obj in members.items()}
    OUT.write_text(json.dumps(api, separators=(",", ":"), sort_keys=True))
    print(f"{OUT}: CuPy {cupy.__version__}, " + ", ".join(f"{k} {len(v)}"
                                                          for k, v in api.items()))


if __name__ == "__main__":
    main()
