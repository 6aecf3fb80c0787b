"""``DistributedDataParallel``: one model replica per process, gradients averaged across them.

At construction the parameters and buffers of rank 0 are broadcast to every rank, so all
replicas start equal. The parameters that require grad are packed, in reverse order (about the
order backward produces their gradients), into buckets of at most ``bucket_cap_mb`` megabytes.
A post-accumulate-grad hook copies each gradient, divided by the world size, into its bucket;
once every gradient of a bucket is in, the bucket's sum over the ranks starts asynchronously and
travels while backward computes the remaining gradients. A final callback of the backward waits
for all buckets and copies the averages back into ``.grad``, so after ``loss.backward()``
every rank holds the same gradients, as PyTorch's.

Differences from PyTorch: the module must already be on its device (``device_ids`` is accepted
for compatibility and not used); there is no ``join()`` for uneven inputs.
"""

from __future__ import annotations

import contextlib

from ember import distributed as dist
from ember.autograd import grad_mode
from ember.autograd.engine import queue_callback
from ember.backend import xp_of
from ember.nn.modules.module import Module
from ember.tensor.tensor import Tensor


class _Bucket:
    """Parameters whose gradients travel together in one flat buffer."""

    def __init__(self, params: list) -> None:
        self.params = params
        self.slices = []
        start = 0
        for param in params:
            self.slices.append((start, start + param.numel()))
            start += param.numel()
        first = params[0]._array
        self.flat = xp_of(first).zeros(start, dtype=first.dtype)
        self.missing = len(params)  # gradients not yet copied in during this backward
        self.work = None


class DistributedDataParallel(Module):
    """Data-parallel training across the processes of the default process group.

    Each process runs the same script on its own share of the data (see
    ``ember.utils.data.DistributedSampler``); after ``backward`` the gradients are averaged
    over the processes, so identical optimizer steps keep the replicas identical.
    ``find_unused_parameters=True`` lets a forward leave some parameters out of the loss (their
    gradients count as zero on that rank; a parameter no rank used keeps ``grad`` None);
    without it such a backward raises. ``no_sync()`` skips the averaging, for gradient
    accumulation.

    In a script run by ``python -m ember.distributed.run --nproc-per-node 2 train.py``::

        dist.init_process_group("mpi")
        model = nn.parallel.DistributedDataParallel(net)
        F.cross_entropy(model(x), y).backward()   # .grad: the average over the ranks
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False
                 ) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise ValueError("DistributedDataParallel: Default process group has not been "
                             "initialized, please make sure to call init_process_group.")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("DistributedDataParallel: device_ids can only be None or contain a "
                             f"single element, got {device_ids}")
        self.module = module
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.process_group = process_group
        self.find_unused_parameters = find_unused_parameters
        self.bucket_cap_mb = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        self.require_backward_grad_sync = True
        self.world_size = dist.get_world_size(process_group)
        if init_sync:
            for tensor in [*module.parameters(), *module.buffers()]:
                dist.broadcast(tensor, 0, process_group)
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._names = {id(p): n for n, p in module.named_parameters() if p.requires_grad}
        self._buckets = _make_buckets(self._params, self.bucket_cap_mb * 2**20)
        self._place = {}  # id(param) -> (bucket, its slice)
        for bucket in self._buckets:
            for param, span in zip(bucket.params, bucket.slices):
                self._place[id(param)] = (bucket, span)
        self._sync_now = False  # the current backward averages gradients
        self._active = False  # a backward's reduction is under way
        self._next = 0  # index of the next bucket to launch (buckets launch in order)
        self._used = set()  # ids of parameters that got a gradient in this backward
        self._handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                         for p in self._params]

    def forward(self, *inputs, **kwargs):
        self._sync_now = self.require_backward_grad_sync and grad_mode.is_grad_enabled()
        if self._sync_now and self.broadcast_buffers and self.world_size > 1:
            for buffer in self.module.buffers():
                dist.broadcast(buffer, 0, self.process_group)
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backwards of forwards run inside the block only accumulate gradients locally; the
        first backward after it averages the accumulated sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ---- the reduction, driven by backward ---------------------------------------------------

    def _grad_ready(self, param: Tensor) -> None:
        if not self._sync_now:
            return
        if not self._active:
            self._active = True
            self._next = 0
            self._used.clear()
            for bucket in self._buckets:
                bucket.missing = len(bucket.params)
            queue_callback(self._finish_reduction)
        bucket, (start, stop) = self._place[id(param)]
        grad = param.grad._array
        xp_of(grad).multiply(grad.reshape(-1), 1.0 / self.world_size, out=bucket.flat[start:stop])
        self._used.add(id(param))
        bucket.missing -= 1
        if bucket.missing == 0:
            self._launch_ready()
        else:
            self._progress()

    def _launch_ready(self) -> None:
        """Starts the all-reduce of every complete bucket not yet started, in bucket order (all
        ranks must start collectives in the same order)."""
        buckets = self._buckets
        while self._next < len(buckets) and buckets[self._next].missing == 0:
            bucket = buckets[self._next]
            bucket.work = dist.all_reduce(Tensor(bucket.flat), group=self.process_group,
                                          async_op=True)
            self._next += 1
        self._progress()

    def _progress(self) -> None:
        """Lets the engine move the started all-reduces forward (MPI progresses inside calls)."""
        for bucket in self._buckets[:self._next]:
            bucket.work.is_completed()

    def _finish_reduction(self) -> None:
        self._active = False
        self._sync_now = False
        unused = [p for p in self._params if id(p) not in self._used]
        if unused and not self.find_unused_parameters:
            names = ", ".join(self._names[id(p)] for p in unused[:8])
            raise RuntimeError(
                f"DistributedDataParallel: {len(unused)} parameter(s) received no gradient in "
                f"this backward ({names}); pass find_unused_parameters=True if some parameters "
                "are not used in producing the loss"
            )
        for param in unused:  # count as zero on this rank
            bucket, (start, stop) = self._place[id(param)]
            bucket.flat[start:stop] = 0
            bucket.missing = 0
        self._launch_ready()
        used_anywhere = self._used_anywhere(unused) if unused else None
        for bucket in self._buckets:
            bucket.work.wait()
            bucket.work = None
            for param, (start, stop) in zip(bucket.params, bucket.slices):
                average = bucket.flat[start:stop].reshape(param._array.shape)
                if param.grad is not None:
                    param.grad._array[...] = average
                elif used_anywhere[id(param)]:
                    param.grad = Tensor(average.copy())

    def _used_anywhere(self, unused: list) -> dict:
        """For each parameter unused here, whether any rank used it (one small all-reduce)."""
        flags = Tensor(xp_of(self._buckets[0].flat).asarray(
            [0 if id(p) not in self._used else 1 for p in self._params], dtype="int32"))
        dist.all_reduce(flags, dist.ReduceOp.MAX, self.process_group)
        return {id(p): bool(flag) for p, flag in zip(self._params, flags.tolist())}


def _make_buckets(params: list, cap_bytes: float) -> list:
    """Parameters in reverse order, cut into runs of one dtype and device of at most
    ``cap_bytes`` (a parameter larger than the cap gets a bucket of its own)."""
    buckets, current, size = [], [], 0
    for param in reversed(params):
        array = param._array
        fits = (current and size + array.nbytes <= cap_bytes
                and current[0]._array.dtype == array.dtype
                and type(current[0]._array) is type(array))
        if current and not fits:
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append(param)
        size += array.nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets
