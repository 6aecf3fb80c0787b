"""How tensors cross process boundaries: by a file descriptor of their shared-memory segment.

Registered with ``multiprocessing.reduction.ForkingPickler``, the pickler that ``multiprocessing``
uses for process arguments and queues (not ``pickle`` itself, so ``ember.save`` and plain pickling
are unaffected).
"""

from __future__ import annotations

from multiprocessing.reduction import DupFd, ForkingPickler

from ember.backend import shared
from ember.nn.parameter import Parameter
from ember.tensor.tensor import Tensor


def rebuild_tensor(cls, handle, offset: int, shape: tuple, strides: tuple, dtype: str,
                   requires_grad: bool) -> Tensor:
    """The receiving side: a tensor over the same shared memory as the sender's."""
    array = shared.open_shared(handle.detach(), offset, shape, strides, dtype)
    if cls is Parameter:
        return Parameter(Tensor(array), requires_grad)
    tensor = Tensor(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def reduce_tensor(tensor: Tensor):
    """The sending side: moves ``tensor`` to shared memory (as PyTorch) and passes a descriptor
    of the segment (``DupFd``: handed over at process start, or served by the sender's resource
    sharer to a queue's receiver, so the memory outlives the sender's own tensor)."""
    if tensor.grad_fn is not None:
        raise RuntimeError(
            "Cowardly refusing to serialize non-leaf tensor which requires_grad, since autograd "
            "does not support crossing process boundaries. If you just want to transfer the "
            "data, call detach() on the tensor before serializing (e.g., putting it on the queue)."
        )
    if tensor.is_cuda:  # no CUDA IPC: by value
        return tensor.__reduce_ex__(2)
    array = tensor.share_memory_()._array
    fd, offset = shared.segment_of(array)
    return rebuild_tensor, (type(tensor), DupFd(fd), offset, array.shape, array.strides,
                            array.dtype.str, tensor.requires_grad)


def init_reductions() -> None:
    """Registers the reducers (done once, on importing ``ember.multiprocessing``)."""
    for cls in (Tensor, Parameter):
        ForkingPickler.register(cls, reduce_tensor)
