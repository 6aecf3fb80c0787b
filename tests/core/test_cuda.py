"""``ember.cuda``: devices, memory figures, streams and events, as PyTorch's.

Without a GPU, PyTorch's answers: nothing available, memory figures 0, ``synchronize`` a no-op,
and what needs a GPU (streams, events, properties) an error. The cuda-marked tests run where cupy
sees a GPU (``make test-gpu``).
"""

import numpy as np
import pytest

import ember

HAS_GPU = ember.cuda.is_available()


@pytest.mark.skipif(HAS_GPU, reason="PyTorch's answers without a GPU")
def test_without_a_gpu_figures_are_zero_and_gpu_objects_raise():
    assert not ember.cuda.is_available() and ember.cuda.device_count() == 0
    assert ember.cuda.memory_allocated() == ember.cuda.memory_reserved() == 0
    assert ember.cuda.max_memory_allocated() == ember.cuda.max_memory_reserved() == 0
    ember.cuda.reset_peak_memory_stats()
    ember.cuda.synchronize()
    ember.cuda.empty_cache()
    ember.cuda.manual_seed(1)  # silently ignored, as PyTorch's
    ember.cuda.manual_seed_all(1)
    ember.cuda.set_device(-1)  # a negative index is a no-op
    with ember.cuda.stream(None), ember.cuda.device(None):  # switch nothing
        pass
    for make in (ember.cuda.Stream, ember.cuda.Event, ember.cuda.current_stream,
                 ember.cuda.default_stream, ember.cuda.get_device_name,
                 ember.cuda.current_device, ember.cuda.mem_get_info,
                 lambda: ember.cuda.set_device(0), lambda: ember.cuda.device(0).__enter__()):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            make()


@pytest.mark.skipif(HAS_GPU, reason="PyTorch's answers without a GPU")
def test_without_a_gpu_nothing_is_pinned_and_pinning_raises():
    x = ember.arange(4.0)
    assert not x.is_pinned()
    with pytest.raises(RuntimeError, match="pin_memory: CUDA is not available"):
        x.pin_memory()


def test_non_blocking_is_accepted_and_a_host_copy_is_complete(device):
    x = ember.arange(6.0).reshape(2, 3)
    moved = x.to(device, non_blocking=True)
    assert moved.device == device
    assert x.to(device, True).device == device  # PyTorch's positional non_blocking
    assert x.to(device, ember.float64, True).dtype == ember.float64
    target = ember.zeros(2, 3, device=device)
    target.copy_(x, non_blocking=True)
    back = target.to("cpu", non_blocking=True)  # to the host: complete when it returns
    np.testing.assert_array_equal(back.numpy(), x.numpy())


def test_pin_batch_walks_nested_batches_as_pytorch():
    import collections

    from ember.utils.data.dataloader import pin_batch

    class Pinnable:
        def __init__(self, value):
            self.value, self.pinned = value, False

        def pin_memory(self):
            pinned = Pinnable(self.value)
            pinned.pinned = True
            return pinned

    class Frozen(collections.abc.Mapping):  # a mapping its type cannot rebuild from a dict
        def __init__(self, **items):
            self.items_ = items

        def __getitem__(self, key):
            return self.items_[key]

        def __iter__(self):
            return iter(self.items_)

        def __len__(self):
            return len(self.items_)

    Pair = collections.namedtuple("Pair", "left right")
    counts = collections.defaultdict(int, a=Pinnable(1))
    batch = {"pair": Pair(Pinnable(2), "text"), "list": [Pinnable(3), 4], "tuple": (Pinnable(5),),
             "counts": counts, "frozen": Frozen(x=Pinnable(6)), "ordered":
             collections.OrderedDict(b=Pinnable(7)), "bytes": b"raw"}
    pinned = pin_batch(batch)
    assert isinstance(pinned["pair"], Pair) and pinned["pair"].left.pinned
    assert pinned["pair"].right == "text" and pinned["bytes"] == b"raw"
    assert pinned["list"][0].pinned and pinned["list"][1] == 4
    assert type(pinned["tuple"]) is tuple and pinned["tuple"][0].pinned
    assert type(pinned["counts"]) is collections.defaultdict and pinned["counts"]["a"].pinned
    assert pinned["counts"]["missing"] == 0 and not counts["a"].pinned  # the original intact
    assert type(pinned["frozen"]) is dict and pinned["frozen"]["x"].pinned
    assert type(pinned["ordered"]) is collections.OrderedDict and pinned["ordered"]["b"].pinned


def test_a_cpu_device_is_refused_where_a_gpu_is_named():
    with pytest.raises(ValueError, match="set_device: expected a cuda device, got cpu"):
        ember.cuda.set_device("cpu")


@pytest.mark.cuda
def test_device_queries_and_switching():
    props = ember.cuda.get_device_properties(0)
    assert props.name == ember.cuda.get_device_name() and props.total_memory > 2**30
    assert ember.cuda.get_device_capability() == (props.major, props.minor)
    with ember.cuda.device(0):
        assert ember.cuda.current_device() == 0
    ember.cuda.set_device("cuda:0")
    assert ember.cuda.current_device() == 0


@pytest.mark.cuda
def test_memory_figures_follow_tensors_and_the_peak_survives_their_release():
    ember.cuda.empty_cache()
    ember.cuda.reset_peak_memory_stats()
    before = ember.cuda.memory_allocated()
    x = ember.empty(1024, 1024, device="cuda")  # 4 MiB
    assert ember.cuda.memory_allocated() - before >= x.nbytes
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    del x
    assert ember.cuda.memory_allocated() == before
    assert ember.cuda.max_memory_allocated() - before >= 4 * 2**20
    ember.cuda.reset_peak_memory_stats()
    assert ember.cuda.max_memory_allocated() == before


@pytest.mark.cuda
def test_ops_in_a_side_stream_are_ordered_by_events():
    side = ember.cuda.Stream()
    start, end = ember.cuda.Event(enable_timing=True), ember.cuda.Event(enable_timing=True)
    x = ember.ones(512, 512, device="cuda")
    outer = ember.cuda.current_stream()
    side.wait_stream(outer)
    with ember.cuda.stream(side):
        assert ember.cuda.current_stream() == side
        start.record()
        y = (x @ x).sum()
        end.record()
    ember.cuda.current_stream().wait_stream(side)
    end.synchronize()
    assert end.query() and side.query()
    assert start.elapsed_time(end) >= 0.0
    np.testing.assert_allclose(y.item(), 512.0**3)
    assert ember.cuda.current_stream() == outer != side


@pytest.mark.cuda
def test_reserved_peak_free_memory_and_seeding():
    ember.cuda.reset_peak_memory_stats()
    x = ember.empty(4 * 2**20, device="cuda")  # 16 MiB
    assert ember.cuda.max_memory_reserved() >= ember.cuda.memory_reserved() >= x.nbytes
    free, total = ember.cuda.mem_get_info()
    assert 0 < free < total == ember.cuda.get_device_properties().total_memory
    del x
    ember.cuda.empty_cache()
    assert ember.cuda.max_memory_reserved() >= 16 * 2**20 > ember.cuda.memory_reserved()
    ember.cuda.manual_seed(7)
    first = ember.rand(5, device="cuda").cpu().numpy()
    ember.cuda.manual_seed_all(7)
    np.testing.assert_array_equal(ember.rand(5, device="cuda").cpu().numpy(), first)


@pytest.mark.cuda
def test_set_stream_sends_later_ops_to_it():
    outer = ember.cuda.current_stream()
    side = ember.cuda.Stream()
    ember.cuda.set_stream(side)
    try:
        assert ember.cuda.current_stream() == side
        y = ember.ones(3, device="cuda") * 2
    finally:
        ember.cuda.set_stream(outer)
    side.synchronize()
    assert ember.cuda.current_stream() == outer
    np.testing.assert_array_equal(y.cpu().numpy(), [2.0, 2.0, 2.0])
