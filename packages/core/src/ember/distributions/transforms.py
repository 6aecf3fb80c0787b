"""Invertible transforms with log-abs-det-Jacobians (``torch.distributions.transforms``).

A transform maps ``x`` to ``y = t(x)``; ``t.inv`` maps back and
``t.log_abs_det_jacobian(x, y)`` is ``log |dy/dx|``, summed over the transform's ``event_dim``
rightmost dimensions (elementwise transforms have ``event_dim`` 0).
"""

from __future__ import annotations

import math
import numbers

from ember import ops
from ember.distributions import constraints
from ember.distributions.independent import sum_rightmost
from ember.tensor import Tensor, full_like, zeros_like
from ember.tensor.dtypes import finfo

__all__ = [
    "AffineTransform", "ComposeTransform", "ExpTransform", "SigmoidTransform", "TanhTransform",
    "Transform",
]


class Transform:
    """Base of the transforms: subclasses define ``_call``, ``_inverse`` and
    ``log_abs_det_jacobian``, and set ``domain``/``codomain``."""

    bijective = True
    sign = 1
    event_dim = 0
    domain: constraints.Constraint = constraints.real
    codomain: constraints.Constraint = constraints.real

    def __call__(self, x):
        return self._call(x)

    @property
    def inv(self) -> Transform:
        """The inverse transform: ``t.inv(t(x)) == x``."""
        return _InverseTransform(self)

    def _call(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement _call")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} is not invertible")

    def log_abs_det_jacobian(self, x, y):
        """``log |dy/dx|`` at ``x`` (with ``y = self(x)``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_abs_det_jacobian")

    def __repr__(self) -> str:
        return type(self).__name__ + "()"


class _InverseTransform(Transform):
    def __init__(self, transform: Transform) -> None:
        self._inv = transform
        self.event_dim = transform.event_dim
        self.domain, self.codomain = transform.codomain, transform.domain
        self.sign = transform.sign

    @property
    def inv(self) -> Transform:
        return self._inv

    def _call(self, x):
        return self._inv._inverse(x)

    def _inverse(self, y):
        return self._inv(y)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def __repr__(self) -> str:
        return f"{self._inv!r}.inv"


class ExpTransform(Transform):
    """``y = exp(x)``."""

    codomain = constraints.positive

    def _call(self, x):
        return x.exp()

    def _inverse(self, y):
        return y.log()

    def log_abs_det_jacobian(self, x, y):
        return x


class SigmoidTransform(Transform):
    """``y = 1 / (1 + exp(-x))``, kept inside (0, 1) by the dtype's resolution."""

    codomain = constraints.unit_interval

    def _call(self, x):
        eps = finfo(x.dtype).eps
        return x.sigmoid().clamp(eps, 1 - eps)

    def _inverse(self, y):
        eps = finfo(y.dtype).eps
        clamped = y.clamp(eps, 1 - eps)
        return clamped.log() - (-clamped).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -ops.softplus(-x) - ops.softplus(x)


class TanhTransform(Transform):
    """``y = tanh(x)``."""

    codomain = constraints.interval(-1.0, 1.0)

    def _call(self, x):
        return x.tanh()

    def _inverse(self, y):
        return 0.5 * ((y).log1p() - (-y).log1p())

    def log_abs_det_jacobian(self, x, y):
        # log(1 - tanh(x)^2) written without cancellation for large |x|.
        return 2.0 * (math.log(2.0) - x - ops.softplus(-2.0 * x))


class AffineTransform(Transform):
    """``y = loc + scale * x``; ``event_dim`` rightmost dimensions count as one event.

    Args:
        loc: tensor or number.
        scale: tensor or number (nonzero).
        event_dim: 0 for scalars, 1 for vectors, ...
    """

    def __init__(self, loc, scale, event_dim: int = 0) -> None:
        self.loc, self.scale, self.event_dim = loc, scale, event_dim
        if event_dim:
            self.domain = self.codomain = constraints.independent(constraints.real, event_dim)

    @property
    def sign(self):
        return (self.scale.sign() if isinstance(self.scale, Tensor)
                else math.copysign(1, self.scale))

    def _call(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y):
        if isinstance(self.scale, numbers.Number):
            result = full_like(x, math.log(abs(self.scale)))
        else:
            result = self.scale.abs().log().expand(*ops.broadcast_shapes(
                tuple(x.shape), tuple(self.scale.shape)))
        return sum_rightmost(result, self.event_dim)

    def __repr__(self) -> str:
        return f"AffineTransform(loc={self.loc}, scale={self.scale}, event_dim={self.event_dim})"


class ComposeTransform(Transform):
    """Applies ``parts`` in order; an empty list is the identity."""

    def __init__(self, parts: list[Transform]) -> None:
        self.parts = list(parts)
        self.event_dim = max((part.event_dim for part in self.parts), default=0)
        if self.parts:
            self.domain, self.codomain = self.parts[0].domain, self.parts[-1].codomain

    @property
    def inv(self) -> Transform:
        return ComposeTransform([part.inv for part in reversed(self.parts)])

    @property
    def sign(self):
        sign = 1
        for part in self.parts:
            sign = sign * part.sign
        return sign

    def _call(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return zeros_like(x)
        total = 0
        for part in self.parts:
            y_part = part(x)
            term = part.log_abs_det_jacobian(x, y_part)
            total = total + sum_rightmost(term, self.event_dim - part.event_dim)
            x = y_part
        return total

    def __repr__(self) -> str:
        return "ComposeTransform(" + ", ".join(repr(part) for part in self.parts) + ")"
