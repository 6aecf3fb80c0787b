"""Softmax-family functions with PyTorch's ``nn.functional`` signatures (implicit ``dim``).

The elementwise activations (relu, gelu ...) are registered ops already shaped like
``nn.functional`` and are re-exported as they are by ``ember.nn.functional``.
"""

from __future__ import annotations

import warnings

from ember.tensor import dtypes
from ember.tensor.registry import OPS
from ember.tensor.tensor import Tensor


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """PyTorch's legacy choice of dim when none is given (with its deprecation warning)."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _prepare(name: str, input: Tensor, dim, dtype, stacklevel: int):
    if dim is None:
        dim = _get_softmax_dim(name, input.dim(), stacklevel + 1)
    if dtype is not None:
        input = input.to(dtypes.to_dtype(dtype))
    return input, dim


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``exp(x) / exp(x).sum(dim)``; ``dtype`` casts the input first."""
    input, dim = _prepare("softmax", input, dim, dtype, _stacklevel)
    return OPS["softmax"](input, dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """``log(softmax(x, dim))`` computed without overflow."""
    input, dim = _prepare("log_softmax", input, dim, dtype, _stacklevel)
    return OPS["log_softmax"](input, dim)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-x, dim)``."""
    input, dim = _prepare("softmin", input, dim, dtype, _stacklevel)
    return OPS["softmax"](-input, dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: the first half of ``dim`` times the sigmoid of the second half."""
    if input.dim() == 0 or input.shape[dim] % 2:
        raise RuntimeError(
            f"glu: Halving dimension must be even, but dimension {dim} of input of shape "
            f"{tuple(input.shape)} is not"
        )
    first, second = input.chunk(2, dim)
    return first * second.sigmoid()
