"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each works as a context manager and as a decorator (``@no_grad()`` or bare ``@no_grad``, as in
PyTorch 2); a decorated generator has the mode set while it runs, not while its caller does.
The mode is per thread, as in PyTorch: a new thread starts with grad mode on. It is held in a
context variable, so an asyncio task that changes it does not change it for the other tasks.
"""

from __future__ import annotations

import functools
import inspect

from ember.autograd import function as _state


def is_grad_enabled() -> bool:
    """Whether ops record a graph in the calling thread."""
    return _state.grad_enabled()


def _set(enabled: bool | None) -> bool:
    """Sets the mode (None keeps it) and returns the previous one."""
    if enabled is None:
        return is_grad_enabled()
    return _state.set_grad_mode(enabled)


def _decorate(fn, enabled: bool | None):
    """``fn`` running with grad mode ``enabled``, restored afterwards (also on exceptions)."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            generator = fn(*args, **kwargs)
            to_send = None
            while True:
                previous = _set(enabled)
                try:
                    value = generator.send(to_send)
                except StopIteration as stop:
                    return stop.value
                finally:
                    _state.set_grad_mode(previous)
                to_send = yield value

        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        previous = _set(enabled)
        try:
            return fn(*args, **kwargs)
        finally:
            _state.set_grad_mode(previous)

    return wrapper


class _GradMode:
    """Sets grad mode to ``enabled`` (None keeps it) inside a ``with`` block or a function."""

    enabled: bool | None = None

    def __new__(cls, *args, **kwargs):
        # Bare decorator use (``@no_grad``): the class is called with the function itself.
        if cls._takes_bare_function and len(args) == 1 and callable(args[0]) and not kwargs:
            return _decorate(args[0], object.__new__(cls)._mode())
        return object.__new__(cls)

    _takes_bare_function = True

    def _mode(self) -> bool | None:
        return self.enabled

    def __enter__(self):
        self._previous = _set(self._mode())
        return self

    def __exit__(self, *exc) -> bool:
        _state.set_grad_mode(self._previous)
        return False

    def __call__(self, fn):
        return _decorate(fn, self._mode())

    def clone(self):
        return self.__class__()


class no_grad(_GradMode):  # noqa: N801  (PyTorch's name)
    """Ops inside record no graph: for evaluation and for updates done by hand.

    Example:
        >>> x = ember.ones(3, requires_grad=True)
        >>> with ember.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Records ops again inside a ``no_grad`` block."""

    enabled = True


class set_grad_enabled(_GradMode):  # noqa: N801
    """Sets grad mode to ``mode`` at once, like PyTorch's; as a context or decorator it undoes
    the change on exit.

    Example:
        >>> with ember.set_grad_enabled(False):
        ...     assert not ember.is_grad_enabled()
    """

    _takes_bare_function = False

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._previous = _set(self.enabled)

    def __enter__(self):
        return self

    def __call__(self, fn):
        _state.set_grad_mode(self._previous)  # decorating must not change the mode now
        return super().__call__(fn)

    def clone(self):
        return self.__class__(self.enabled)


class inference_mode(_GradMode):  # noqa: N801
    """Like ``no_grad`` (Ember has no separate inference tensors); ``mode=False`` changes
    nothing."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def _mode(self) -> bool | None:
        return False if getattr(self, "mode", True) else None

    def clone(self):
        return self.__class__(self.mode)
