"""Helpers shared by the distributions: parameter broadcasting and probability/logit conversion."""

from __future__ import annotations

import numbers

from ember import ops
from ember.tensor import Tensor, get_default_dtype, tensor
from ember.tensor.dtypes import finfo

__all__ = [
    "LocMeanMode", "broadcast_all", "clamp_probs", "logits_to_probs", "probs_to_logits",
    "xlogy_nonnegative",
]


def broadcast_all(*values):
    """Tensors of one broadcast shape from tensors and Python numbers.

    Numbers become tensors of the first tensor's dtype and device (the default dtype if none).
    """
    tensors = [v for v in values if isinstance(v, Tensor)]
    for value in values:
        if not isinstance(value, (Tensor, numbers.Number)):
            raise ValueError(f"broadcast_all: expected Tensors or numbers, got "
                             f"{type(value).__name__}")
    like = tensors[0] if tensors else None
    dtype = like.dtype if like is not None and like.is_floating_point() else None
    converted = [
        v if isinstance(v, Tensor)
        else tensor(float(v), dtype=dtype or get_default_dtype(),
                          device=None if like is None else like.device)
        for v in values
    ]
    shapes = {tuple(v.shape) for v in converted}
    if len(shapes) == 1:
        return tuple(converted)
    return tuple(ops.broadcast_tensors(*converted))


def logits_to_probs(logits, is_binary: bool = False):
    """Probabilities from logits: sigmoid (binary) or softmax over the last dimension."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def clamp_probs(probs):
    """Probabilities kept inside (0, 1) by the dtype's resolution, so their logs are finite."""
    eps = finfo(probs.dtype).eps
    return probs.clamp(eps, 1 - eps)


def probs_to_logits(probs, is_binary: bool = False):
    """Logits from probabilities: log-odds (binary) or log-probabilities."""
    clamped = clamp_probs(probs)
    return clamped.log() - (-clamped).log1p() if is_binary else clamped.log()


def xlogy_nonnegative(x, y):
    """``x * log(y)`` for ``y >= 0``, 0 where both are 0, with d/dx = log(y) everywhere.

    ``ops.xlogy`` follows PyTorch in zeroing d/dx where ``x == 0``, which is wrong for a
    log density's gradient in its parameter (Gamma's at concentration 1, say).
    """
    positive = y > 0
    safe_log = y.clamp(min=finfo(y.dtype).tiny).log()
    return ops.where(positive, x * safe_log, ops.xlogy(x, y))


class LocMeanMode:
    """Mixin for symmetric unimodal families: the mean and the mode are ``loc``."""

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc
