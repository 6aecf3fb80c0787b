"""Anomaly detection: name the forward op whose backward produced NaN."""

from __future__ import annotations

from ember.autograd import function as _state


class detect_anomaly:  # noqa: N801  (PyTorch's name)
    """While active, each recorded op keeps the stack of its forward call, and backward raises
    as soon as a node returns NaN, naming the node and showing where its forward ran.

    Example:
        >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> with ember.autograd.detect_anomaly():
        ...     (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self):
        self._previous = _state._anomaly_enabled
        _state._anomaly_enabled = self.check_nan
        return self

    def __exit__(self, *exc) -> bool:
        _state._anomaly_enabled = self._previous
        return False


class set_detect_anomaly(detect_anomaly):  # noqa: N801
    """Turns anomaly detection on or off at once (and back on exit when used with ``with``)."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self.__enter__()

    def __enter__(self):
        if not hasattr(self, "_previous"):
            return super().__enter__()
        return self


def is_anomaly_enabled() -> bool:
    return _state._anomaly_enabled
