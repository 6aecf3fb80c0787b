"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each works as a context manager and as a decorator. The flag is process-wide (not per thread).
"""

from __future__ import annotations

import functools

from ember.autograd import function as _state


def is_grad_enabled() -> bool:
    return _state._grad_enabled


class _GradMode:
    """Sets grad mode to ``enabled`` (None keeps it) inside a ``with`` block or a function."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = enabled

    def __enter__(self):
        self._previous = _state._grad_enabled
        if self.enabled is not None:
            _state._grad_enabled = self.enabled
        return self

    def __exit__(self, *exc) -> bool:
        _state._grad_enabled = self._previous
        return False

    def __call__(self, fn):
        enabled = self.enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            previous = _state._grad_enabled
            if enabled is not None:
                _state._grad_enabled = enabled
            try:
                return fn(*args, **kwargs)
            finally:
                _state._grad_enabled = previous

        return wrapper


class no_grad(_GradMode):  # noqa: N801  (PyTorch's name)
    """Ops inside record no graph: for evaluation and for updates done by hand.

    Example:
        >>> with ember.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_GradMode):  # noqa: N801
    """Records ops again inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


class set_grad_enabled(_GradMode):  # noqa: N801
    """Sets grad mode to ``mode`` at once, like PyTorch's; as a context it undoes on exit."""

    def __init__(self, mode: bool) -> None:
        super().__init__(bool(mode))
        self._previous = _state._grad_enabled
        _state._grad_enabled = self.enabled

    def __enter__(self):
        return self

    def __call__(self, fn):
        _state._grad_enabled = self._previous
        return super().__call__(fn)


class inference_mode(_GradMode):  # noqa: N801
    """Like ``no_grad`` (Ember has no separate inference tensors); ``mode=False`` changes nothing."""

    def __init__(self, mode: bool = True) -> None:
        super().__init__(False if mode else None)
