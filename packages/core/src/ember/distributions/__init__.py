"""Probability distributions with sampling, log densities, entropies and KL divergences.

PyTorch's ``torch.distributions``: ``Categorical``, ``OneHotCategorical``, ``Bernoulli``,
``Normal``, ``Uniform``, ``Independent``, ``Gamma``, ``Beta``, ``Dirichlet``, ``Exponential``,
``Laplace``, ``MultivariateNormal``, ``LogNormal`` and ``TransformedDistribution`` (with the
invertible maps of ``transforms``)
with ``sample``, ``rsample`` (where reparameterisable), ``log_prob``, ``entropy``, ``mean``,
``mode``, ``variance``, argument validation, and ``kl_divergence`` with its ``register_kl``
registry. Sampling draws from Ember's default generator, so ``ember.manual_seed`` fixes it.

Example:
    >>> from ember.distributions import Categorical
    >>> d = Categorical(probs=ember.tensor([0.2, 0.8]))
    >>> d.log_prob(ember.tensor(1)).exp().item()
    0.800000011920929
"""

from ember.distributions import constraints, kl_continuous, transforms
from ember.distributions.bernoulli import Bernoulli
from ember.distributions.beta import Beta
from ember.distributions.categorical import Categorical
from ember.distributions.dirichlet import Dirichlet
from ember.distributions.distribution import Distribution
from ember.distributions.exponential import Exponential
from ember.distributions.gamma import Gamma
from ember.distributions.independent import Independent
from ember.distributions.kl import kl_divergence, register_kl
from ember.distributions.laplace import Laplace
from ember.distributions.log_normal import LogNormal
from ember.distributions.multivariate_normal import MultivariateNormal
from ember.distributions.normal import Normal
from ember.distributions.one_hot_categorical import OneHotCategorical
from ember.distributions.transformed_distribution import TransformedDistribution
from ember.distributions.uniform import Uniform

del kl_continuous  # imported for its register_kl entries

__all__ = [
    "Bernoulli", "Beta", "Categorical", "Dirichlet", "Distribution", "Exponential", "Gamma",
    "Independent", "Laplace", "LogNormal", "MultivariateNormal", "Normal", "OneHotCategorical",
    "TransformedDistribution", "Uniform", "constraints", "kl_divergence", "register_kl",
    "transforms",
]
