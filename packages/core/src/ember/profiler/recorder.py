"""The recording side of the profiler: an autograd observer that times every op and backward
node, and ``record_function`` ranges.

Backward nodes are named as PyTorch names them: the op's name in CamelCase followed by
``Backward0`` (``mul`` -> ``MulBackward0``, ``log_softmax`` -> ``LogSoftmaxBackward0``). Ops that a
differentiable backward runs (Tensor ops) appear inside their node, so the node's self time is
the engine's own work plus array work done outside ops.
"""

from __future__ import annotations

import threading
from contextlib import ContextDecorator
from time import perf_counter_ns

from ember.autograd.observe import Observer, install, uninstall
from ember.profiler.events import EventList, FunctionEvent

#: the recorder of the running profiler (only one profiles at a time), None when none does
_current: Recorder | None = None


def backward_name(op_name: str) -> str:
    """PyTorch's name for the backward node of ``op_name``: ``"mul"`` -> ``"MulBackward0"``."""
    camel = "".join(part[:1].upper() + part[1:] for part in op_name.split("_"))
    return f"{camel}Backward0"


class Recorder(Observer):
    """Times ops and backward nodes (installed as an observer) and named ranges.

    Args:
        record_shapes: keep each op's input shapes.
        synchronize: called after each op and backward node (``ember.cuda.synchronize`` to
            count a GPU op's queued kernels in its time), or None.
    """

    def __init__(self, record_shapes: bool, synchronize=None) -> None:
        self.record_shapes = record_shapes
        self.synchronize = synchronize
        self.events = EventList()
        self._stacks = threading.local()

    # ---- starting and stopping ------------------------------------------------------------------

    def start(self) -> None:
        global _current
        if _current is not None:
            raise RuntimeError("ember.profiler: a profiler is already running; stop it before "
                               "starting another (profilers do not nest)")
        if self.synchronize is not None:
            self.synchronize()  # queued work from before must not count in the first op
        _current = self
        install(self)

    def stop(self) -> None:
        global _current
        uninstall(self)
        _current = None

    # ---- intervals ------------------------------------------------------------------------------

    def _stack(self) -> list:
        stack = getattr(self._stacks, "stack", None)
        if stack is None:
            stack = self._stacks.stack = []
        return stack

    def open(self, name: str, kind: str, input_shapes: list) -> FunctionEvent:
        stack = self._stack()
        event = FunctionEvent(name, kind, threading.get_ident(), input_shapes,
                              stack[-1] if stack else None)
        stack.append(event)
        event.start_ns = perf_counter_ns()
        return event

    def close(self, event: FunctionEvent) -> None:
        event.end_ns = perf_counter_ns()
        stack = self._stack()
        if stack and stack[-1] is event:
            stack.pop()
        elif event in stack:  # a range closed out of order: the ranges opened inside it end too
            del stack[stack.index(event):]
        if event.cpu_parent is not None:
            event.cpu_parent.cpu_children.append(event)
        self.events.append(event)

    def _timed(self, name: str, kind: str, input_shapes: list, run):
        event = self.open(name, kind, input_shapes)
        try:
            result = run()
            if self.synchronize is not None:
                self.synchronize()
        finally:
            self.close(event)
        return result

    # ---- the observer ---------------------------------------------------------------------------

    def op(self, cls, inputs, attrs, run):
        shapes = [list(getattr(x, "shape", ())) for x in inputs] if self.record_shapes else []
        return self._timed(cls.name, "op", shapes, run)

    def backward(self, node, run):
        return self._timed(backward_name(node.name), "backward", [], run)


class record_function(ContextDecorator):  # noqa: N801  (PyTorch's name)
    """A named range in the running profiler's results, as ``torch.profiler.record_function``.

    A context manager or a decorator; does nothing when no profiler is running. Ranges nest:
    a range's self time excludes the ops and ranges inside it.

    Example:
        >>> with ember.profiler.profile() as prof:
        ...     with ember.profiler.record_function("forward"):
        ...         y = ember.ones(3).exp()
        >>> [avg.key for avg in prof.key_averages()]
        ['forward', 'exp']
    """

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name = name
        self.args = args
        self._open: list = []

    def _recreate_cm(self) -> record_function:
        return record_function(self.name, self.args)  # each decorated call gets its own range

    def __enter__(self) -> record_function:
        recorder = _current
        self._open.append(None if recorder is None else
                          (recorder, recorder.open(self.name, "user", [])))
        return self

    def __exit__(self, *exc) -> None:
        opened = self._open.pop()
        if opened is not None:
            recorder, event = opened
            recorder.close(event)
