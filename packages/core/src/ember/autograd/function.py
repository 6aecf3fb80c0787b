"""Function: an op's forward on raw arrays plus its backward on Tensors; also the graph node.

Calling ``Op.apply(*tensors, **attrs)`` runs ``forward(ctx, *arrays, **attrs)``. When grad mode is
on and an input requires grad, the Function instance itself becomes the graph node and the ctx
(one small object per op, nothing more). This is the hot path of every op: keep it lean.
"""

from __future__ import annotations

import traceback
import weakref

import numpy as np

from ember.backend import device_of, xp_of
from ember.tensor.tensor import Tensor

# Grad mode and anomaly mode live here, read as plain globals on the hot path.
# ember.autograd.grad_mode and ember.autograd.anomaly switch them.
_grad_enabled = True
_anomaly_enabled = False
_tracer = None  # set by ember.jit while tracing: called with (cls, inputs, attrs, outputs)

_ndarray = np.ndarray
_FREED = None  # node._saved after the graph was freed


class _SavedOutput:
    """An output saved for backward: kept as an array, rebuilt as a Tensor on this node."""

    __slots__ = ("array", "index", "version", "counter")

    def __init__(self, array, index, counter):
        self.array = array
        self.index = index
        self.counter = counter
        self.version = counter[0]


class _Context:
    """The ctx handed to forward when nothing is recorded: saving is a no-op."""

    needs_input_grad = ()

    def save_for_backward(self, *arrays) -> None:
        pass

    def mark_non_differentiable(self, *arrays) -> None:
        pass


_NO_GRAD_CTX = _Context()


class AccumulateGrad:
    """The node of a leaf that requires grad: adds incoming gradients into ``leaf.grad``."""

    __slots__ = ("tensor_ref", "_pre_hooks", "__weakref__")
    generation = 0
    next_functions = ()
    _num_outputs = 1
    name = "accumulate_grad"

    def __init__(self, tensor: Tensor) -> None:
        self.tensor_ref = weakref.ref(tensor)
        self._pre_hooks = None


def accumulator(tensor: Tensor) -> AccumulateGrad:
    acc = tensor._acc
    if acc is None:
        acc = tensor._acc = AccumulateGrad(tensor)
    return acc


def _device_error(cls, inputs):
    devices = ", ".join(str(device_of(t.data)) for t in inputs)
    return RuntimeError(
        f"{cls.name}: expected all tensors to be on the same device, but found tensors on "
        f"{devices}"
    )


class Function:
    """Base of every op. Subclasses define ``forward(ctx, *arrays, **attrs)`` and
    ``backward(ctx, *grad_outputs)``; the second uses Tensor ops, so it is differentiable."""

    name = "function"
    _saved = ()
    _pre_hooks = None
    _num_outputs = 1
    _out_meta = None
    _non_differentiable = None
    _trace = None

    # ---- what forward and backward call on ctx --------------------------------------------

    def save_for_backward(self, *arrays) -> None:
        self._saved = arrays

    def mark_non_differentiable(self, *arrays) -> None:
        self._non_differentiable = arrays

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(
                f"{self.name}: trying to backward through the graph a second time (or directly "
                "access saved tensors after they have already been freed). Saved intermediate "
                "values of the graph are freed when you call .backward() or autograd.grad(). "
                "Specify retain_graph=True if you need to backward through the graph a second "
                "time or if you need to access saved tensors after calling backward."
            )
        result = []
        for item in saved:
            kind = type(item)
            if kind is Tensor:
                result.append(item)
            elif kind is tuple:  # (input tensor, its version when saved)
                tensor, version = item
                current = tensor._version[0] if tensor._version is not None else 0
                if current != version:
                    raise _modified_error(self, tensor.data.shape, tensor.data.dtype, current,
                                          version)
                result.append(tensor)
            elif kind is _SavedOutput:
                if item.counter[0] != item.version:
                    raise _modified_error(self, item.array.shape, item.array.dtype,
                                          item.counter[0], item.version)
                result.append(Tensor(item.array, True, self, item.index))
            elif item is None:
                result.append(None)
            else:
                result.append(Tensor(item))
        return tuple(result)

    # ---- running ---------------------------------------------------------------------------

    @classmethod
    def apply(cls, *inputs, **attrs):
        first = inputs[0].data
        xp = np if first.__class__ is _ndarray else xp_of(first)
        if len(inputs) == 1:
            if _grad_enabled and inputs[0]._rg:
                return _record(cls, inputs, attrs, xp, (True,))
            arrays = (first,)
        else:
            for t in inputs:
                if t.data.__class__ is not first.__class__:
                    raise _device_error(cls, inputs)
            if _grad_enabled:
                needs = tuple([t._rg for t in inputs])
                if True in needs:
                    return _record(cls, inputs, attrs, xp, needs)
            arrays = [t.data for t in inputs]
        ctx = _NO_GRAD_CTX
        ctx.xp = xp
        out = cls.forward(ctx, *arrays, **attrs)
        if out.__class__ is tuple:
            result = tuple(
                [Tensor(o if o.__class__ is _ndarray or xp is not np else np.asarray(o))
                 for o in out]
            )
        elif out.__class__ is _ndarray or xp is not np:
            result = Tensor(out)
        else:
            result = Tensor(np.asarray(out))
        if _tracer is not None:
            _tracer(cls, inputs, attrs, result)
        return result


def _record(cls, inputs, attrs, xp, needs):
    """Runs forward and records the node (the grad-mode path of ``apply``)."""
    node = cls.__new__(cls)
    node.xp = xp
    node.needs_input_grad = needs
    node.attrs = attrs
    arrays = [t.data for t in inputs]
    out = cls.forward(node, *arrays, **attrs)
    edges = []
    generation = 0
    for t, need in zip(inputs, needs):
        if need:
            fn = t.grad_fn
            if fn is None:
                fn = t._acc or accumulator(t)
                edges.append((fn, 0))
            else:
                edges.append((fn, t._output_nr))
                if fn.generation > generation:
                    generation = fn.generation
        else:
            edges.append(None)
    node.next_functions = tuple(edges)
    node.generation = generation + 1
    node.shapes = tuple([a.shape for a in arrays])
    if out.__class__ is tuple:
        result = _wrap_outputs(node, out)
        outputs = out
    else:
        if out.__class__ is not _ndarray and xp is np:
            out = np.asarray(out)
        if out.dtype.kind == "f":
            result = Tensor(out, True, node, 0)
        else:
            result = Tensor(out)
        outputs = (out,)
    saved = node._saved
    if saved:
        node._saved = _pack_saved(saved, inputs, arrays, outputs, result)
    if _anomaly_enabled:
        node._trace = "".join(traceback.format_stack()[:-2])
    if _tracer is not None:
        _tracer(cls, inputs, attrs, result)
    return result


def _wrap_outputs(node, out):
    non_diff = node._non_differentiable or ()
    wrapped = []
    meta = []
    for index, array in enumerate(out):
        if array.__class__ is not _ndarray and node.xp is np:
            array = np.asarray(array)
        differentiable = array.dtype.kind == "f" and not any(array is n for n in non_diff)
        wrapped.append(Tensor(array, True, node, index) if differentiable else Tensor(array))
        meta.append((array.shape, array.dtype))
    node._num_outputs = len(out)
    node._out_meta = meta
    return tuple(wrapped)


def _pack_saved(saved, inputs, arrays, outputs, result):
    packed = []
    for item in saved:
        for index, array in enumerate(arrays):
            if item is array:
                tensor = inputs[index]
                packed.append((tensor, tensor._version[0] if tensor._version is not None else 0))
                break
        else:
            for index, array in enumerate(outputs):
                if item is array:
                    out_tensor = result[index] if type(result) is tuple else result
                    packed.append(_SavedOutput(array, index, out_tensor._share_version()))
                    break
            else:
                packed.append(item)
    return tuple(packed)


def _modified_error(node, shape, dtype, current, version):
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: the {dtype} tensor of shape {tuple(shape)} saved by {node.name} is at "
        f"version {current}; expected version {version} instead. Hint: clone the tensor before "
        "modifying it in place, or modify it after backward."
    )
