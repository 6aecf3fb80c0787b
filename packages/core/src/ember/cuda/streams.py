"""CUDA streams and events, PyTorch's classes as thin layers over cupy's.

Ember's GPU ops run on cupy's current stream, so ``with ember.cuda.stream(s):`` sends the ops of
the block to ``s``.
"""

from __future__ import annotations

from ember.backend import Device, require_cupy
from ember.cuda._device import device_index


class Stream:
    """A CUDA stream on ``device`` (the current GPU by default). ``priority``: lower numbers run
    first, as CUDA's (0 is the default)."""

    def __init__(self, device=None, priority: int = 0, *, _cupy_stream=None) -> None:
        cupy = require_cupy("ember.cuda.Stream")
        self.device = Device("cuda", device_index(device, "ember.cuda.Stream"))
        if _cupy_stream is None:
            with cupy.cuda.Device(self.device.index):
                _cupy_stream = cupy.cuda.Stream(non_blocking=True, priority=priority or None)
        self.cupy_stream = _cupy_stream

    @property
    def cuda_stream(self) -> int:
        """The raw ``cudaStream_t`` handle."""
        return self.cupy_stream.ptr

    def query(self) -> bool:
        """True when all work queued on the stream has finished."""
        return self.cupy_stream.done

    def synchronize(self) -> None:
        """Waits until all work queued on the stream has finished."""
        self.cupy_stream.synchronize()

    def wait_event(self, event: Event) -> None:
        """Later work on this stream waits for ``event``."""
        self.cupy_stream.wait_event(event.cupy_event)

    def wait_stream(self, stream: Stream) -> None:
        """Later work on this stream waits for the work queued on ``stream`` so far."""
        self.wait_event(stream.record_event())

    def record_event(self, event: Event | None = None) -> Event:
        """Records ``event`` (a new one by default) on this stream and returns it."""
        event = event or Event()
        event.record(self)
        return event

    def __enter__(self) -> Stream:
        self.cupy_stream.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        self.cupy_stream.__exit__(*exc_info)

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and self.cuda_stream == other.cuda_stream

    def __hash__(self) -> int:
        return hash(self.cuda_stream)

    def __repr__(self) -> str:
        return f"<ember.cuda.Stream device={self.device} cuda_stream={self.cuda_stream:#x}>"


class Event:
    """A CUDA event: a marker in a stream to wait for or to time (``enable_timing=True``)."""

    def __init__(self, enable_timing: bool = False, blocking: bool = False,
                 interprocess: bool = False) -> None:
        cupy = require_cupy("ember.cuda.Event")
        self.cupy_event = cupy.cuda.Event(block=blocking, disable_timing=not enable_timing,
                                          interprocess=interprocess)

    def record(self, stream: Stream | None = None) -> None:
        """Marks the point reached by ``stream`` (the current one by default)."""
        self.cupy_event.record((stream or current_stream()).cupy_stream)

    def wait(self, stream: Stream | None = None) -> None:
        """Later work on ``stream`` (the current one by default) waits for this event."""
        (stream or current_stream()).wait_event(self)

    def query(self) -> bool:
        """True when the work before the event has finished."""
        return self.cupy_event.done

    def synchronize(self) -> None:
        """Waits until the work before the event has finished."""
        self.cupy_event.synchronize()

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds from this event to ``end_event`` (both recorded, with timing)."""
        cupy = require_cupy("ember.cuda.Event.elapsed_time")
        return cupy.cuda.get_elapsed_time(self.cupy_event, end_event.cupy_event)


def current_stream(device=None) -> Stream:
    """The stream ops on ``device`` (the current GPU by default) are sent to now."""
    cupy = require_cupy("ember.cuda.current_stream")
    index = device_index(device, "ember.cuda.current_stream")
    with cupy.cuda.Device(index):
        return Stream(index, _cupy_stream=cupy.cuda.get_current_stream())


def default_stream(device=None) -> Stream:
    """The legacy default (null) stream of ``device``."""
    cupy = require_cupy("ember.cuda.default_stream")
    return Stream(device_index(device, "ember.cuda.default_stream"),
                  _cupy_stream=cupy.cuda.Stream.null)


def set_stream(stream: Stream) -> None:
    """Makes ``stream`` the current one: later ops go to it (PyTorch advises the ``stream``
    context manager instead)."""
    if stream is not None:
        stream.cupy_stream.use()


class stream:  # noqa: N801  (PyTorch's name)
    """Within the block, ops go to ``stream``; None changes nothing."""

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream

    def __enter__(self) -> Stream | None:
        if self.stream is not None:
            self.stream.__enter__()
        return self.stream

    def __exit__(self, *exc_info) -> None:
        if self.stream is not None:
            self.stream.__exit__(*exc_info)
