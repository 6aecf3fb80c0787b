"""Categorical draws as one-hot vectors (``torch.distributions.OneHotCategorical``)."""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions.categorical import Categorical
from ember.distributions.distribution import Distribution
from ember.nn import functional as F

__all__ = ["OneHotCategorical"]


class _OneHot(constraints.Constraint):
    """Vectors over the last dimension with one 1 and 0 elsewhere."""

    is_discrete = True
    event_dim = 1

    def check(self, value):
        return ((value == 0) | (value == 1)).all(dim=-1) & (value.sum(-1) == 1)

    def __repr__(self) -> str:
        return "OneHot()"


class OneHotCategorical(Distribution):
    """A ``Categorical`` whose samples are one-hot vectors of ``K`` entries (the event).

    Example:
        >>> d = OneHotCategorical(probs=ember.tensor([0.0, 1.0]))
        >>> d.sample().tolist()
        [0.0, 1.0]
    """

    arg_constraints = Categorical.arg_constraints
    support = _OneHot()
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args: bool | None = None) -> None:
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        param = self._categorical._param
        super().__init__(self._categorical.batch_shape, param.shape[-1:],
                         validate_args=validate_args)

    def _given_parameters(self):
        return ()  # the inner Categorical checked them

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return self._one_hot(self.probs.argmax(-1))

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def _one_hot(self, index):
        return F.one_hot(index, self.event_shape[0]).to(self.probs.dtype)

    def sample(self, sample_shape=()):
        return self._one_hot(self._categorical.sample(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand: bool = True):
        size = self.event_shape[0]
        values = self._one_hot(self._categorical.enumerate_support(expand=False).reshape(-1))
        values = values.reshape((size,) + (1,) * len(self.batch_shape) + (size,))
        return values.expand((size,) + self.batch_shape + (size,)) if expand else values

    def __repr__(self) -> str:
        return f"OneHotCategorical({self._categorical!r})"
