"""Categorical distribution over ``0 .. K-1`` (``torch.distributions.Categorical``)."""

from __future__ import annotations

from functools import cached_property

from ember import ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import probs_to_logits
from ember.tensor import arange, full
from ember.tensor.dtypes import finfo
from ember.tensor.random import rand

__all__ = ["Categorical"]


class Categorical(Distribution):
    """A categorical distribution given by ``probs`` or ``logits`` over the last dimension.

    ``probs`` need not sum to one (they are normalised); ``logits`` are unnormalised
    log-probabilities. Samples are int64 indices of shape ``sample_shape + batch_shape``.

    Args:
        probs: non-negative weights of shape ``batch_shape + (K,)``.
        logits: unnormalised log-probabilities of shape ``batch_shape + (K,)``.
        validate_args: see ``Distribution``.

    Example:
        >>> d = Categorical(logits=ember.tensor([0.0, 0.0]))
        >>> round(d.entropy().item(), 4)
        0.6931
    """

    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: either `probs` or `logits` must be specified, but "
                             "not both")
        if probs is not None:
            if probs.dim() < 1:
                raise ValueError("Categorical: `probs` must be at least one-dimensional, got a "
                                 "scalar")
            self.probs = probs / probs.sum(-1, keepdim=True)
            self._param = self.probs
        else:
            if logits.dim() < 1:
                raise ValueError("Categorical: `logits` must be at least one-dimensional, got a "
                                 "scalar")
            self.logits = logits.log_softmax(-1)  # = logits - logsumexp(logits), in one op
            self._param = self.logits
        self._num_events = self._param.shape[-1]
        super().__init__(self._param.shape[:-1], validate_args=validate_args)

    @cached_property
    def logits(self):
        return probs_to_logits(self.probs)

    @cached_property
    def probs(self):
        # The stored logits are normalised already, so softmax reduces to exp.
        return self.logits.exp()

    @property
    def param_shape(self) -> tuple[int, ...]:
        return self.batch_shape + (self._num_events,)

    @property
    def support(self) -> constraints.Constraint:
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def mean(self):
        return full(self.batch_shape, float("nan"), dtype=self._param.dtype,
                          device=self._param.device)

    @property
    def variance(self):
        return self.mean

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()):
        """Indices drawn by inverting the cumulative probabilities with one uniform draw each."""
        with no_grad():
            cumulative = self.probs.cumsum(-1)
            shape = self._extended_shape(sample_shape) + (1,)
            uniform = rand(*shape, dtype=cumulative.dtype, device=cumulative.device)
            # The number of categories whose cumulative probability the draw passes. Rounding
            # can leave the total a hair under 1: the clamp gives that sliver to the last one.
            return (uniform >= cumulative).sum(-1).clamp(max=self._num_events - 1)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        index = value.long().unsqueeze(-1)
        logits = self.logits
        if index.shape[:-1] != logits.shape[:-1]:
            index, logits = ops.broadcast_tensors(index, logits)
            index = index[..., :1]
        return logits.gather(-1, index).squeeze(-1)

    def entropy(self):
        # 0 * log 0 counts as 0: clamping -inf logits to the dtype's minimum keeps it finite.
        logits = self.logits.clamp(min=finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True):
        values = arange(self._num_events, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((self._num_events,) + self.batch_shape) if expand else values
