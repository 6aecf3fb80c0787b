"""Independent: batch dimensions reinterpreted as event dimensions (``torch.distributions``)."""

from __future__ import annotations

from ember.distributions import constraints
from ember.distributions.distribution import Distribution

__all__ = ["Independent"]


def sum_rightmost(value, dims: int):
    """``value`` summed over its ``dims`` rightmost dimensions."""
    return value if dims == 0 else value.sum(dim=tuple(range(-dims, 0)))


class Independent(Distribution):
    """Treats the rightmost ``reinterpreted_batch_ndims`` batch dimensions of ``base_distribution``
    as one event: ``log_prob`` and ``entropy`` sum over them.

    Example:
        >>> from ember.distributions import Normal
        >>> d = Independent(Normal(ember.zeros(3, 2), ember.ones(3, 2)), 1)
        >>> d.batch_shape, d.event_shape
        ((3,), (2,))
    """

    arg_constraints: dict = {}

    def __init__(self, base_distribution: Distribution, reinterpreted_batch_ndims: int,
                 validate_args: bool | None = None) -> None:
        base_batch = base_distribution.batch_shape
        if not 0 <= reinterpreted_batch_ndims <= len(base_batch):
            raise ValueError(
                f"Independent: expected 0 <= reinterpreted_batch_ndims <= "
                f"len(base_distribution.batch_shape) = {len(base_batch)}, got "
                f"{reinterpreted_batch_ndims}"
            )
        shape = base_batch + base_distribution.event_shape
        event_dims = reinterpreted_batch_ndims + len(base_distribution.event_shape)
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims
        super().__init__(shape[: len(shape) - event_dims], shape[len(shape) - event_dims:],
                         validate_args=validate_args)

    @property
    def has_rsample(self) -> bool:
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self) -> bool:
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    @property
    def support(self) -> constraints.Constraint:
        return constraints.independent(self.base_dist.support, self.reinterpreted_batch_ndims)

    @property
    def mean(self):
        return self.base_dist.mean

    @property
    def mode(self):
        return self.base_dist.mode

    @property
    def variance(self):
        return self.base_dist.variance

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        return sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        return sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def __repr__(self) -> str:
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
