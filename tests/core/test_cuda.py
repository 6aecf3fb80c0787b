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
    assert ember.cuda.device_count() == 0 and ember.cuda.current_device() == 0
    assert ember.cuda.memory_allocated() == ember.cuda.memory_reserved() == 0
    assert ember.cuda.max_memory_allocated() == 0
    ember.cuda.reset_peak_memory_stats()
    ember.cuda.synchronize()
    ember.cuda.empty_cache()
    with ember.cuda.stream(None):  # switches nothing
        pass
    for make in (ember.cuda.Stream, ember.cuda.Event, ember.cuda.current_stream,
                 ember.cuda.get_device_name):
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            make()


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
