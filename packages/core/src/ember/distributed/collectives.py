"""Collective and point-to-point operations on Ember tensors, as ``torch.distributed``'s.

Each works in place on the tensors it is given, on every rank of the default group. With
``async_op=True`` it returns a ``Work`` whose ``wait()`` blocks until the results are in the
tensors; otherwise it waits itself and returns None (``recv``: the sender's rank).
"""

from __future__ import annotations

from ember.distributed.process_group import ProcessGroup, default_group
from ember.distributed.reduce_op import ReduceOp
from ember.distributed.work import Work
from ember.tensor.tensor import Tensor


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Combines ``tensor`` across the ranks with ``op``; every rank gets the result in place."""
    name = "all_reduce"
    pg = _group(name, group, tensor)
    op = _reduce_op(op, name, tensor)
    engine_op = ReduceOp.SUM if op is ReduceOp.AVG else op
    test, finish = pg.engine.all_reduce(tensor, engine_op, name)
    if op is ReduceOp.AVG:
        finish = _then_divide(finish, tensor, pg.world_size)
    return _start(pg, test, finish, name, async_op)


def broadcast(tensor: Tensor, src: int, group=None, async_op: bool = False):
    """Copies rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    name = "broadcast"
    pg = _group(name, group, tensor)
    _check_rank(pg, src, "src", name)
    test, finish = pg.engine.broadcast(tensor, src, name)
    return _start(pg, test, finish, name, async_op)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """Fills ``tensor_list[r]`` with rank r's ``tensor``, on every rank."""
    name = "all_gather"
    pg = _group(name, group, tensor)
    _check_list(pg, tensor_list, tensor, "tensor_list", name)
    test, finish = pg.engine.all_gather(list(tensor_list), tensor, name)
    return _start(pg, test, finish, name, async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None,
                           async_op: bool = False):
    """``output_tensor`` (world size times ``input_tensor``'s first dimension) gets every
    rank's ``input_tensor``, concatenated in rank order."""
    name = "all_gather_into_tensor"
    pg = _group(name, group, input_tensor)
    parts = _split(pg, output_tensor, input_tensor, "output_tensor", name)
    return all_gather(parts, input_tensor, async_op=async_op)


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM, group=None,
                   async_op: bool = False):
    """Rank r's ``output`` gets ``input_list[r]`` combined across the ranks with ``op``."""
    name = "reduce_scatter"
    pg = _group(name, group, output)
    op = _reduce_op(op, name, output)
    _check_list(pg, input_list, output, "input_list", name)
    engine_op = ReduceOp.SUM if op is ReduceOp.AVG else op
    test, finish = pg.engine.reduce_scatter(output, list(input_list), engine_op, name)
    if op is ReduceOp.AVG:
        finish = _then_divide(finish, output, pg.world_size)
    return _start(pg, test, finish, name, async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group=None,
                          async_op: bool = False):
    """``reduce_scatter`` with the inputs as one tensor, split along its first dimension."""
    name = "reduce_scatter_tensor"
    pg = _group(name, group, output)
    parts = _split(pg, input, output, "input", name)
    return reduce_scatter(output, parts, op, async_op=async_op)


def barrier(group=None, async_op: bool = False, device_ids=None):
    """Returns once every rank has called it."""
    name = "barrier"
    pg = default_group(name, group)
    test, finish = pg.engine.barrier(name)
    return _start(pg, test, finish, name, async_op)


def isend(tensor: Tensor, dst: int, group=None, tag: int = 0) -> Work:
    name = "isend"
    pg = _group(name, group, tensor)
    _check_peer(pg, dst, "dst", name)
    test, finish = pg.engine.send(tensor, dst, tag, name)
    return Work(test, finish, name, pg)


def send(tensor: Tensor, dst: int, group=None, tag: int = 0) -> None:
    """Sends ``tensor`` to rank ``dst`` (which calls ``recv``)."""
    isend(tensor, dst, group, tag).wait()


def irecv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0) -> Work:
    return _irecv(tensor, src, group, tag, "irecv")[0]


def recv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0) -> int:
    """Receives into ``tensor`` from rank ``src`` (any rank when None); returns the sender."""
    work, sender = _irecv(tensor, src, group, tag, "recv")
    work.wait()
    return sender()


def _irecv(tensor, src, group, tag, name):
    pg = _group(name, group, tensor)
    if src is not None:
        _check_peer(pg, src, "src", name)
    test, finish, sender = pg.engine.recv(tensor, src, tag, name)
    return Work(test, finish, name, pg), sender


# ---- checks and plumbing -----------------------------------------------------------------------


def _group(name: str, group, tensor) -> ProcessGroup:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected an ember Tensor, got {type(tensor).__name__}")
    return default_group(name, group)


def _reduce_op(op, name: str, tensor: Tensor) -> ReduceOp:
    if not isinstance(op, ReduceOp):
        raise ValueError(f"{name}: op must be a ReduceOp (SUM, AVG, PRODUCT, MIN, MAX), got "
                         f"{op!r}")
    if op is ReduceOp.AVG and not tensor.is_floating_point():
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got "
                        f"{tensor.dtype}")
    return op


def _check_rank(pg: ProcessGroup, rank, what: str, name: str) -> None:
    if not isinstance(rank, int) or not 0 <= rank < pg.world_size:
        raise ValueError(f"{name}: {what}={rank!r} is not a rank of a world of "
                         f"{pg.world_size}")


def _check_peer(pg: ProcessGroup, rank, what: str, name: str) -> None:
    _check_rank(pg, rank, what, name)
    if rank == pg.rank:
        raise ValueError(f"{name}: {what}={rank} is this process's own rank")


def _check_list(pg: ProcessGroup, tensors, like: Tensor, what: str, name: str) -> None:
    if not isinstance(tensors, (list, tuple)) or len(tensors) != pg.world_size:
        count = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{name}: {what} must hold one tensor per rank ({pg.world_size}), "
                         f"got {count}")
    for index, item in enumerate(tensors):
        if not isinstance(item, Tensor) or item.shape != like.shape or item.dtype != like.dtype:
            got = (f"{tuple(item.shape)} {item.dtype}" if isinstance(item, Tensor)
                   else type(item).__name__)
            raise ValueError(f"{name}: {what}[{index}] is {got}, expected "
                             f"{tuple(like.shape)} {like.dtype}")


def _split(pg: ProcessGroup, whole: Tensor, part: Tensor, what: str, name: str) -> list:
    """``whole`` as world-size views along its first dimension, each shaped like ``part``."""
    if not isinstance(whole, Tensor):
        raise TypeError(f"{name}: expected an ember Tensor, got {type(whole).__name__}")
    expected = (part.shape[0] * pg.world_size, *part.shape[1:]) if part.ndim else None
    if expected is None or tuple(whole.shape) != expected or whole.dtype != part.dtype:
        raise ValueError(f"{name}: {what} is {tuple(whole.shape)} {whole.dtype}, expected "
                         f"{expected} {part.dtype} (world size {pg.world_size} times the other "
                         "tensor's first dimension)")
    return list(whole.detach().chunk(pg.world_size, 0))


def _then_divide(finish, tensor: Tensor, world_size: int):
    def divide():
        if finish is not None:
            finish()
        tensor._array /= world_size

    return divide


def _start(pg: ProcessGroup, test, finish, name: str, async_op: bool):
    work = Work(test, finish, name, pg)
    if async_op:
        return work
    work.wait()
    return None
