"""Bernoulli distribution over {0, 1} (``torch.distributions.Bernoulli``)."""

from __future__ import annotations

import numbers
from functools import cached_property

from ember import ops
from ember.autograd import no_grad
from ember.distributions import constraints
from ember.distributions.distribution import Distribution
from ember.distributions.utils import broadcast_all, logits_to_probs, probs_to_logits
from ember.tensor import arange, full_like
from ember.tensor.random import bernoulli

__all__ = ["Bernoulli"]


class Bernoulli(Distribution):
    """Ones with probability ``probs`` (or ``sigmoid(logits)``), zeros otherwise, elementwise.

    Args:
        probs: probability of a one, in [0, 1] (tensor or number).
        logits: log-odds of a one (tensor or number).
        validate_args: see ``Distribution``.

    Example:
        >>> d = Bernoulli(probs=ember.tensor([0.25]))
        >>> round(d.log_prob(ember.tensor([1.0])).item(), 4)
        -1.3863
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: either `probs` or `logits` must be specified, but not "
                             "both")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
            param, scalar = self.probs, isinstance(probs, numbers.Number)
        else:
            (self.logits,) = broadcast_all(logits)
            param, scalar = self.logits, isinstance(logits, numbers.Number)
        super().__init__(() if scalar else tuple(param.shape), validate_args=validate_args)

    @cached_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @cached_property
    def probs(self):
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        """1 where probs > 0.5, 0 where below, NaN where exactly 0.5 (as PyTorch)."""
        probs = self.probs
        mode = (probs >= 0.5).to(probs.dtype)
        return ops.where(probs == 0.5, full_like(probs, float("nan")), mode)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        with no_grad():
            return bernoulli(self.probs.expand(self._extended_shape(sample_shape)))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        # log p(x) = x * logits - log(1 + exp(logits)), without overflow through softplus.
        return value * logits - ops.softplus(logits)

    def entropy(self):
        return ops.softplus(self.logits) - self.probs * self.logits

    def enumerate_support(self, expand: bool = True):
        values = arange(2, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((2,) + self.batch_shape) if expand else values
