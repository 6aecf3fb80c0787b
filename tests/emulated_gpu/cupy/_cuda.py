"""``cupy.cuda`` of the emulated GPU: one device, streams and events over the synchronisation
model of ``_launches``, the runtime calls Ember makes, memory hooks and page-locked ranges."""

import sys
import time
import types
import weakref

from cupy import _launches
from cupy._array import POOL, Device, MemoryPointer


def module(name, **attrs):
    """A submodule registered in sys.modules (``import cupy.cuda.runtime`` works)."""
    made = types.ModuleType(name)
    made.__dict__.update(attrs)
    sys.modules[name] = made
    return made


class CUDARuntimeError(RuntimeError):
    pass


class Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._timing = not disable_timing
        self._time = None
        self._epoch = None
        self.ptr = id(self)

    def record(self, stream=None):
        self._time = time.perf_counter()
        self._epoch = _launches.epoch[0]

    @property
    def done(self):
        return self._epoch is None or _launches.epoch[0] > self._epoch

    def synchronize(self):
        _launches.sync("event.synchronize")


class Stream:
    _stack: list = []
    _next_handle = [0x1000]

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        if null:
            self.ptr = 0
        else:
            Stream._next_handle[0] += 0x100
            self.ptr = Stream._next_handle[0]
        self.priority = priority or 0
        self.is_non_blocking = non_blocking

    def __enter__(self):
        Stream._stack.append(self)
        return self

    def __exit__(self, *exc):
        Stream._stack.pop()
        return False

    def use(self):
        Stream._stack[:] = [self]
        return self

    @property
    def done(self):
        return not _launches.pending[0]

    def synchronize(self):
        _launches.sync("stream.synchronize")

    def wait_event(self, event):
        pass

    def record(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, Stream) and other.ptr == self.ptr

    def __hash__(self):
        return hash(self.ptr)


Stream.null = Stream(null=True)


def get_current_stream(device_id=-1):
    return Stream._stack[-1] if Stream._stack else Stream.null


def get_elapsed_time(start_event, end_event):
    if not (start_event._timing and end_event._timing):
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: invalid resource handle")
    if start_event._time is None or end_event._time is None:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: event not recorded")
    return (end_event._time - start_event._time) * 1000.0


class MemoryHook:
    """cupy.cuda.memory_hook.MemoryHook: the pool calls ``malloc_postprocess`` of the hooks
    entered."""

    name = "MemoryHook"

    def __enter__(self):
        POOL.hooks.append(self)
        return self

    def __exit__(self, *exc):
        POOL.hooks.remove(self)

    def malloc_preprocess(self, **kwargs):
        pass

    def malloc_postprocess(self, **kwargs):
        pass

    def free_preprocess(self, **kwargs):
        pass

    def free_postprocess(self, **kwargs):
        pass


_pinned_ranges: dict = {}


def pin(array):
    """Records ``array`` (a host array) as page-locked until it is freed."""
    start = array.ctypes.data
    key = id(array)
    _pinned_ranges[key] = (start, start + max(array.nbytes, 1))
    weakref.finalize(array, _pinned_ranges.pop, key, None)


def is_memory_pinned(data):
    return any(low <= data < high for low, high in list(_pinned_ranges.values()))


_current_device = [0]


def _set_device(index):
    if index != 0:
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")
    _current_device[0] = index


runtime = module(
    "cupy.cuda.runtime", getDeviceCount=lambda: 1, getDevice=lambda: _current_device[0],
    setDevice=_set_device, CUDARuntimeError=CUDARuntimeError,
    deviceSynchronize=lambda: _launches.sync("deviceSynchronize"),
    memGetInfo=lambda: Device(0).mem_info,
    getDeviceProperties=lambda index: {"name": b"Emulated GPU (tests/emulated_gpu)",
                                       "totalGlobalMem": 80 * 2**30, "major": 9, "minor": 0,
                                       "multiProcessorCount": 132},
    runtimeGetVersion=lambda: 13000, driverGetVersion=lambda: 13000, is_hip=False)
cuda = module(
    "cupy.cuda", Device=Device, Stream=Stream, Event=Event, MemoryPointer=MemoryPointer,
    get_current_stream=get_current_stream, get_elapsed_time=get_elapsed_time, runtime=runtime,
    memory_hook=module("cupy.cuda.memory_hook", MemoryHook=MemoryHook),
    pinned_memory=module("cupy.cuda.pinned_memory", is_memory_pinned=is_memory_pinned),
    curand=module("cupy.cuda.curand", CURAND_RNG_PSEUDO_PHILOX4_32_10=161,
                  CURAND_RNG_PSEUDO_XORWOW=101, CURAND_RNG_PSEUDO_MRG32K3A=121),
    nccl=module("cupy.cuda.nccl", available=False),
    memory=module("cupy.cuda.memory", OutOfMemoryError=MemoryError, MemoryPointer=MemoryPointer),
    is_available=lambda: True, OutOfMemoryError=MemoryError)
cuda.__path__ = []
