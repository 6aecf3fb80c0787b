"""The NCCL engine (``cupy.cuda.nccl``): collectives between GPUs, one GPU per rank.

Operations run on a communication stream of their own that first waits for the work already
queued on the current stream, so a gradient all-reduce overlaps the rest of backward; a CUDA
event recorded after the operation tells when it completed. The ranks share NCCL's unique id
through MPI (under ``mpirun``) or through a store (``init_method="file://..."``).
"""

from __future__ import annotations

from ember.backend import cupy_module
from ember.backend.nccl import nccl_module as _nccl_or_none
from ember.distributed.reduce_op import ReduceOp
from ember.distributed.staging import buffer_of, finisher, write_back


def nccl_module():
    """``cupy.cuda.nccl``, or an error that says what is missing."""
    nccl = _nccl_or_none()
    if nccl is None:
        raise RuntimeError(
            "ember.distributed's nccl backend needs cupy built with NCCL and a CUDA GPU"
        )
    return nccl


def new_unique_id() -> tuple:
    return nccl_module().get_unique_id()


class NCCLEngine:
    name = "nccl"

    def __init__(self, rank: int, world_size: int, unique_id: tuple) -> None:
        self.cupy = cupy_module()
        self.nccl = nccl = nccl_module()
        self.rank, self.world_size = rank, world_size
        self.comm = nccl.NcclCommunicator(world_size, unique_id, rank)
        self.stream = self.cupy.cuda.Stream(non_blocking=True)
        self._ops = {ReduceOp.SUM: nccl.NCCL_SUM, ReduceOp.PRODUCT: nccl.NCCL_PROD,
                     ReduceOp.MIN: nccl.NCCL_MIN, ReduceOp.MAX: nccl.NCCL_MAX}
        self._types = {"float16": nccl.NCCL_FLOAT16, "float32": nccl.NCCL_FLOAT32,
                       "float64": nccl.NCCL_FLOAT64, "int8": nccl.NCCL_INT8,
                       "uint8": nccl.NCCL_UINT8, "int32": nccl.NCCL_INT32,
                       "int64": nccl.NCCL_INT64}

    def all_reduce(self, tensor, op: ReduceOp, name: str):
        buffer, staged = self._buffer(tensor, name)
        return self._run(lambda s: self.comm.allReduce(
            buffer.data.ptr, buffer.data.ptr, buffer.size, self._type(buffer), self._ops[op], s),
            finisher(staged, tensor, buffer))

    def broadcast(self, tensor, src: int, name: str):
        buffer, staged = self._buffer(tensor, name)
        return self._run(lambda s: self.comm.broadcast(
            buffer.data.ptr, buffer.data.ptr, buffer.size, self._type(buffer), src, s),
            finisher(staged, tensor, buffer))

    def all_gather(self, outputs: list, tensor, name: str):
        send, _ = self._buffer(tensor, name)
        gathered = self.cupy.empty((self.world_size,) + send.shape, send.dtype)

        def finish():
            for output, part in zip(outputs, gathered):
                write_back(output, part)

        return self._run(lambda s: self.comm.allGather(
            send.data.ptr, gathered.data.ptr, send.size, self._type(send), s), finish)

    def reduce_scatter(self, output, inputs: list, op: ReduceOp, name: str):
        received, staged = self._buffer(output, name)
        for item in inputs:
            self._buffer(item, name)  # checks device and dtype
        send = self.cupy.stack([item._array for item in inputs])
        return self._run(lambda s: self.comm.reduceScatter(
            send.data.ptr, received.data.ptr, received.size, self._type(received),
            self._ops[op], s), finisher(staged, output, received))

    def barrier(self, name: str):
        token = self.cupy.zeros(1, "float32")
        return self._run(lambda s: self.comm.allReduce(
            token.data.ptr, token.data.ptr, 1, self.nccl.NCCL_FLOAT32, self.nccl.NCCL_SUM, s),
            None)

    def send(self, tensor, dst: int, tag: int, name: str):
        buffer, _ = self._buffer(tensor, name)
        return self._run(lambda s: self.comm.send(
            buffer.data.ptr, buffer.size, self._type(buffer), dst, s), None)

    def recv(self, tensor, src, tag: int, name: str):
        if src is None:
            raise ValueError(f"{name}: the nccl backend needs src (NCCL cannot receive from "
                             "any source)")
        buffer, staged = self._buffer(tensor, name)
        test, finish = self._run(lambda s: self.comm.recv(
            buffer.data.ptr, buffer.size, self._type(buffer), src, s),
            finisher(staged, tensor, buffer))
        return test, finish, lambda: src

    def shutdown(self) -> None:
        self.comm.destroy()

    def abort(self) -> None:
        """Aborts the communicator: operations in flight end with an error instead of hanging."""
        self.comm.abort()

    def _run(self, launch, finish):
        """Starts ``launch(stream_ptr)`` on the communication stream after the work queued so
        far on the current stream; returns (test, finish)."""
        cuda = self.cupy.cuda
        ready = cuda.Event(disable_timing=True)
        ready.record(cuda.get_current_stream())
        self.stream.wait_event(ready)
        launch(self.stream.ptr)
        done = cuda.Event(disable_timing=True)
        done.record(self.stream)

        def complete():
            cuda.get_current_stream().wait_event(done)
            if finish is not None:
                finish()

        return (lambda: done.done), complete

    def _type(self, array):
        return self._types[array.dtype.name]

    def _buffer(self, tensor, name: str):
        array = tensor._array
        if not isinstance(array, self.cupy.ndarray):
            raise RuntimeError(
                f"{name}: the nccl backend needs CUDA tensors, got a tensor on "
                f"{tensor.device} (shape {tuple(tensor.shape)})"
            )
        if array.dtype.name not in self._types:
            raise TypeError(
                f"{name}: the nccl backend does not support tensors of dtype {tensor.dtype} "
                f"(shape {tuple(tensor.shape)}); supported: " + ", ".join(self._types)
            )
        return buffer_of(tensor, lambda a: a.flags.c_contiguous, self.cupy.ascontiguousarray)
