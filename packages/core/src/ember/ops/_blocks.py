"""The batch split into cache-sized blocks of samples, for ops that make several passes over
their data: each pass after the first then finds a block in the core's cache."""

from __future__ import annotations

import numpy as np


def sample_blocks(xp, array, nbytes: int) -> list:
    """Slices of ``array``'s first axis (its samples) of about ``nbytes`` each on the CPU, every
    one with an explicit stop inside the array, and at least one (empty for an empty batch); a GPU
    takes the batch as one block."""
    n = array.shape[0]
    step = n if xp is not np else max(1, nbytes // max(1, array[:1].nbytes))
    return [slice(first, min(n, first + step)) for first in range(0, max(n, 1), max(1, step))]
