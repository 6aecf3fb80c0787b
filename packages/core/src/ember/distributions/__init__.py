"""Probability distributions with sampling, log densities, entropies and KL divergences.

PyTorch's ``torch.distributions``: ``Categorical``, ``OneHotCategorical``, ``Bernoulli``,
``Normal``, ``Uniform`` and ``Independent``
with ``sample``, ``rsample`` (where reparameterisable), ``log_prob``, ``entropy``, ``mean``,
``mode``, ``variance``, argument validation, and ``kl_divergence`` with its ``register_kl``
registry. Sampling draws from Ember's default generator, so ``ember.manual_seed`` fixes it.

Example:
    >>> from ember.distributions import Categorical
    >>> d = Categorical(probs=ember.tensor([0.2, 0.8]))
    >>> d.log_prob(ember.tensor(1)).exp().item()
    0.800000011920929
"""

from ember.distributions import constraints
from ember.distributions.bernoulli import Bernoulli
from ember.distributions.categorical import Categorical
from ember.distributions.distribution import Distribution
from ember.distributions.independent import Independent
from ember.distributions.kl import kl_divergence, register_kl
from ember.distributions.normal import Normal
from ember.distributions.one_hot_categorical import OneHotCategorical
from ember.distributions.uniform import Uniform

__all__ = [
    "Bernoulli", "Categorical", "Distribution", "Independent", "Normal", "OneHotCategorical",
    "Uniform", "constraints", "kl_divergence", "register_kl",
]
