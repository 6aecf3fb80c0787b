"""``ember.backends.cpu``: what the CPU backend offers, as ``torch.backends.cpu``."""

from __future__ import annotations

import numpy as np


def get_cpu_capability() -> str:
    """The widest SIMD extension numpy's kernels dispatch to, in PyTorch's words (``"AVX512"``,
    ``"AVX2"``, ``"NEON"`` ...), or ``"DEFAULT"`` when numpy reports none.

    Example:
        >>> ember.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "NEON", "DEFAULT")
        True
    """
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    features = getattr(getattr(core, "_multiarray_umath", None), "__cpu_features__", {})
    for name, label in (("AVX512F", "AVX512"), ("AVX2", "AVX2"), ("ASIMD", "NEON"),
                        ("VSX", "VSX"), ("VX", "ZVECTOR")):
        if features.get(name):
            return label
    return "DEFAULT"
