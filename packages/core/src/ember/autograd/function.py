"""Function: an op's forward on raw arrays plus its backward on Tensors; also the graph node.

Calling ``Op.apply(*tensors, **attrs)`` runs ``forward(ctx, *arrays, **attrs)``. When grad mode is
on and an input requires grad, the Function instance itself becomes the graph node and the ctx
(one small object per op, nothing more). This is the hot path of every op: keep it lean.
"""

from __future__ import annotations

import contextvars
import threading
import traceback
import weakref

import numpy as np

from ember.backend import device_of, xp_of
from ember.tensor.tensor import Tensor

# Grad mode is per thread, as in PyTorch (a context variable: per asyncio task too), but the hot
# path reads one plain global first: ``_grad_enabled`` is True while no thread has grad mode
# off, and then every thread records; otherwise ``_grad_mode()`` is the calling thread's own.
# Read it as ``_grad_enabled or _grad_mode()`` (or grad_enabled()); set it with set_grad_mode().
_grad_enabled = True
_anomaly_enabled = False  # process-wide, switched by ember.autograd.anomaly

_mode_lock = threading.RLock()  # re-entrant: a _GradOff may be freed while the lock is held
_grad_off_count = 0


class _GradOff(int):
    """The mode value of a thread with grad off: falsy (it is 0) for the hot path, and counted
    in ``_grad_off_count`` while it lives. It dies when its thread turns grad back on, or when
    the thread ends with grad still off (its context is freed)."""

    def __new__(cls):
        global _grad_off_count, _grad_enabled
        self = super().__new__(cls, 0)
        with _mode_lock:
            _grad_off_count += 1
            _grad_enabled = False
        return self

    def __del__(self):
        global _grad_off_count, _grad_enabled
        with _mode_lock:
            _grad_off_count -= 1
            _grad_enabled = _grad_off_count == 0


_mode_var = contextvars.ContextVar("ember_grad_mode", default=True)
_grad_mode = _mode_var.get  # about 10 ns over a global read; a threading.local costs 55


def grad_enabled() -> bool:
    """The calling thread's grad mode."""
    return _grad_enabled or bool(_grad_mode())


def set_grad_mode(enabled: bool) -> bool:
    """Sets the calling thread's grad mode and returns its previous one."""
    previous = bool(_grad_mode())
    if enabled != previous:
        # The Token set() returns is dropped at once: it would keep the old _GradOff alive.
        _mode_var.set(True if enabled else _GradOff())
    return previous


# ember.autograd.observe's hook while a profiler or a tracer runs, else None: ``apply`` hands
# every op to it (one global read on the hot path when no one observes).
_observer = None

_ndarray = np.ndarray
_FREED = None  # node._saved after the graph was freed


def _saved_output(array, index: int, counter: list) -> list:
    """An output saved for backward, as ``[array, output index, the output's version counter,
    its version now]``: rebuilt as a Tensor on the node by ``_unpack``. A list rather than an
    object: 0.2 us less per op that saves its output (tanh, sigmoid, exp ...)."""
    return [array, index, counter, counter[0]]


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

    __slots__ = ("tensor_ref", "_pre_hooks", "_post_hooks", "__weakref__")
    generation = 0
    next_functions = ()
    _num_outputs = 1
    name = "accumulate_grad"

    def __init__(self, tensor: Tensor) -> None:
        self.tensor_ref = weakref.ref(tensor)
        self._pre_hooks = None
        self._post_hooks = None  # hook(leaf) after each accumulation into leaf.grad


def accumulator(tensor: Tensor) -> AccumulateGrad:
    acc = tensor._acc
    if acc is None:
        acc = tensor._acc = AccumulateGrad(tensor)
    return acc


def _device_error(cls, inputs):
    devices = ", ".join(str(device_of(t._array)) for t in inputs)
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
        """The saved values as Tensors (inputs as themselves, outputs on this node)."""
        return self._unpack(True)

    @property
    def saved_arrays(self) -> tuple:
        """The saved values as raw arrays, for ``backward_arrays`` fast paths."""
        saved = self._saved
        if saved is not _FREED:
            # _link's packings of one saved output and of one or two saved inputs, read without
            # _unpack's loop (0.19 -> 0.10 us; a mul, tanh or sigmoid node reads them once)
            if len(saved) == 1:
                item = saved[0]
                if item.__class__ is list:
                    if item[2][0] == item[3]:
                        return (item[0],)
                elif item.__class__ is tuple:
                    tensor = item[0]
                    if tensor._version is None or tensor._version[0] == item[1]:
                        return (tensor._array,)
            elif len(saved) == 2:
                a, b = saved
                if a.__class__ is tuple and b.__class__ is tuple:
                    tensor_a = a[0]
                    tensor_b = b[0]
                    if ((tensor_a._version is None or tensor_a._version[0] == a[1])
                            and (tensor_b._version is None or tensor_b._version[0] == b[1])):
                        return (tensor_a._array, tensor_b._array)
        return self._unpack(False)

    def _unpack(self, as_tensors: bool) -> tuple:
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
            kind = item.__class__
            if kind is tuple:  # (input tensor, its version when saved)
                tensor, version = item
                if tensor._version is not None and tensor._version[0] != version:
                    raise _modified_error(self, tensor._array, tensor._version[0], version)
                result.append(tensor if as_tensors else tensor._array)
            elif kind is list:  # an output (_saved_output)
                array, index, counter, version = item
                if counter[0] != version:
                    raise _modified_error(self, array, counter[0], version)
                result.append(Tensor(array, True, self, index) if as_tensors else array)
            elif item is None or kind is Tensor or not as_tensors:
                result.append(item)
            else:
                result.append(Tensor(item))
        return tuple(result)

    # ---- running ---------------------------------------------------------------------------

    #: optional ``backward_arrays(ctx, *grad_arrays) -> arrays``: the same math as ``backward``
    #: on raw arrays, used by the engine when no graph of the backward is wanted (the usual
    #: ``loss.backward()``); ``backward`` stays the differentiable reference.
    backward_arrays = None
    #: optional ``backward_arrays_in_place(ctx, grad_array)`` for a node of one output: the
    #: same as ``backward_arrays``, but free to overwrite ``grad_array``; the engine calls it
    #: instead when nothing else refers to that gradient's memory.
    backward_arrays_in_place = None

    @classmethod
    def apply(cls, *inputs, **attrs):
        if _observer is not None:
            observed = _observer(cls, inputs, attrs)
            if observed is not None:
                return observed
        a = inputs[0]
        first = a._array
        xp = np if first.__class__ is _ndarray else xp_of(first)
        count = len(inputs)
        needs = None  # which inputs require grad, when the op is recorded
        if count == 1:
            arrays = (first,)
            if a._rg and (_grad_enabled or _grad_mode()):
                needs = _ONE_TRUE
        elif count == 2:
            b = inputs[1]
            if b._array.__class__ is not first.__class__:
                raise _device_error(cls, inputs)
            arrays = (first, b._array)
            if (_grad_enabled or _grad_mode()) and (a._rg or b._rg):
                needs = (a._rg, b._rg)
        else:
            for t in inputs:
                if t._array.__class__ is not first.__class__:
                    raise _device_error(cls, inputs)
            arrays = tuple([t._array for t in inputs])
            if _grad_enabled or _grad_mode():
                needs = tuple([t._rg for t in inputs])
                if True not in needs:
                    needs = None
        if needs is None:
            ctx = _NO_GRAD_CTX
        else:  # the Function instance is the ctx, and becomes the graph node
            ctx = cls.__new__(cls)
            ctx.needs_input_grad = needs
            ctx.attrs = attrs
        ctx.xp = xp
        try:
            # One or two arrays without attributes are passed directly: unpacking a tuple into
            # a call costs 60 ns more (10% of recording a small op).
            if attrs:
                out = cls.forward(ctx, *arrays, **attrs)
            elif count == 2:
                out = cls.forward(ctx, first, arrays[1])
            elif count == 1:
                out = cls.forward(ctx, first)
            else:
                out = cls.forward(ctx, *arrays)
        except ValueError as error:
            raise _forward_error(cls, inputs, error) from None
        if needs is not None:
            return _link(ctx, inputs, arrays, out)
        if out.__class__ is _ndarray:
            result = Tensor(out)
        elif out.__class__ is tuple:
            result = _plain_outputs(out)
        else:
            result = Tensor(_as_array(out))
        return result


_ONE_TRUE = (True,)


def _as_array(out):
    """numpy hands back scalars for 0-d results: make them arrays (cupy results pass)."""
    return np.asarray(out) if isinstance(out, np.generic) else out


def _plain_outputs(out):
    return tuple([Tensor(_as_array(o)) for o in out])


def _edge(t):
    """The (node, output index) a gradient for input ``t`` flows into."""
    fn = t.grad_fn
    if fn is None:
        return (t._acc or accumulator(t), 0)
    return (fn, t._output_nr)


def _link(node, inputs, arrays, out):
    """Links the node of an op whose forward just ran into the graph and wraps its outputs (the
    grad-mode path of ``apply``)."""
    count = len(inputs)
    if count == 1:
        a = inputs[0]
        fn = a.grad_fn  # _edge(a), inlined in the two common cases (a call is 40 ns)
        edge = (a._acc or accumulator(a), 0) if fn is None else (fn, a._output_nr)
        node.next_functions = (edge,)
        node.generation = edge[0].generation + 1
        node.shapes = (arrays[0].shape,)
    elif count == 2:
        needs = node.needs_input_grad
        edge_a = edge_b = None
        if needs[0]:
            a = inputs[0]
            fn = a.grad_fn
            edge_a = (a._acc or accumulator(a), 0) if fn is None else (fn, a._output_nr)
        if needs[1]:
            b = inputs[1]
            fn = b.grad_fn
            edge_b = (b._acc or accumulator(b), 0) if fn is None else (fn, b._output_nr)
        node.next_functions = (edge_a, edge_b)
        if edge_b is None or (edge_a is not None and edge_a[0].generation > edge_b[0].generation):
            node.generation = edge_a[0].generation + 1
        else:
            node.generation = edge_b[0].generation + 1
        node.shapes = (arrays[0].shape, arrays[1].shape)
    else:
        edges = [_edge(t) if need else None for t, need in zip(inputs, node.needs_input_grad)]
        generation = 0
        for edge in edges:
            if edge is not None and edge[0].generation > generation:
                generation = edge[0].generation
        node.next_functions = tuple(edges)
        node.generation = generation + 1
        node.shapes = tuple([a.shape for a in arrays])
    if out.__class__ is tuple:
        result = _wrap_outputs(node, out)
        outputs = out
    else:
        raw = out
        if out.__class__ is not _ndarray:
            out = _as_array(out)
        result = Tensor(out, True, node, 0) if out.dtype.kind == "f" else Tensor(out)
        outputs = (raw,)
    saved = node._saved
    if saved:
        if saved[0] is outputs[0] and len(saved) == 1 and result.__class__ is Tensor:
            # its one output only (exp, tanh, sigmoid ...): _pack_saved's result, made directly
            # (result is new: its version counter starts here)
            counter = result._version = [0]
            node._saved = ([result._array, 0, counter, 0],)
        elif len(saved) == count and saved[0] is arrays[0]:
            # its inputs (log, sin, mul, div ...): _pack_saved's result, made directly for one
            # or two (0.1 and 0.3 us less)
            a = inputs[0]
            version = a._version
            if count == 1:
                node._saved = ((a, 0 if version is None else version[0]),)
            elif count == 2 and saved[1] is arrays[1]:
                b = inputs[1]
                version_b = b._version
                node._saved = ((a, 0 if version is None else version[0]),
                               (b, 0 if version_b is None else version_b[0]))
            else:
                node._saved = _pack_saved(node, saved, inputs, arrays, outputs, result)
        else:
            node._saved = _pack_saved(node, saved, inputs, arrays, outputs, result)
    if _anomaly_enabled:
        node._trace = "".join(traceback.format_stack()[:-2])
    return result


def _wrap_outputs(node, out):
    non_diff = node._non_differentiable or ()
    wrapped = []
    meta = []
    for index, array in enumerate(out):
        marked = any(array is n for n in non_diff)
        array = _as_array(array)
        differentiable = array.dtype.kind == "f" and not marked
        wrapped.append(Tensor(array, True, node, index) if differentiable else Tensor(array))
        # A primitive's backward ignores the gradients of its non-differentiable outputs (batch
        # norm's statistics, max pooling's taps): they stay None rather than zeros (an
        # allocation and a launch each on a GPU).
        meta.append((array.shape, array.dtype) if differentiable else None)
    node._num_outputs = len(out)
    node._out_meta = meta
    return tuple(wrapped)


def _pack_saved(node, saved, inputs, arrays, outputs, result):
    """What ``_unpack`` reads back: an input as (its tensor, its version now), an output as a
    _saved_output list sharing its tensor's version counter, anything else (an array) as
    itself. (Counted loops rather than enumerate: 30% less time for the usual one or two saved
    arrays.)"""
    packed = []
    for item in saved:
        index = 0
        for array in arrays:
            if item is array:
                tensor = inputs[index]
                version = tensor._version
                packed.append((tensor, 0 if version is None else version[0]))
                break
            index += 1
        else:
            index = 0
            for array in outputs:
                if item is array:
                    out_tensor = result[index] if result.__class__ is tuple else result
                    packed.append(
                        _saved_output(out_tensor._array, index, out_tensor._share_version())
                    )
                    break
                index += 1
            else:
                if item.__class__ is list or item.__class__ is tuple:  # _unpack's markers
                    raise TypeError(
                        f"{node.name}.save_for_backward: a forward can save arrays or None "
                        f"only, got a {type(item).__name__}"
                    )
                packed.append(np.asarray(item) if isinstance(item, np.generic) else item)
    return tuple(packed)


def _forward_error(cls, inputs, error):
    """A numpy/cupy ValueError (shapes that don't broadcast ...) restated with the op's name."""
    described = ", ".join(f"{tuple(t._array.shape)} {t._array.dtype}" for t in inputs)
    return RuntimeError(f"{cls.name}: {error} (inputs: {described})")


def _modified_error(node, array, current, version):
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: the {array.dtype} tensor of shape {tuple(array.shape)} saved by "
        f"{node.name} is at version {current}; expected version {version} instead. Hint: "
        "clone the tensor before "
        "modifying it in place, or modify it after backward."
    )
