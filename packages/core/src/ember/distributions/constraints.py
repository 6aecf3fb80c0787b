"""Constraints: where parameters and samples of a distribution may lie (PyTorch's ``constraints``).

A constraint's ``check(value)`` returns a bool tensor, True where ``value`` satisfies it, over the
value's shape less ``event_dim`` rightmost dimensions.
"""

from __future__ import annotations

from ember import ops

__all__ = [
    "Constraint", "boolean", "dependent", "independent", "integer_interval", "interval",
    "lower_cholesky", "nonnegative", "nonnegative_integer", "positive", "positive_definite",
    "real", "real_vector", "simplex", "unit_interval",
]


class Constraint:
    """Base class: a region of values a tensor may take."""

    is_discrete = False
    event_dim = 0

    def check(self, value):
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    """Placeholder for a support that depends on other parameters; cannot be checked."""

    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


class _Real(Constraint):
    def check(self, value):
        return value == value  # False only for NaN


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value):
        return (value == 0) | (value == 1)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound: int, upper_bound: int | None) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value):
        inside = (value % 1 == 0) & (value >= self.lower_bound)
        return inside if self.upper_bound is None else inside & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound: float, upper_bound: float, *, open_lower: bool = False) -> None:
        self.lower_bound, self.upper_bound, self.open_lower = lower_bound, upper_bound, open_lower

    def check(self, value):
        low = value > self.lower_bound if self.open_lower else value >= self.lower_bound
        return low & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return f"Interval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    """Non-negative vectors over the last dimension that sum to one."""

    event_dim = 1

    def check(self, value):
        return (value >= 0).all(dim=-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _LowerCholesky(Constraint):
    """Lower-triangular square matrices with a positive diagonal."""

    event_dim = 2

    def check(self, value):
        lower = (value.tril() == value).all(dim=-1).all(dim=-1)
        return lower & (value.diagonal(dim1=-2, dim2=-1) > 0).all(dim=-1)


class _PositiveDefinite(Constraint):
    """Symmetric positive-definite square matrices (those with a Cholesky factor)."""

    event_dim = 2

    def check(self, value):
        from ember import linalg  # linalg imports the ops this module is loaded beside

        symmetric = ((value - value.mT).abs() <= 1e-6 * (1 + value.abs())).all(dim=-1).all(dim=-1)
        return symmetric & (linalg.cholesky_ex(value)[1] == 0)


class _Independent(Constraint):
    """``base`` with ``reinterpreted_batch_ndims`` more dimensions counted as the event."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base, self.reinterpreted_batch_ndims = base, reinterpreted_batch_ndims
        self.is_discrete = base.is_discrete
        self.event_dim = base.event_dim + reinterpreted_batch_ndims

    def check(self, value):
        result = self.base.check(value)
        for _ in range(self.reinterpreted_batch_ndims):
            result = result.all(dim=-1)
        return result

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base!r}, {self.reinterpreted_batch_ndims})"


dependent = _Dependent()
real = _Real()
real_vector = _Independent(real, 1)
boolean = _Boolean()
nonnegative_integer = _IntegerInterval(0, None)
positive = _Interval(0.0, float("inf"), open_lower=True)
nonnegative = _Interval(0.0, float("inf"))
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()


def integer_interval(lower_bound: int, upper_bound: int) -> Constraint:
    """Integers in ``[lower_bound, upper_bound]``."""
    return _IntegerInterval(lower_bound, upper_bound)


def interval(lower_bound: float, upper_bound: float) -> Constraint:
    """Reals in ``[lower_bound, upper_bound]``."""
    return _Interval(lower_bound, upper_bound)


def independent(base: Constraint, reinterpreted_batch_ndims: int) -> Constraint:
    """``base`` checked over ``reinterpreted_batch_ndims`` more event dimensions."""
    return _Independent(base, reinterpreted_batch_ndims)


def all_true(check) -> bool:
    """Whether a ``check`` result holds everywhere (a Python bool)."""
    return bool(ops.all(check).item()) if check.numel() else True
