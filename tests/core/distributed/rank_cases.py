"""What every rank of a test launch runs: ``python rank_cases.py SUITE OUT_DIR``.

Each case checks its results on its own rank against numpy references, and every rank writes
``OUT_DIR/rank<r>.json``: case name -> "ok" or the traceback. The pytest side
(``test_*.py`` beside this file) starts the launch and reports each case as a test.
"""

from __future__ import annotations

import contextlib
import json
import sys
import traceback
from pathlib import Path

import numpy as np

import ember
import ember.distributed as dist
import ember.nn.functional as F
from ember import nn
from ember.nn.parallel import DistributedDataParallel
from ember.utils.data import DistributedSampler

CASES: dict = {}
OUT = Path(".")  # the launch's output folder, set by main()


def case(suite: str):
    def register(function):
        CASES.setdefault(suite, {})[function.__name__] = function
        return function

    return register


def rank_values(rank: int, shape=(2, 3), dtype="float32"):
    """A different, exactly representable array on each rank."""
    return (np.arange(np.prod(shape)).reshape(shape) % 5 + rank * 2 + 1).astype(dtype)


def all_ranks(shape=(2, 3), dtype="float32"):
    return [rank_values(r, shape, dtype) for r in range(dist.get_world_size())]


def check(actual, expected, **tolerance) -> None:
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), **tolerance)


# ---- collectives -------------------------------------------------------------------------------

REDUCTIONS = {
    dist.ReduceOp.SUM: lambda xs: np.sum(xs, axis=0),
    dist.ReduceOp.AVG: lambda xs: np.mean(xs, axis=0),
    dist.ReduceOp.PRODUCT: lambda xs: np.prod(xs, axis=0),
    dist.ReduceOp.MIN: lambda xs: np.min(xs, axis=0),
    dist.ReduceOp.MAX: lambda xs: np.max(xs, axis=0),
}


@case("collectives")
def all_reduce_every_op_and_dtype():
    rank = dist.get_rank()
    for dtype in ("float32", "float64", "float16", "int64", "int32", "uint8"):
        for op, reference in REDUCTIONS.items():
            if op is dist.ReduceOp.AVG and dtype[0] != "f":
                continue
            tensor = ember.tensor(rank_values(rank, dtype=dtype))
            assert dist.all_reduce(tensor, op) is None
            assert str(tensor.dtype).endswith(dtype), tensor.dtype
            # integers: exact int64 arithmetic, wrapped to the dtype as MPI's own overflows
            wide = "float64" if dtype[0] == "f" else "int64"
            check(tensor.numpy(), reference(all_ranks(dtype=wide)).astype(dtype))


@case("collectives")
def all_reduce_async_returns_a_work_handle():
    rank = dist.get_rank()
    tensors = [ember.tensor(rank_values(rank, (4,))) for _ in range(3)]
    works = [dist.all_reduce(t, async_op=True) for t in tensors]
    assert all(isinstance(w, dist.Work) for w in works)
    for work, tensor in zip(works, tensors):
        assert work.wait() is True and work.is_completed()
        check(tensor.numpy(), np.sum(all_ranks((4,)), axis=0))


@case("collectives")
def all_reduce_non_contiguous_view_writes_into_its_base():
    rank = dist.get_rank()
    base = ember.tensor(rank_values(rank, (3, 4)))
    view = base.t()  # a transposed view: staged and written back
    dist.all_reduce(view)
    check(base.numpy(), np.sum(all_ranks((3, 4)), axis=0))


@case("collectives")
def broadcast_from_every_source():
    rank, world = dist.get_rank(), dist.get_world_size()
    for src in range(world):
        tensor = ember.tensor(rank_values(rank, (5,), "float64"))
        dist.broadcast(tensor, src)
        check(tensor.numpy(), rank_values(src, (5,), "float64"))
    work = dist.broadcast(ember.tensor(rank_values(rank)), 0, async_op=True)
    assert work.wait()


@case("collectives")
def all_gather_and_all_gather_into_tensor():
    rank, world = dist.get_rank(), dist.get_world_size()
    outputs = [ember.zeros(2, 3) for _ in range(world)]
    dist.all_gather(outputs, ember.tensor(rank_values(rank)))
    for r, output in enumerate(outputs):
        check(output.numpy(), rank_values(r))
    whole = ember.zeros(2 * world, 3)
    dist.all_gather_into_tensor(whole, ember.tensor(rank_values(rank)))
    check(whole.numpy(), np.concatenate(all_ranks()))


@case("collectives")
def reduce_scatter_and_reduce_scatter_tensor():
    rank, world = dist.get_rank(), dist.get_world_size()
    # rank q's input for rank r: rank_values(q) + 10 r
    inputs = [ember.tensor(rank_values(rank) + 10 * r) for r in range(world)]
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX, dist.ReduceOp.AVG):
        output = ember.zeros(2, 3)
        dist.reduce_scatter(output, inputs, op)
        check(output.numpy(), REDUCTIONS[op]([v + 10 * rank for v in all_ranks()]))
    output = ember.zeros(2, 3)
    dist.reduce_scatter_tensor(output, ember.cat(inputs))
    check(output.numpy(), np.sum([v + 10 * rank for v in all_ranks()], axis=0))


@case("collectives")
def barrier_sync_and_async():
    assert dist.barrier() is None
    assert dist.barrier(async_op=True).wait()


@case("collectives")
def send_recv_around_a_ring():
    rank, world = dist.get_rank(), dist.get_world_size()
    right, left = (rank + 1) % world, (rank - 1) % world
    received = ember.zeros(4)
    works = [dist.isend(ember.tensor(rank_values(rank, (4,))), right),
             dist.irecv(received, left)]
    for work in works:
        work.wait()
    check(received.numpy(), rank_values(left, (4,)))
    # blocking: everyone sends to rank 0, which receives from any source
    if rank == 0:
        senders = set()
        for _ in range(world - 1):
            tensor = ember.zeros(4)
            sender = dist.recv(tensor)
            check(tensor.numpy(), rank_values(sender, (4,)))
            senders.add(sender)
        assert senders == set(range(1, world))
    else:
        dist.send(ember.tensor(rank_values(rank, (4,))), 0, tag=0)


@case("collectives")
def process_group_queries():
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    assert 0 <= dist.get_rank() < dist.get_world_size()
    assert dist.is_mpi_available()


@case("collectives")
def bad_arguments_raise_clear_errors():
    world = dist.get_world_size()
    errors = [
        (lambda: dist.all_gather([ember.zeros(2)], ember.zeros(2)), ValueError, "one tensor per"),
        (lambda: dist.all_gather([ember.zeros(3)] * world, ember.zeros(2)), ValueError,
         r"expected \(2,\)"),
        (lambda: dist.all_reduce(ember.ones(2, dtype=ember.int64), dist.ReduceOp.AVG),
         TypeError, "floating-point"),
        (lambda: dist.all_reduce(ember.ones(2, dtype=ember.bool)), TypeError, "dtype"),
        (lambda: dist.all_reduce(np.ones(2)), TypeError, "ember Tensor"),
        (lambda: dist.all_reduce(ember.ones(2), "sum"), ValueError, "ReduceOp"),
        (lambda: dist.broadcast(ember.ones(2), world), ValueError, "src"),
        (lambda: dist.send(ember.ones(2), dist.get_rank()), ValueError, "own rank"),
        (lambda: dist.all_gather_into_tensor(ember.zeros(3), ember.zeros(2)), ValueError,
         "world size"),
        (lambda: dist.init_process_group("mpi"), RuntimeError, "twice"),
        (lambda: dist.get_rank(group="other"), ValueError, "default process group"),
    ]
    import pytest

    for call, kind, message in errors:
        with pytest.raises(kind, match=message):
            call()


@case("collectives")
def distributed_sampler_covers_the_dataset_once_per_epoch():
    rank, world = dist.get_rank(), dist.get_world_size()
    for size in (20, 23):  # divisible by 2 and 4 or not
        for drop_last in (False, True):
            orders = []
            for epoch in range(2):
                sampler = DistributedSampler(range(size), seed=3, drop_last=drop_last)
                sampler.set_epoch(epoch)
                mine = list(sampler)
                assert len(mine) == len(sampler)
                counts = ember.zeros(size, dtype=ember.int64)
                for index in mine:
                    counts[index] += 1
                dist.all_reduce(counts)
                counts = counts.numpy()
                if size % world == 0:
                    assert (counts == 1).all(), counts  # exactly once
                elif drop_last:
                    assert counts.max() == 1 and counts.sum() == world * (size // world)
                else:  # padded by repeating the start: every sample at least once
                    assert counts.min() == 1 and counts.sum() == world * -(-size // world)
                everyone = [ember.zeros(len(mine), dtype=ember.int64) for _ in range(world)]
                dist.all_gather(everyone, ember.tensor(mine))
                orders.append([e.tolist() for e in everyone])
            assert orders[0] != orders[1]  # set_epoch reshuffles, identically on every rank
    assert rank == dist.get_rank()


# ---- DistributedDataParallel -------------------------------------------------------------------


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc1 = nn.Linear(4 * 3 * 3, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def seeded(factory, seed: int):
    ember.manual_seed(seed)
    return factory()


def global_batches(steps: int, per_rank: int):
    """The same full batches on every rank: (images, labels) of world * per_rank samples."""
    rng = np.random.default_rng(7)
    world = dist.get_world_size()
    return [(ember.tensor(rng.normal(size=(world * per_rank, 1, 8, 8)).astype("float32")),
             ember.tensor(rng.integers(0, 3, world * per_rank))) for _ in range(steps)]


def shard(batch, per_rank: int):
    rank = dist.get_rank()
    return [item[rank * per_rank:(rank + 1) * per_rank] for item in batch]


def assert_same_parameters(a, b) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        check(q.detach().numpy(), p.detach().numpy(), rtol=2e-5, atol=2e-6, err_msg=name)


def train_equal_to_single_process(bucket_cap_mb):
    per_rank = 4
    reference = seeded(SmallCNN, 0)
    # every rank starts from different weights: DDP's broadcast makes rank 0's everyone's
    local = seeded(SmallCNN, 0 if dist.get_rank() == 0 else 100 + dist.get_rank())
    model = DistributedDataParallel(local, bucket_cap_mb=bucket_cap_mb)
    opt_ref = ember.optim.Adam(reference.parameters(), lr=1e-2)
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    for images, labels in global_batches(5, per_rank):
        opt_ref.zero_grad()
        F.cross_entropy(reference(images), labels).backward()
        opt_ref.step()
        x, y = shard((images, labels), per_rank)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert_same_parameters(reference, model.module)
    return model


@case("ddp")
def ddp_equals_single_process_on_the_concatenated_batch():
    model = train_equal_to_single_process(None)
    assert len(model._buckets) == 1  # 25 MB holds this model


@case("ddp")
def ddp_with_many_small_buckets_equals_single_process():
    model = train_equal_to_single_process(1e-6)  # a byte: one bucket per parameter
    buckets = [[id(p) for p in b.params] for b in model._buckets]
    assert buckets == [[id(p)] for p in reversed(list(model.parameters()))]


@case("ddp")
def buckets_start_during_backward_in_order():
    starts = []  # per bucket started: (its index, whether conv.weight's grad exists yet)

    class Watched(DistributedDataParallel):
        def _launch_ready(self):
            first = self._next
            super()._launch_ready()
            starts.extend((index, self.module.conv.weight.grad is not None)
                          for index in range(first, self._next))

    model = Watched(seeded(SmallCNN, 0), bucket_cap_mb=1e-6)
    x, y = shard(global_batches(1, 2)[0], 2)
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    assert [index for index, _ in starts] == list(range(len(model._buckets)))
    assert starts[0] == (0, False)  # fc2's bucket left before the conv's gradient existed
    assert starts[-1] == (len(model._buckets) - 1, True)


@case("ddp")
def ddp_state_dict_has_the_module_prefix():
    model = DistributedDataParallel(nn.Linear(2, 2))
    assert list(model.state_dict()) == ["module.weight", "module.bias"]


@case("ddp")
def no_sync_accumulates_locally_then_averages_the_sum():
    per_rank = 3
    reference = seeded(SmallCNN, 1)
    model = DistributedDataParallel(seeded(SmallCNN, 1))
    batches = global_batches(3, per_rank)
    for images, labels in batches:  # reference: full-batch gradients, summed
        F.cross_entropy(reference(images), labels).backward()
    with model.no_sync():
        for batch in batches[:2]:
            x, y = shard(batch, per_rank)
            F.cross_entropy(model(x), y).backward()
    grads = model.module.fc2.weight.grad.clone()
    everyone = [ember.zeros_like(grads) for _ in range(dist.get_world_size())]
    dist.all_gather(everyone, grads)
    assert not np.allclose(everyone[0].numpy(), everyone[1].numpy())  # not averaged yet
    x, y = shard(batches[2], per_rank)
    F.cross_entropy(model(x), y).backward()
    for (name, p), q in zip(reference.named_parameters(), model.module.parameters()):
        check(q.grad.numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


class Branchy(nn.Module):
    """``extra`` is used on rank 0 only; ``never`` by no rank."""

    def __init__(self) -> None:
        super().__init__()
        self.main = nn.Linear(3, 2)
        self.extra = nn.Linear(3, 2)
        self.never = nn.Linear(3, 2)

    def forward(self, x):
        out = self.main(x)
        return out + self.extra(x) if dist.get_rank() == 0 else out


@case("ddp")
def find_unused_parameters_averages_what_was_used():
    world = dist.get_world_size()
    model = DistributedDataParallel(seeded(Branchy, 2), find_unused_parameters=True)
    x = ember.ones(4, 3) * (dist.get_rank() + 1)
    for _ in range(2):  # twice: stale bucket contents must not leak into the second backward
        model.zero_grad()
        model(x).sum().backward()
    assert model.module.never.weight.grad is None  # no rank used it
    # extra: rank 0's gradient (4 rows of ones, weight grad 4 per entry) averaged with zeros
    check(model.module.extra.weight.grad.numpy(), np.full((2, 3), 4.0 / world))
    # main: the average of 4 (r + 1) over the ranks
    expected = np.mean([4.0 * (r + 1) for r in range(world)])
    check(model.module.main.weight.grad.numpy(), np.full((2, 3), expected))


@case("ddp")
def buffers_are_broadcast_from_rank_0_at_each_forward():
    model = DistributedDataParallel(nn.BatchNorm1d(3))  # momentum 0.1
    x = rank_values(dist.get_rank(), (4, 3))
    model(ember.tensor(x)).sum().backward()
    model(ember.tensor(x))  # starts from rank 0's running mean, then adds this rank's batch
    rank0_after_first = 0.1 * rank_values(0, (4, 3)).mean(0)
    check(model.module.running_mean.numpy(), 0.9 * rank0_after_first + 0.1 * x.mean(0),
          rtol=1e-6)


@case("ddp")
def checkpoint_written_by_rank_0_loads_on_every_rank():
    model = DistributedDataParallel(seeded(SmallCNN, dist.get_rank() + 10))
    path = OUT / "checkpoint.safetensors"
    if dist.get_rank() == 0:
        ember.save({"model": model.module.state_dict()}, path)
    dist.barrier()
    assert sorted(p.name for p in OUT.iterdir() if "checkpoint" in p.name) == [path.name]
    restored = SmallCNN()
    restored.load_state_dict(ember.load(path)["model"])
    assert_same_parameters(model.module, restored)  # rank 0's weights, everywhere


@case("ddp")
def zz_unused_parameter_without_the_flag_raises():
    import pytest

    model = DistributedDataParallel(seeded(Branchy, 2))
    with pytest.raises(RuntimeError, match="find_unused_parameters=True"):
        model(ember.ones(2, 3)).sum().backward()


# ---- a world of one (plain python, no mpirun) --------------------------------------------------


@case("single")
def world_of_one_collectives_are_identities():
    assert dist.get_world_size() == 1 and dist.get_rank() == 0
    tensor = ember.tensor([1.0, 2.0])
    dist.all_reduce(tensor, dist.ReduceOp.AVG)
    check(tensor.numpy(), [1.0, 2.0])
    outputs = [ember.zeros(2)]
    dist.all_gather(outputs, tensor)
    check(outputs[0].numpy(), [1.0, 2.0])
    dist.barrier()


@case("single")
def world_of_one_ddp_trains_as_the_plain_module():
    reference = seeded(SmallCNN, 3)
    model = DistributedDataParallel(seeded(SmallCNN, 3), bucket_cap_mb=0.001)
    for images, labels in global_batches(3, 4):
        for net in (reference, model):
            net.zero_grad()
            F.cross_entropy(net(images), labels).backward()
        for p, q in zip(reference.parameters(), model.module.parameters()):
            check(q.grad.numpy(), p.grad.numpy(), rtol=1e-6)


@case("single")
def buckets_hold_parameters_in_reverse_order_within_the_cap():
    model = DistributedDataParallel(SmallCNN(), bucket_cap_mb=600 / 2**20)  # 600 bytes
    params = list(reversed(list(model.module.parameters())))
    flat = [p for bucket in model._buckets for p in bucket.params]
    assert [id(p) for p in flat] == [id(p) for p in params]
    for bucket in model._buckets:
        size = sum(p.numel() * 4 for p in bucket.params)
        assert size <= 600 or len(bucket.params) == 1


@case("single")
def destroy_then_init_again():
    import pytest

    dist.destroy_process_group()
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="disagrees"):
        dist.init_process_group("mpi", world_size=3)
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="timeout must be positive"):
        dist.init_process_group("mpi", timeout=0)
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="nccl backend needs cupy"):
            dist.init_process_group("nccl", init_method="file:///nonexistent", rank=0,
                                    world_size=1)
    dist.init_process_group("mpi", timeout=5)
    assert dist.get_world_size() == 1


def main() -> None:
    global OUT
    suite, out = sys.argv[1], Path(sys.argv[2])
    OUT = out
    dist.init_process_group("mpi", timeout=30)
    results = {}
    for name, function in CASES[suite].items():
        try:
            with contextlib.redirect_stdout(sys.stderr):
                function()
            results[name] = "ok"
        except Exception:  # reported to pytest, which fails the case's test
            results[name] = traceback.format_exc()
    (out / f"rank{dist.get_rank()}.json").write_text(json.dumps(results))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
