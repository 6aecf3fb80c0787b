"""The per-op test harness: forward against a numpy reference, gradcheck and gradgradcheck.

Each op gets an ``OpCase``; ``check_op`` runs it in float32 and float64 on a device, compares
with the reference, checks the gradients numerically in float64 (full Jacobian on small inputs,
random directions on large ones), and that ``ember.f(x)``, ``x.f()`` agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import ember
from ember.tensor.registry import OPS


@dataclass
class OpCase:
    name: str
    ref: Callable
    shapes: list = field(default_factory=lambda: [(3, 4)])
    """one entry per run: a shape for unary ops, a tuple of shapes when ``arity`` > 1"""
    arity: int = 1
    kwargs: dict = field(default_factory=dict)
    low: float = -2.0
    high: float = 2.0
    grad: bool = True
    gradgrad: bool = True
    fn: Callable | None = None
    """what to call with the input tensors (default: the registered op ``name``)"""
    method: bool = True
    """also check ``x.name(*rest)`` against ``ember.name(x, *rest)``"""
    dtypes: tuple = ("float32", "float64")
    inputs: Callable | None = None
    """``inputs(rng, shapes, dtype) -> list of numpy arrays`` for ops with special domains"""
    atol: float = 1e-5
    rtol: float = 1e-4
    id: str = ""

    def __str__(self):
        return self.id or self.name


def _shapes_of(case, entry):
    return [entry] if case.arity == 1 else list(entry)


def make_inputs(case: OpCase, entry, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = _shapes_of(case, entry)
    if case.inputs is not None:
        return [np.asarray(a) for a in case.inputs(rng, shapes, dtype)]
    return [rng.uniform(case.low, case.high, size=s).astype(dtype) for s in shapes]


def _call(case, tensors):
    fn = case.fn or OPS[case.name]
    return fn(*tensors, **case.kwargs)


def _host(t):
    return t.detach().cpu().numpy()


def _outputs(result):
    if isinstance(result, ember.Tensor):
        return [result]
    return [r for r in result if isinstance(r, ember.Tensor)]


def check_forward(case: OpCase, device, dtype: str):
    for entry in case.shapes:
        arrays = make_inputs(case, entry, dtype)
        tensors = [ember.tensor(a, device=device) for a in arrays]
        result = _call(case, tensors)
        expected = case.ref(*arrays, **case.kwargs)
        expected = [expected] if not isinstance(expected, (tuple, list)) else list(expected)
        got = _outputs(result)
        assert len(got) == len(expected), f"{case}: {len(got)} outputs, expected {len(expected)}"
        tol = (case.atol, case.rtol) if dtype == "float64" else (max(case.atol, 1e-5),
                                                                 max(case.rtol, 1e-4))
        for out, ref in zip(got, expected):
            ref = np.asarray(ref)
            assert out.device == device, f"{case}: output on {out.device}, expected {device}"
            assert tuple(out.shape) == ref.shape, f"{case}: shape {out.shape} vs {ref.shape}"
            if ref.dtype.kind == "f":
                assert out.dtype.name == dtype or out.dtype.name == ref.dtype.name, (
                    f"{case}: dtype {out.dtype} for {dtype} input"
                )
            np.testing.assert_allclose(_host(out), ref, atol=tol[0], rtol=tol[1],
                                       err_msg=f"{case} {entry} {dtype}")
        if case.method and hasattr(ember.Tensor, case.name) and case.fn is None:
            via_method = getattr(tensors[0], case.name)(*tensors[1:], **case.kwargs)
            for a, b in zip(_outputs(via_method), got):
                np.testing.assert_array_equal(_host(a), _host(b))


def check_gradients(case: OpCase, device):
    for entry in case.shapes:
        arrays = make_inputs(case, entry, "float64")
        tensors = [
            ember.tensor(a, device=device, requires_grad=a.dtype.kind == "f") for a in arrays
        ]
        if not any(t.requires_grad for t in tensors):
            continue

        def fn(*ts):
            return _call(case, ts)

        ember.autograd.gradcheck(fn, tensors, atol=1e-5, rtol=1e-3)
        if case.gradgrad:
            ember.autograd.gradgradcheck(fn, tensors, atol=1e-5, rtol=1e-3)


def check_op(case: OpCase, device):
    for dtype in case.dtypes:
        check_forward(case, device, dtype)
    if case.grad:
        check_gradients(case, device)
