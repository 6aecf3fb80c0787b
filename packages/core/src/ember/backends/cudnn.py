"""``ember.backends.cudnn``: the flags of ``torch.backends.cudnn``, accepted and recorded.

Ember does not use cuDNN (its GPU path is cupy's kernels and cuBLAS), so ``benchmark``,
``deterministic``, ``enabled`` and ``allow_tf32`` have no effect; ``is_available()`` says so.
"""

from __future__ import annotations

from contextlib import contextmanager

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    """False: Ember never calls cuDNN (the flags above are accepted for compatibility)."""
    return False


def version():
    """None: no cuDNN library is in use."""
    return None


@contextmanager
def flags(enabled=False, benchmark=False, deterministic=False, allow_tf32=True):
    """Sets the flags inside a ``with`` block and restores them after, as PyTorch's."""
    module = globals()
    saved = {name: module[name] for name in ("enabled", "benchmark", "deterministic",
                                             "allow_tf32")}
    module.update(enabled=enabled, benchmark=benchmark, deterministic=deterministic,
                  allow_tf32=allow_tf32)
    try:
        yield
    finally:
        module.update(saved)
