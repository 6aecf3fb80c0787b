"""``ember.backends.mps``: Apple's Metal backend, which Ember does not have."""

from __future__ import annotations


def is_available() -> bool:
    """False: Ember runs on the CPU (numpy) and on CUDA GPUs (cupy) only."""
    return False


def is_built() -> bool:
    """False: Ember has no MPS backend."""
    return False
