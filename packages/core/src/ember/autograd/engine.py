"""The backward engine: walks the graph from the outputs, newest node first, without recursion.

Nodes are popped from a heap ordered by generation (a node's generation is one more than its
newest input's), so every gradient flowing into a node is summed before the node runs, and a
chain of 100,000 ops needs no Python stack.

Callbacks queued during a backward (``queue_callback``) run once the whole graph has been walked,
and a leaf's post-accumulate-grad hooks right after each accumulation into its ``.grad``.

Without ``create_graph`` gradients travel as raw arrays, and nodes that define
``backward_arrays`` skip Tensor wrapping altogether; with ``create_graph`` every node runs its
differentiable ``backward`` on Tensors, recording the graph of the gradient.
"""

from __future__ import annotations

import heapq
import sys

import numpy as np

from ember.autograd import function as fn_state
from ember.autograd import observe
from ember.autograd.function import AccumulateGrad, accumulator
from ember.backend import ensure_float_warnings_hidden, is_cupy_array, xp_of
from ember.tensor.registry import lookup
from ember.tensor.tensor import Tensor

# The final callbacks of the backward now running (None outside a backward).
_callbacks: list | None = None


def queue_callback(callback) -> None:
    """Runs ``callback()`` when the backward now running has walked its whole graph (PyTorch's
    ``Variable._execution_engine.queue_callback``); callbacks run in the order queued."""
    if _callbacks is None:
        raise RuntimeError(
            "queue_callback: final callbacks can only be queued during a backward pass"
        )
    _callbacks.append(callback)


def _root_node(tensor: Tensor):
    if tensor.grad_fn is not None:
        return tensor.grad_fn, tensor._output_nr
    if tensor._rg:
        return accumulator(tensor), 0
    return None, 0


def _initial_grads(outputs, grad_outputs, op_name):
    grads = []
    for index, (out, grad) in enumerate(zip(outputs, grad_outputs)):
        if not out._rg:
            raise RuntimeError(
                f"{op_name}: element {index} of tensors does not require grad and does not have "
                "a grad_fn"
            )
        if grad is None:
            if out._array.size != 1:
                raise RuntimeError(
                    f"{op_name}: grad can be implicitly created only for scalar outputs (got an "
                    f"output of shape {tuple(out._array.shape)}); pass gradient= explicitly"
                )
            grad = Tensor(xp_of(out._array).ones_like(out._array))
        elif not isinstance(grad, Tensor):
            raise TypeError(f"{op_name}: gradient must be a Tensor, got {type(grad).__name__}")
        elif grad._array.shape != out._array.shape:
            raise RuntimeError(
                f"{op_name}: mismatch in shape: grad_output[{index}] has a shape of "
                f"{tuple(grad._array.shape)} and output[{index}] has a shape of "
                f"{tuple(out._array.shape)}"
            )
        grads.append(grad)
    return grads


def sum_to_shape(array, shape):
    """Sums the broadcast dimensions of a raw gradient array away so it has ``shape``."""
    lead = array.ndim - len(shape)
    inner = tuple(lead + i for i, n in enumerate(shape) if n == 1 and array.shape[lead + i] != 1)
    if (inner and array.size >= 4096 and array.dtype.char in "fd"
            and array.__class__ is np.ndarray and array.ndim <= len(_SUBSCRIPTS)):
        # A bias-style reduction ((N, C, H, W) to (C, 1, 1)): einsum's is 2.7x (LeNet-5's first
        # conv, 88 -> 32 us) to 1.3x (ResNet sizes) faster than sum's; its partial sums are
        # not numpy's pairwise ones but stay near float rounding (relative error 4.5e-7 against
        # 3e-8 over 1M positive values a channel). sum stays faster below 4096 elements.
        letters = _SUBSCRIPTS[:array.ndim]
        kept = "".join([letters[i] for i in range(lead, array.ndim) if i not in inner])
        return np.einsum(f"{letters}->{kept}", array).reshape(shape)
    if lead and not inner and shape:
        return array.sum(axis=tuple(range(lead)))  # an array of its own: a leaf can keep it
    axes = tuple(range(lead)) + inner
    if axes:
        array = array.sum(axis=axes, keepdims=True)
    return array.reshape(shape) if array.shape != shape else array


_SUBSCRIPTS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _run_node(node, node_grads, arrays):
    """One node's backward: on raw arrays (its ``backward_arrays`` where it has one) or, with
    ``create_graph``, on Tensors."""
    if not arrays:
        return node.backward(node, *node_grads)
    fast = node.backward_arrays
    if fast is not None:
        return fast(node, *node_grads)
    return _unwrap(node.backward(node, *[_wrap(g) for g in node_grads]))


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None,
                 op_name="backward"):
    """Backpropagates from ``outputs``; accumulates into leaves' ``.grad``, or, when ``inputs``
    is given (``autograd.grad``), returns the gradients of those inputs instead."""
    global _callbacks
    outer_callbacks, _callbacks = _callbacks, []
    try:
        captured = _walk(outputs, grad_outputs, retain_graph, create_graph, inputs, op_name)
        callbacks = _callbacks
        while callbacks:  # a callback may queue more
            callbacks.pop(0)()
    finally:
        _callbacks = outer_callbacks
    return captured


def _walk(outputs, grad_outputs, retain_graph, create_graph, inputs, op_name):
    ensure_float_warnings_hidden()  # a backward's 1/0 and 0*inf are silent, as PyTorch's
    grads = _initial_grads(outputs, grad_outputs, op_name)
    captures = None
    captured = None
    if inputs is not None:
        captures = {}
        for index, tensor in enumerate(inputs):
            node, nr = _root_node(tensor)
            if node is None:
                raise RuntimeError(
                    f"{op_name}: one of the differentiated Tensors (input {index}) does not "
                    "require grad"
                )
            captures.setdefault(node, []).append((nr, index))
        captured = [None] * len(inputs)

    arrays = not create_graph  # gradients travel as raw arrays
    pending: dict = {}
    heap: list = []
    counter = 0
    for out, grad in zip(outputs, grads):
        node, nr = _root_node(out)
        grad = grad._array if arrays else grad
        slots = pending.get(node)
        if slots is None:
            slots = pending[node] = [None] * node._num_outputs
            heapq.heappush(heap, (-node.generation, counter, node))
            counter += 1
        slots[nr] = grad if slots[nr] is None else slots[nr] + grad

    # The slots whose gradient is a sum the engine made itself, by node: later gradients for
    # them are added in place instead of allocating again. (A node that ran never gets a
    # gradient again, generations only fall along edges: its entry can stay.)
    summed: dict = {}
    previous_mode = fn_state.set_grad_mode(create_graph)
    reduce_to = sum_to_shape if arrays else lookup("sum_to_size")
    anomaly = fn_state._anomaly_enabled
    heappop = heapq.heappop
    heappush = heapq.heappush
    # A node that became pending with a generation above every node in the heap runs next
    # without going through the heap (what the heap would pop anyway): in a chain, most do.
    # That saves a push and a pop, 0.15 us per node.
    next_node = None
    try:
        while True:
            if next_node is not None:
                node = next_node
                next_node = None
            elif heap:
                node = heappop(heap)[2]
            else:
                break
            node_grads = pending.pop(node)
            if node._pre_hooks is not None:
                _run_pre_hooks(node._pre_hooks, node_grads, arrays)
            if captures is not None and node in captures:
                for nr, index in captures[node]:
                    grad = node_grads[nr]
                    captured[index] = _wrap(grad) if arrays and grad is not None else grad
            if node.__class__ is AccumulateGrad:
                if captures is None:
                    # this frame lets go of the gradient, which the leaf may then take as is
                    results = grad = None
                    _accumulate(node, node_grads, arrays)
                    if node._post_hooks is not None:
                        run_post_accumulate_hooks(node)
                continue
            several = node._num_outputs > 1
            if several:
                node_grads = _fill_missing(node, node_grads, arrays)
            fast = node.backward_arrays if arrays else None
            if fn_state._observer is not None:
                results = observe.backward_node(node, _run_node, node_grads, arrays)
            elif fast is None:
                results = _run_node(node, node_grads, arrays)
            elif several:
                results = fast(node, *node_grads)
            else:
                # _run_node's common case, inlined; the one gradient is passed directly, as
                # unpacking a list into a call costs 60 ns more
                results = grad = None  # this frame's last references to earlier gradients
                in_place = node.backward_arrays_in_place
                if in_place is not None and _take_as_is(node_grads):
                    results = in_place(node, node_grads[0])
                else:
                    results = fast(node, node_grads[0])
            if results.__class__ is not tuple:
                results = (results,)
            if not retain_graph:
                node._saved = None
            if anomaly:
                _check_nan(node, results, arrays)
            edges = node.next_functions
            count = len(edges)
            if len(results) < count:
                raise RuntimeError(
                    f"{node.name}: backward returned {len(results)} gradients, expected {count}"
                )
            shapes = node.shapes
            for index in range(count):  # indexing: 70 ns a node less than zipping three tuples
                edge = edges[index]
                grad = results[index]
                if edge is None or grad is None:
                    continue
                if grad.shape != shapes[index]:
                    grad = reduce_to(grad, shapes[index])
                target, nr = edge
                slots = pending.get(target)
                if slots is None:
                    if target._num_outputs == 1:  # 40 ns less than filling a list of None
                        pending[target] = [grad]
                    else:
                        slots = pending[target] = [None] * target._num_outputs
                        slots[nr] = grad
                    if next_node is None and (not heap or target.generation > -heap[0][0]):
                        next_node = target
                        continue
                    if next_node is not None:  # two new nodes: both go to the heap, in order
                        heappush(heap, (-next_node.generation, counter, next_node))
                        counter += 1
                        next_node = None
                    heappush(heap, (-target.generation, counter, target))
                    counter += 1
                elif slots[nr] is None:
                    slots[nr] = grad
                elif arrays:
                    # a sum the engine made itself takes the gradient in place (inlined: 28
                    # calls a 50-op chain)
                    owned = summed.get(target)
                    if (owned is not None and nr in owned and slots[nr].shape == grad.shape
                            and slots[nr].dtype == grad.dtype):
                        slots[nr] += grad
                    else:
                        slots[nr] = _new_sum(summed, target, nr, slots[nr], grad)
                else:
                    slots[nr] = slots[nr] + grad
    finally:
        fn_state.set_grad_mode(previous_mode)
    return captured


def _wrap(array) -> Tensor:
    """A raw gradient as a Tensor (numpy hands back scalars for 0-d results: make them arrays)."""
    if array is None:
        return None
    return Tensor(np.asarray(array) if isinstance(array, np.generic) else array)


def _new_sum(summed: dict, target, nr: int, current, grad):
    """``current + grad`` for slot ``nr`` of ``target``, in a new array that ``summed[target]``
    then marks as the engine's own (later gradients for the slot are added into it)."""
    total = current + grad
    if isinstance(total, np.generic):
        total = np.asarray(total)
    owned = summed.get(target)
    if owned is None:
        summed[target] = {nr}
    else:
        owned.add(nr)
    return total


def _unwrap(results):
    if results.__class__ is tuple:
        return tuple([None if g is None else g._array for g in results])
    return None if results is None else results._array


def _run_pre_hooks(hooks, node_grads, arrays) -> None:
    for nr, hook_list in hooks.items():
        grad = node_grads[nr]
        if grad is None:
            continue
        grad = _wrap(grad) if arrays else grad
        for hook in list(hook_list.values()):
            replaced = hook(grad)
            if replaced is not None:
                grad = replaced
        node_grads[nr] = grad._array if arrays else grad


def _fill_missing(node, node_grads, arrays):
    """Outputs that got no gradient count as zero (PyTorch's materialize_grads)."""
    if all(g is not None for g in node_grads):
        return node_grads
    xp = node.xp
    filled = []
    for grad, meta in zip(node_grads, node._out_meta):
        if grad is None and meta is not None:
            zeros = xp.zeros(meta[0], dtype=meta[1])
            grad = zeros if arrays else Tensor(zeros)
        filled.append(grad)
    return filled


def _refs_of_first(holder: list) -> int:
    return sys.getrefcount(holder[0])


def _refs_of_base(holder: list) -> int:
    return sys.getrefcount(holder[0].base)


# What the reference count of an array held by nothing but one list reads, measured the way
# _take_as_is reads it (2 on CPython 3.11: the list and the call's argument), and the count of
# an array held by nothing but one view of it.
_ALONE = _refs_of_first([np.empty(0)])
_BASE_ALONE = _refs_of_base([np.empty(0).reshape(1, 0)])


def _take_as_is(node_grads: list) -> bool:
    """Whether a leaf may keep ``node_grads[0]`` as its ``.grad`` without a copy, as PyTorch
    steals an unshared gradient buffer, and a node may overwrite it
    (``backward_arrays_in_place``): a writeable numpy array, or a cupy array, that nothing but
    ``node_grads`` refers to, owning its memory or reshaping the whole of an array that nothing
    else refers to (a bias gradient summed to (C, 1, 1)). A view, a tensor, a saved value, a hook
    that kept it or another gradient slot would each hold a reference to the array or its
    base."""
    grad = node_grads[0]
    array_type = grad.__class__
    if array_type is np.ndarray:
        if not grad.flags.writeable:
            return False
    elif not is_cupy_array(grad):  # cupy arrays are always writeable
        return False
    base = grad.base
    if base is None:
        if not grad.flags.owndata:
            return False
    elif (base.__class__ is not array_type or not base.flags.owndata
          or base.nbytes != grad.nbytes or not grad.flags.c_contiguous):
        return False
    del grad, base
    return _refs_of_first(node_grads) <= _ALONE and (
        node_grads[0].base is None or _refs_of_base(node_grads) <= _BASE_ALONE)


def _accumulate(node: AccumulateGrad, node_grads: list, arrays: bool) -> None:
    leaf = node.tensor_ref()
    if leaf is None:
        return
    grad = node_grads[0]
    if not arrays:  # create_graph: the gradient keeps its own graph
        if grad._array.dtype != leaf._array.dtype:
            grad = grad.to(leaf.dtype)
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad
        return
    existing = leaf.grad
    if existing is None:
        if grad.dtype != leaf._array.dtype:
            leaf.grad = _wrap(grad.astype(leaf._array.dtype))
            return
        del grad  # counted by _take_as_is otherwise
        # The first gradient is stored without a copy when nothing else can see its memory:
        # 9 copies (15 MB) less per LSTM LM step. Otherwise a copy: the array may be another
        # gradient's too, a saved value or a read-only broadcast view.
        if _take_as_is(node_grads):
            leaf.grad = Tensor(node_grads[0])
        else:
            leaf.grad = _wrap(node_grads[0].copy())
        return
    if grad.dtype != leaf._array.dtype:
        grad = grad.astype(leaf._array.dtype)
    if existing._rg:
        leaf.grad = _wrap(existing._array + grad)
    else:
        existing._array += grad
        existing._bump_version()


def run_post_accumulate_hooks(node: AccumulateGrad) -> None:
    """Calls the leaf's post-accumulate-grad hooks with the leaf (its ``.grad`` now complete for
    this backward)."""
    leaf = node.tensor_ref()
    if leaf is not None:
        for hook in list(node._post_hooks.values()):
            hook(leaf)


def _check_nan(node, results, arrays) -> None:
    for index, grad in enumerate(results):
        if grad is None:
            continue
        array = grad if arrays else grad._array
        if array.dtype.kind == "f" and bool(node.xp.isnan(array).any()):
            trace = node._trace or "(the forward ran before anomaly detection was enabled)\n"
            raise RuntimeError(
                f"Function '{node.name}' returned nan values in its {index}th output.\n"
                f"Traceback of the forward call that caused the error:\n{trace}"
            )
