"""A distribution pushed through transforms (``torch.distributions.TransformedDistribution``)."""

from __future__ import annotations

from ember.distributions.distribution import Distribution
from ember.distributions.independent import Independent, sum_rightmost
from ember.distributions.transforms import ComposeTransform, Transform

__all__ = ["TransformedDistribution"]


class TransformedDistribution(Distribution):
    """The law of ``y = t_n(...t_1(x))`` for ``x ~ base_distribution``; ``log_prob`` applies the
    change of variables ``log p(y) = log p_base(x) - sum_i log |det J_i|``.

    Args:
        base_distribution: the distribution of ``x``.
        transforms: a ``Transform`` or a list of them, applied in order.
        validate_args: see ``Distribution``.

    Example:
        >>> from ember.distributions import Normal
        >>> from ember.distributions.transforms import ExpTransform
        >>> d = TransformedDistribution(Normal(0.0, 1.0), [ExpTransform()])
        >>> round(d.log_prob(ember.tensor(1.0)).item(), 4)
        -0.9189
    """

    arg_constraints: dict = {}

    def __init__(self, base_distribution: Distribution, transforms,
                 validate_args: bool | None = None) -> None:
        if isinstance(transforms, Transform):
            transforms = [transforms]
        elif not (isinstance(transforms, list)
                  and all(isinstance(t, Transform) for t in transforms)):
            raise ValueError("transforms must be a Transform or a list of Transforms")
        self.transforms = transforms
        shape = base_distribution.batch_shape + base_distribution.event_shape
        event_dim = max(ComposeTransform(transforms).event_dim,
                        len(base_distribution.event_shape))
        extra = event_dim - len(base_distribution.event_shape)
        if extra:
            # A transform acting on vectors makes the base's rightmost batch dimensions events.
            base_distribution = Independent(base_distribution, extra)
        self.base_dist = base_distribution
        cut = len(shape) - event_dim
        super().__init__(shape[:cut], shape[cut:], validate_args=validate_args)

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def support(self):
        return self.transforms[-1].codomain if self.transforms else self.base_dist.support

    def sample(self, sample_shape=()):
        x = self.base_dist.sample(sample_shape)
        for transform in self.transforms:
            x = transform(x)
        return x

    def rsample(self, sample_shape=()):
        x = self.base_dist.rsample(sample_shape)
        for transform in self.transforms:
            x = transform(x)
        return x

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        event_dim = len(self.event_shape)
        log_prob = 0.0
        y = value
        for transform in reversed(self.transforms):
            x = transform.inv(y)
            jacobian = transform.log_abs_det_jacobian(x, y)
            log_prob = log_prob - sum_rightmost(jacobian, event_dim - transform.event_dim)
            y = x
        base = self.base_dist.log_prob(y)
        return log_prob + sum_rightmost(base, event_dim - len(self.base_dist.event_shape))

    def cdf(self, value):
        # Monotone elementwise transforms only: a decreasing one flips the CDF.
        for transform in reversed(self.transforms):
            value = transform.inv(value)
        result = self.base_dist.cdf(value)
        sign = ComposeTransform(self.transforms).sign
        return result if isinstance(sign, int) and sign == 1 else sign * (result - 0.5) + 0.5

    def icdf(self, value):
        sign = ComposeTransform(self.transforms).sign
        if not (isinstance(sign, int) and sign == 1):
            value = sign * (value - 0.5) + 0.5
        x = self.base_dist.icdf(value)
        for transform in self.transforms:
            x = transform(x)
        return x
