"""``ReduceOp``: how a collective combines the ranks' values, as ``torch.distributed.ReduceOp``."""

from __future__ import annotations

import enum


class ReduceOp(enum.Enum):
    SUM = "sum"
    AVG = "avg"  # the sum divided by the world size, for floating-point tensors
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
