"""``profile``: PyTorch's profiler context manager, its step schedule and trace handler."""

from __future__ import annotations

import gzip
import os
import socket
import time
from enum import Enum

from ember import cuda
from ember.profiler.events import EventList, write_chrome_trace
from ember.profiler.recorder import Recorder


class ProfilerActivity(Enum):
    """What to profile. ``CPU``: every op's wall time. ``CUDA``: the same, with the GPU
    synchronised after each op and backward node so that an op's time includes its kernels
    (Ember keeps no separate device timeline)."""

    CPU = "cpu"
    CUDA = "cuda"


class ProfilerAction(Enum):
    """What the profiler does during one step of a schedule."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0):
    """A step schedule, as ``torch.profiler.schedule``: after ``skip_first`` steps, cycles of
    ``wait`` idle steps, ``warmup`` steps recorded and thrown away, then ``active`` recorded
    steps whose results go to ``on_trace_ready``; ``repeat`` cycles (0: until the loop ends).

    Example:
        >>> [schedule(wait=1, warmup=1, active=2)(step).name for step in range(4)]
        ['NONE', 'WARMUP', 'RECORD', 'RECORD_AND_SAVE']
    """
    if min(wait, warmup, repeat, skip_first) < 0 or active <= 0:
        raise ValueError(f"schedule: expected wait, warmup, repeat, skip_first >= 0 and "
                         f"active > 0, got wait={wait}, warmup={warmup}, active={active}, "
                         f"repeat={repeat}, skip_first={skip_first}")
    cycle = wait + warmup + active

    def action(step: int) -> ProfilerAction:
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        place = step % cycle
        if place < wait:
            return ProfilerAction.NONE
        if place < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if place < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return action


def _always_record(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


_RECORDING = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)


class profile:  # noqa: N801  (PyTorch's name)
    """Records every op (forward, and backward nodes separately) run inside it.

    Args:
        activities: ``ProfilerActivity`` values (default ``[CPU]``); with ``CUDA`` and a GPU,
            each op and backward node is followed by a device synchronisation, so its time
            includes the work it queued (slower, but per-op GPU times are right).
        schedule: a callable from the step number to a ``ProfilerAction`` (see ``schedule``);
            steps are counted by ``prof.step()``. Without one, everything is recorded.
        on_trace_ready: called with the profiler at the end of each recorded cycle (with a
            schedule) or at the end (without), e.g. ``tensorboard_trace_handler(dir)``.
        record_shapes: keep each op's input shapes (``key_averages(group_by_input_shape=True)``).
        profile_memory, with_stack, with_flops, with_modules: PyTorch's options for what
            Ember does not record; only False is accepted.

    While no profiler runs, ops pay nothing for it: the observer is installed only while
    recording (and warming up), never during a schedule's ``wait`` steps.

    Example:
        >>> x = ember.ones(3, requires_grad=True)
        >>> with ember.profiler.profile() as prof:
        ...     (x * x).sum().backward()
        >>> [(avg.key, avg.count) for avg in prof.key_averages()]
        [('mul', 1), ('sum', 1), ('SumBackward0', 1), ('MulBackward0', 1)]
        >>> table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
    """

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes: bool = False, profile_memory: bool = False,
                 with_stack: bool = False, with_flops: bool = False,
                 with_modules: bool = False) -> None:
        unsupported = {"profile_memory": profile_memory, "with_stack": with_stack,
                       "with_flops": with_flops, "with_modules": with_modules}
        asked = [name for name, value in unsupported.items() if value]
        if asked:
            raise ValueError(f"profile: Ember's profiler does not record {', '.join(asked)}; "
                             "pass False (times and input shapes are what it records)")
        activities = set([ProfilerActivity.CPU] if activities is None else activities)
        strange = [a for a in activities if not isinstance(a, ProfilerActivity)]
        if strange:
            raise TypeError(f"profile: activities must be ProfilerActivity values, got {strange}")
        self.activities = activities
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.step_num = 0
        self.current_action = ProfilerAction.NONE
        self._recorder: Recorder | None = None
        self._step_range = None
        self._events: EventList | None = None

    # ---- the schedule ---------------------------------------------------------------------------

    def start(self) -> None:
        """Starts profiling (what entering the ``with`` block does)."""
        self.step_num = 0
        self._enter_step(ProfilerAction.NONE)

    def step(self) -> None:
        """Marks the end of a step of a scheduled loop."""
        previous = self.current_action
        self._close_step_range()
        self.step_num += 1
        self._enter_step(previous)

    def stop(self) -> None:
        """Stops profiling; a cycle still recording is finished (``on_trace_ready`` runs)."""
        self._close_step_range()
        if self.current_action in _RECORDING:
            self._finish_cycle()
        elif self._recorder is not None:
            self._discard()
        self.current_action = ProfilerAction.NONE

    def _enter_step(self, previous: ProfilerAction) -> None:
        action = (self.schedule or _always_record)(self.step_num)
        if previous in _RECORDING and (previous is ProfilerAction.RECORD_AND_SAVE
                                       or action not in _RECORDING):
            self._finish_cycle()
        elif previous is ProfilerAction.WARMUP and action is ProfilerAction.NONE:
            self._discard()
        if action is not ProfilerAction.NONE and self._recorder is None:
            self._recorder = Recorder(self.record_shapes, self._synchronizer())
            self._recorder.start()
        if previous is ProfilerAction.WARMUP and action in _RECORDING:
            self._recorder.events.clear()  # warm-up results are thrown away
        self.current_action = action
        if self.schedule is not None and self._recorder is not None:
            self._step_range = self._recorder.open(f"ProfilerStep#{self.step_num}", "user", [])

    def _close_step_range(self) -> None:
        if self._step_range is not None:
            self._recorder.close(self._step_range)
            self._step_range = None

    def _synchronizer(self):
        if ProfilerActivity.CUDA in self.activities and cuda.is_available():
            return cuda.synchronize
        return None

    def _discard(self) -> None:
        self._recorder.stop()
        self._recorder = None

    def _finish_cycle(self) -> None:
        recorder = self._recorder
        recorder.stop()
        self._recorder = None
        self._events = EventList(sorted(recorder.events, key=lambda event: event.start_ns))
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ---- results --------------------------------------------------------------------------------

    def events(self) -> EventList:
        """The ``FunctionEvent``s of the last recorded cycle, in order of their start.

        Raises:
            RuntimeError: before any cycle has finished.
        """
        if self._events is None:
            raise RuntimeError("profile: no results yet; they are ready when the profiler stops "
                               "or, with a schedule, after a cycle's last active step")
        return self._events

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """The events averaged per name (and input shapes); see ``EventList.table``."""
        return self.events().key_averages(group_by_input_shape)

    def export_chrome_trace(self, path: str | os.PathLike) -> None:
        """Writes the last cycle as a Chrome trace JSON (Perfetto, chrome://tracing)."""
        write_chrome_trace(self.events(), path)

    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def tensorboard_trace_handler(dir_name: str | os.PathLike, worker_name: str | None = None,
                              use_gzip: bool = False):
    """An ``on_trace_ready`` that writes each cycle's Chrome trace into ``dir_name`` as
    ``<worker_name>.<time_ns>.pt.trace.json`` (``.gz`` with ``use_gzip``); ``worker_name``
    defaults to ``<host>_<pid>``."""

    def handler(prof: profile) -> None:
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(dir_name, f"{worker}.{time.time_ns()}.pt.trace.json")
        prof.export_chrome_trace(path)
        if use_gzip:
            with open(path, "rb") as plain, gzip.open(path + ".gz", "wb") as packed:
                packed.write(plain.read())
            os.remove(path)

    return handler
