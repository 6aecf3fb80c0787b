"""``ember.nn.utils``: gradient clipping, parameter/vector conversion, sequence packing
(``ember.nn.utils.rnn``), parametrizations (``parametrize``, ``parametrizations``) and
pruning (``prune``)."""

from ember.nn.utils import parametrizations, parametrize, prune, rnn
from ember.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from ember.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "parametrizations",
           "parametrize", "prune", "rnn", "vector_to_parameters"]
