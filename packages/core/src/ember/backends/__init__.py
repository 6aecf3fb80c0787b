"""``ember.backends``: PyTorch's backend switches, accepted so that ported scripts run.

Ember computes with numpy on the CPU and cupy on GPUs; it does not call cuDNN or MPS itself, so
these flags are recorded but change nothing (``ember.backends.cudnn.benchmark = True`` is fine).

Example:
    >>> import ember.backends.cudnn
    >>> ember.backends.cudnn.benchmark = True
    >>> ember.backends.mps.is_available()
    False
"""

from ember.backends import cpu, cudnn, mps

__all__ = ["cpu", "cudnn", "mps"]
