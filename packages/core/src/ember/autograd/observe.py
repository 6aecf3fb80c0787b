"""Observers: what the profiler and the jit tracer use to see every op as it runs.

While at least one ``Observer`` is installed (``with observing(observer):``), every primitive op
that ``Function.apply`` runs, every node the backward engine runs, and every in-place write of
state outside any op that its code reports (``written``) is handed to the observers, innermost
last: each gets a ``run`` callable that performs the work (through the
observers inside it) and returns its result, so an observer can time it, record it or replace
it. With none installed the hot path pays one global read per op and per backward node.

Observers are process-wide (every thread's ops are seen); ops that an observer runs itself, and
the op its ``run`` performs, are not handed to the observers again.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from ember.autograd import function as fn_state


class Observer:
    """Base class: override ``op`` and/or ``backward``; both must call ``run()`` exactly once
    (or stand in for it) and return what it returns."""

    def op(self, cls, inputs: tuple, attrs: dict, run):
        """``cls`` (a Function subclass, named ``cls.name``) applied to ``inputs`` (Tensors)
        with static ``attrs``; ``run()`` computes and returns the op's output(s)."""
        return run()

    def backward(self, node, run):
        """The engine runs ``node`` (its op is ``node.name``); ``run()`` returns the gradients
        for its inputs."""
        return run()

    def write(self, target, value) -> None:
        """``target`` (a Tensor, e.g. a running-statistics buffer) was overwritten in place with
        ``value`` (a Tensor computed by observed ops) outside any op: see ``written``."""


_stack: list[Observer] = []
_lock = threading.Lock()


class _Bypass(threading.local):
    on = False


_bypass = _Bypass()


def _dispatch(cls, inputs, attrs):
    """``Function.apply``'s hook: None tells apply to compute the op itself (the observers'
    own call), anything else is the op's result. Ops that the observers run themselves are
    not observed."""
    if _bypass.on:
        return None
    observers = tuple(_stack)

    def run_from(index):
        if index == len(observers):
            return cls.apply(*inputs, **attrs)
        return observers[index].op(cls, inputs, attrs, lambda: run_from(index + 1))

    _bypass.on = True
    try:
        return run_from(0)
    finally:
        _bypass.on = False


def backward_node(node, run_node, grads, arrays):
    """The engine's hook for one node: ``run_node(node, grads, arrays)`` through every
    observer, outermost first."""
    observers = tuple(_stack)

    def run_from(index):
        if index == len(observers):
            return run_node(node, grads, arrays)
        return observers[index].backward(node, lambda: run_from(index + 1))

    return run_from(0)


def active() -> bool:
    """Whether any observer is installed (an op about to write state in place outside any op,
    like batch norm's running statistics, then computes the new value with observed ops and
    reports it through ``written``)."""
    return fn_state._observer is not None


def written(target, value) -> None:
    """Tells every observer that ``target`` now holds ``value``'s values."""
    for observer in tuple(_stack):
        observer.write(target, value)


def install(observer: Observer) -> None:
    """Adds ``observer`` innermost; prefer ``with observing(observer):``."""
    with _lock:
        _stack.append(observer)
        fn_state._observer = _dispatch


def uninstall(observer: Observer) -> None:
    """Removes ``observer``; the hook goes when the last one does."""
    with _lock:
        _stack.remove(observer)
        if not _stack:
            fn_state._observer = None


@contextmanager
def observing(observer: Observer):
    """Installs ``observer`` for the block."""
    install(observer)
    try:
        yield observer
    finally:
        uninstall(observer)
