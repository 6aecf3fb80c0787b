"""KL divergence between distributions, with a registry of closed forms."""

from __future__ import annotations

from ember import ops
from ember.distributions.bernoulli import Bernoulli
from ember.distributions.categorical import Categorical
from ember.distributions.distribution import Distribution
from ember.distributions.independent import Independent, sum_rightmost
from ember.distributions.normal import Normal
from ember.distributions.one_hot_categorical import OneHotCategorical
from ember.distributions.uniform import Uniform
from ember.tensor import full_like, zeros_like

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY: dict[tuple[type, type], object] = {}
_KL_CACHE: dict[tuple[type, type], object] = {}


def register_kl(type_p: type, type_q: type):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for ``type_p`` and ``type_q``.

    The most specific registration (by method resolution order of p's type, then q's) wins.

    Example:
        >>> @register_kl(Normal, Normal)
        ... def kl_normal_normal(p, q): ...
    """
    for kind in (type_p, type_q):
        if not (isinstance(kind, type) and issubclass(kind, Distribution)):
            raise TypeError(f"register_kl: expected subclasses of Distribution, got {kind!r}")

    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        _KL_CACHE.clear()
        return fn

    return decorator


def _dispatch(type_p: type, type_q: type):
    matches = [(p, q) for p, q in _KL_REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return None
    best = min(matches, key=lambda pq: (type_p.__mro__.index(pq[0]), type_q.__mro__.index(pq[1])))
    return _KL_REGISTRY[best]


def kl_divergence(p: Distribution, q: Distribution):
    """KL(p || q) = E_p[log p(x) - log q(x)], of shape ``batch_shape``.

    Raises:
        NotImplementedError: no closed form is registered for the two types.

    Example:
        >>> p = Normal(ember.tensor(0.0), ember.tensor(1.0))
        >>> kl_divergence(p, p).item()
        0.0
    """
    key = type(p), type(q)
    if key not in _KL_CACHE:
        _KL_CACHE[key] = _dispatch(*key)
    fn = _KL_CACHE[key]
    if fn is None:
        raise NotImplementedError(
            f"kl_divergence: no KL(p || q) is registered for p of type {type(p).__name__} and q "
            f"of type {type(q).__name__} (add one with ember.distributions.register_kl)"
        )
    return fn(p, q)


def _infinite_where(condition, value):
    return ops.where(condition, full_like(value, float("inf")), value)


def _zero_where(condition, value):
    return ops.where(condition, zeros_like(value), value)


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical):
    terms = p.probs * (p.logits - q.logits)
    terms = _infinite_where((q.probs == 0).expand_as(terms), terms)
    return _zero_where((p.probs == 0).expand_as(terms), terms).sum(-1)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal):
    variance_ratio = (p.scale / q.scale).pow(2)
    mean_term = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (variance_ratio + mean_term - 1 - variance_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli):
    ones = p.probs * (ops.softplus(-q.logits) - ops.softplus(-p.logits))
    ones = _zero_where(p.probs == 0, _infinite_where(q.probs == 0, ones))
    zeros = (1 - p.probs) * (ops.softplus(q.logits) - ops.softplus(p.logits))
    zeros = _zero_where(p.probs == 1, _infinite_where(q.probs == 1, zeros))
    return ones + zeros


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(
            f"kl_divergence: Independent distributions with different reinterpreted_batch_ndims "
            f"({p.reinterpreted_batch_ndims} and {q.reinterpreted_batch_ndims})"
        )
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p: OneHotCategorical, q: OneHotCategorical):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p: Uniform, q: Uniform):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return _infinite_where((q.low > p.low) | (q.high < p.high), result)
