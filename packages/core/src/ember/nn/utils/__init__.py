"""``ember.nn.utils``: gradient clipping and parameter/vector conversion.

``ember.nn.utils.rnn`` (sequence packing) lives in its own module of this package.
"""

from ember.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from ember.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]
