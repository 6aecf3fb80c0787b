"""``ember.nn.parallel``: ``DataParallel``, as ``torch.nn.parallel``."""

from ember.nn.parallel.data_parallel import (
    DataParallel,
    data_parallel,
    gather,
    parallel_apply,
    scatter,
)

__all__ = ["DataParallel", "data_parallel", "gather", "parallel_apply", "scatter"]
