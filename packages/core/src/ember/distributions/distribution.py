"""The ``Distribution`` base class (``torch.distributions.Distribution``)."""

from __future__ import annotations

from ember import ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.tensor import Tensor

__all__ = ["Distribution"]


def _size(shape) -> tuple[int, ...]:
    return tuple(shape) if not isinstance(shape, int) else (shape,)


class Distribution:
    """Base of every distribution: shapes, argument validation and the sampling interface.

    ``batch_shape`` indexes independent distributions, ``event_shape`` is the shape of one draw;
    ``sample(sample_shape)`` returns ``sample_shape + batch_shape + event_shape``.

    Args:
        batch_shape: shape of the batch of distributions.
        event_shape: shape of one sample.
        validate_args: check the parameters (and values given to ``log_prob``) against
            ``arg_constraints`` and ``support``; None uses the class default (True, as in
            PyTorch; ``Distribution.set_default_validate_args(False)`` turns checking off).
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints: dict[str, constraints.Constraint] = {}
    support: constraints.Constraint | None = None

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Sets whether new distributions validate their arguments by default."""
        if value not in (True, False):
            raise ValueError(f"set_default_validate_args: expected a bool, got {value!r}")
        Distribution._validate_args = value

    def __init__(self, batch_shape=(), event_shape=(), validate_args: bool | None = None) -> None:
        self._batch_shape = _size(batch_shape)
        self._event_shape = _size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            self._check_parameters()

    def _check_parameters(self) -> None:
        for name, constraint in self.arg_constraints.items():
            if constraint is constraints.dependent or name not in self._given_parameters():
                continue
            value = getattr(self, name)
            if not constraints.all_true(constraint.check(value)):
                raise ValueError(
                    f"{type(self).__name__}: expected parameter {name} (Tensor of shape "
                    f"{tuple(value.shape)}) to satisfy the constraint {constraint!r}, but found "
                    f"invalid values:\n{value}"
                )

    def _given_parameters(self):
        """The parameter names set at construction (subclasses with alternatives narrow it)."""
        return self.arg_constraints

    # ---- shapes -----------------------------------------------------------------------------

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def _extended_shape(self, sample_shape=()) -> tuple[int, ...]:
        return _size(sample_shape) + self._batch_shape + self._event_shape

    # ---- moments ----------------------------------------------------------------------------

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    # ---- sampling and densities -------------------------------------------------------------

    def sample(self, sample_shape=()):
        """A sample of shape ``sample_shape + batch_shape + event_shape``, without gradient."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        """A reparameterised sample: gradients flow to the parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not support rsample")

    def sample_n(self, n: int):
        return self.sample((n,))

    def log_prob(self, value):
        """Log of the density (or mass) at ``value``; shape ``batch_shape`` (broadcast)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def entropy(self):
        """Entropy in nats, shape ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def perplexity(self):
        return self.entropy().exp()

    def enumerate_support(self, expand: bool = True):
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    def _validate_sample(self, value) -> None:
        """Checks that ``value`` broadcasts with the batch and lies in the support."""
        if not isinstance(value, Tensor):
            raise ValueError(f"{type(self).__name__}.log_prob: the value must be a Tensor, got "
                             f"{type(value).__name__}")
        event_dims = len(self._event_shape)
        if tuple(value.shape[len(value.shape) - event_dims:]) != self._event_shape:
            raise ValueError(
                f"{type(self).__name__}.log_prob: the rightmost dimensions of value (shape "
                f"{tuple(value.shape)}) must be the event shape {self._event_shape}"
            )
        try:
            ops.broadcast_shapes(tuple(value.shape), self._batch_shape + self._event_shape)
        except (RuntimeError, ValueError):
            raise ValueError(
                f"{type(self).__name__}.log_prob: value of shape {tuple(value.shape)} is not "
                f"broadcastable with batch_shape + event_shape "
                f"{self._batch_shape + self._event_shape}"
            ) from None
        support = self.support
        if support is not None and not constraints.all_true(support.check(value)):
            raise ValueError(
                f"{type(self).__name__}.log_prob: expected value to be within the support "
                f"({support!r}), but found invalid values:\n{value}"
            )

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}: {_describe(self.__dict__[name])}"
                          for name in self.arg_constraints if name in self.__dict__)
        return f"{type(self).__name__}({shown})"


def _describe(value) -> str:
    return f"{value.item():g}" if value.numel() == 1 else f"size {tuple(value.shape)}"
