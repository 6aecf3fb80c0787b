"""``ember.nn.parallel``: ``DataParallel`` and ``DistributedDataParallel``, as
``torch.nn.parallel``."""

from ember.nn.parallel.data_parallel import (
    DataParallel,
    data_parallel,
    gather,
    parallel_apply,
    scatter,
)
from ember.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel", "gather",
           "parallel_apply", "scatter"]
