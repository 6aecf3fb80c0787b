"""cupy's NCCL bindings for ember.distributed's nccl backend (only the backend imports cupy)."""

from __future__ import annotations

from ember.backend.device import cupy_module


def nccl_module():
    """``cupy.cuda.nccl``, or None without a GPU or with a cupy built without NCCL."""
    if cupy_module() is None:
        return None
    from cupy.cuda import nccl

    return nccl if nccl.available else None
