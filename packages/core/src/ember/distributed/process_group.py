"""The default process group: which engine, this rank, the world size and the timeout.

``init_process_group`` starts it, ``destroy_process_group`` ends it. Every collective checks the
group first; after a failure (a timeout) the group refuses further work, since a collective that
some ranks started and others did not leaves the ranks out of step.
"""

from __future__ import annotations

import os
from datetime import timedelta

import numpy as np

from ember.distributed import faults
from ember.distributed.errors import DistBackendError
from ember.distributed.mpi import MPIEngine, mpi_module
from ember.distributed.work import _seconds

default_pg_timeout = timedelta(minutes=30)
default_pg_nccl_timeout = timedelta(minutes=10)
BACKENDS = ("mpi", "nccl")


class ProcessGroup:
    def __init__(self, engine, timeout: float) -> None:
        self.engine = engine
        self.backend = engine.name
        self.rank = engine.rank
        self.world_size = engine.world_size
        self.timeout = timeout
        self.broken = None  # why the group stopped working

    def check(self, name: str) -> None:
        if self.broken is not None:
            raise DistBackendError(
                f"{name}: the process group is unusable after an earlier failure: {self.broken}"
            )

    def fail(self, message: str):
        """Marks the group broken and raises ``DistBackendError(message)``."""
        self.broken = message
        self.engine.abort()
        raise DistBackendError(message)


_group: ProcessGroup | None = None


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout=None, world_size: int = -1, rank: int = -1) -> None:
    """Starts the default process group.

    ``backend="mpi"`` (the default) runs on CPUs over MPI: launch the script with ``mpirun -n N``
    or ``python -m ember.distributed.run``; rank and world size come from MPI (``world_size`` and
    ``rank``, if given, must agree). ``backend="nccl"`` runs on GPUs, one per rank, chosen by the
    launcher's local rank; NCCL's unique id is shared over MPI, or, with
    ``init_method="file:///path"``, through that file, with ``rank`` and ``world_size`` given (or
    in the ``RANK`` and ``WORLD_SIZE`` environment variables). Ember has no TCP store
    (``env://``).

    ``timeout`` (a ``timedelta``, or seconds) bounds every wait: a collective that a failed,
    killed or hung peer never joins raises ``DistBackendError`` after it, and an uncaught error
    on any rank aborts the whole MPI job instead of leaving the others waiting.
    """
    global _group
    if _group is not None:
        raise RuntimeError("init_process_group: trying to initialize the default process group "
                           "twice!")
    backend = "mpi" if backend is None else str(backend).lower()
    if backend not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; expected one of "
                         f"{', '.join(BACKENDS)}")
    if timeout is None:
        timeout = default_pg_nccl_timeout if backend == "nccl" else default_pg_timeout
    seconds = _seconds(timeout)
    if backend == "mpi":
        if init_method is not None:
            raise ValueError("init_process_group: the mpi backend takes no init_method (MPI's "
                             "launcher connects the ranks)")
        engine = MPIEngine()
        _check_given(engine, world_size, rank)
    else:
        engine = _nccl_engine(init_method, world_size, rank, seconds)
    _group = ProcessGroup(engine, seconds)
    if engine.world_size > 1:
        faults.install()


def _check_given(engine, world_size: int, rank: int) -> None:
    for name, given, actual in (("world_size", world_size, engine.world_size),
                                ("rank", rank, engine.rank)):
        if given != -1 and given != actual:
            raise ValueError(f"init_process_group: {name}={given} disagrees with MPI's "
                             f"{name} {actual}")


def _nccl_engine(init_method, world_size: int, rank: int, timeout: float):
    from ember.backend import cupy_module
    from ember.distributed.nccl import NCCLEngine, nccl_module, new_unique_id
    from ember.distributed.store import FileStore

    nccl_module()  # a clear error without a GPU or NCCL

    if init_method is None:  # under mpirun: the id travels over MPI
        world = mpi_module().COMM_WORLD
        rank, world_size = world.Get_rank(), world.Get_size()
        _use_local_gpu(cupy_module())
        unique_id = np.array(new_unique_id() if rank == 0 else [0] * 128, dtype=np.int64)
        world.Bcast(unique_id, root=0)
    elif init_method.startswith("file://"):
        rank = int(os.environ.get("RANK", rank))
        world_size = int(os.environ.get("WORLD_SIZE", world_size))
        if rank < 0 or world_size < 1:
            raise ValueError("init_process_group: init_method='file://...' needs rank and "
                             "world_size (arguments or RANK and WORLD_SIZE)")
        _use_local_gpu(cupy_module())
        store = FileStore(init_method[len("file://"):], world_size)
        if rank == 0:
            unique_id = np.array(new_unique_id(), dtype=np.int64)
            store.set("nccl_unique_id", unique_id.tobytes())
        else:
            unique_id = np.frombuffer(store.get("nccl_unique_id", timeout), dtype=np.int64)
    else:
        raise ValueError(f"init_process_group: init_method {init_method!r} is not supported; "
                         "use None (under mpirun) or 'file:///path'")
    return NCCLEngine(rank, world_size, tuple(int(v) for v in unique_id))


def _use_local_gpu(cupy) -> None:
    """Makes this rank's GPU current: its local rank (from the launcher) modulo the GPU count."""
    local = os.environ.get("OMPI_COMM_WORLD_LOCAL_RANK", os.environ.get("LOCAL_RANK", "0"))
    cupy.cuda.Device(int(local) % cupy.cuda.runtime.getDeviceCount()).use()


def default_group(name: str, group=None) -> ProcessGroup:
    """The default group, checked usable, or the error PyTorch gives before initialisation.
    Ember has only the default group: ``group`` is None or that group."""
    if _group is None:
        raise ValueError(f"{name}: Default process group has not been initialized, please make "
                         "sure to call init_process_group.")
    if group is not None and group is not _group:
        raise ValueError(f"{name}: Ember supports only the default process group (group=None)")
    _group.check(name)
    return _group


def is_initialized() -> bool:
    return _group is not None


def get_rank(group=None) -> int:
    return default_group("get_rank", group).rank


def get_world_size(group=None) -> int:
    return default_group("get_world_size", group).world_size


def get_backend(group=None) -> str:
    return default_group("get_backend", group).backend


def destroy_process_group(group=None) -> None:
    """Ends the default process group (MPI itself stays initialised for the process's life)."""
    global _group
    if _group is None:
        raise ValueError("destroy_process_group: Default process group has not been initialized")
    group, _group = _group, None
    faults.uninstall()
    if group.broken is None:
        group.engine.shutdown()


def is_available() -> bool:
    return True


def is_mpi_available() -> bool:
    try:
        mpi_module()
    except ImportError:
        return False
    return True


def is_nccl_available() -> bool:
    from ember.backend.nccl import nccl_module

    return nccl_module() is not None
