"""The backward engine: walks the graph from the outputs, newest node first, without recursion.

Nodes are popped from a heap ordered by generation (a node's generation is one more than its
newest input's), so every gradient flowing into a node is summed before the node runs, and a
chain of 100,000 ops needs no Python stack.
"""

from __future__ import annotations

import heapq

from ember.autograd import function as fn_state
from ember.backend import xp_of
from ember.autograd.function import AccumulateGrad, accumulator
from ember.tensor.registry import lookup
from ember.tensor.tensor import Tensor


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
            if out.data.size != 1:
                raise RuntimeError(
                    f"{op_name}: grad can be implicitly created only for scalar outputs (got an "
                    f"output of shape {tuple(out.data.shape)}); pass gradient= explicitly"
                )
            grad = Tensor(xp_of(out.data).ones_like(out.data))
        elif not isinstance(grad, Tensor):
            raise TypeError(f"{op_name}: gradient must be a Tensor, got {type(grad).__name__}")
        elif grad.data.shape != out.data.shape:
            raise RuntimeError(
                f"{op_name}: mismatch in shape: grad_output[{index}] has a shape of "
                f"{tuple(grad.data.shape)} and output[{index}] has a shape of "
                f"{tuple(out.data.shape)}"
            )
        grads.append(grad)
    return grads


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None,
                 op_name="backward"):
    """Backpropagates from ``outputs``; accumulates into leaves' ``.grad``, or, when ``inputs``
    is given (``autograd.grad``), returns the gradients of those inputs instead."""
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

    pending: dict = {}
    heap: list = []
    counter = 0
    for out, grad in zip(outputs, grads):
        node, nr = _root_node(out)
        slots = pending.get(node)
        if slots is None:
            slots = pending[node] = [None] * node._num_outputs
            heapq.heappush(heap, (-node.generation, counter, node))
            counter += 1
        slots[nr] = grad if slots[nr] is None else slots[nr] + grad

    previous_mode = fn_state._grad_enabled
    fn_state._grad_enabled = create_graph
    sum_to_size = lookup("sum_to_size")
    anomaly = fn_state._anomaly_enabled
    try:
        while heap:
            node = heapq.heappop(heap)[2]
            node_grads = pending.pop(node)
            hooks = node._pre_hooks
            if hooks is not None:
                _run_pre_hooks(hooks, node_grads)
            if captures is not None and node in captures:
                for nr, index in captures[node]:
                    captured[index] = node_grads[nr]
            if type(node) is AccumulateGrad:
                if captures is None:
                    _accumulate(node, node_grads[0], create_graph)
                continue
            if node._num_outputs > 1:
                node_grads = _fill_missing(node, node_grads)
            results = node.backward(node, *node_grads)
            if results.__class__ is not tuple:
                results = (results,)
            if not retain_graph:
                node._saved = None
            if anomaly:
                _check_nan(node, results)
            edges = node.next_functions
            if len(results) < len(edges):
                raise RuntimeError(
                    f"{node.name}: backward returned {len(results)} gradients, expected "
                    f"{len(edges)}"
                )
            shapes = node.shapes
            for index, edge in enumerate(edges):
                if edge is None:
                    continue
                grad = results[index]
                if grad is None:
                    continue
                if grad.data.shape != shapes[index]:
                    grad = sum_to_size(grad, shapes[index])
                target, nr = edge
                slots = pending.get(target)
                if slots is None:
                    slots = pending[target] = [None] * target._num_outputs
                    heapq.heappush(heap, (-target.generation, counter, target))
                    counter += 1
                    slots[nr] = grad
                elif slots[nr] is None:
                    slots[nr] = grad
                else:
                    slots[nr] = slots[nr] + grad
    finally:
        fn_state._grad_enabled = previous_mode
    return captured


def _run_pre_hooks(hooks, node_grads) -> None:
    for nr, hook_list in hooks.items():
        grad = node_grads[nr]
        if grad is None:
            continue
        for hook in list(hook_list.values()):
            replaced = hook(grad)
            if replaced is not None:
                grad = replaced
        node_grads[nr] = grad


def _fill_missing(node, node_grads):
    """Outputs that got no gradient count as zero (PyTorch's materialize_grads)."""
    if None not in node_grads:
        return node_grads
    xp = node.xp
    return [
        g if g is not None else Tensor(xp.zeros(shape, dtype=dtype))
        for g, (shape, dtype) in zip(node_grads, node._out_meta)
    ]


def _accumulate(node: AccumulateGrad, grad: Tensor, create_graph: bool) -> None:
    leaf = node.tensor_ref()
    if leaf is None:
        return
    if grad.data.dtype != leaf.data.dtype:
        grad = grad.to(leaf.dtype)
    if create_graph:
        leaf.grad = grad if leaf.grad is None else leaf.grad + grad
        return
    if leaf.grad is None:
        leaf.grad = Tensor(grad.data.copy())
    elif leaf.grad._rg:
        leaf.grad = Tensor(leaf.grad.data + grad.data)
    else:
        existing = leaf.grad.data
        existing += grad.data
        leaf.grad._bump_version()


def _check_nan(node, results) -> None:
    for index, grad in enumerate(results):
        if grad is not None and grad.data.dtype.kind == "f":
            xp = node.xp
            if bool(xp.isnan(grad.data).any()):
                trace = node._trace or "(the forward ran before anomaly detection was enabled)\n"
                raise RuntimeError(
                    f"Function '{node.name}' returned nan values in its {index}th output.\n"
                    f"Traceback of the forward call that caused the error:\n{trace}"
                )
