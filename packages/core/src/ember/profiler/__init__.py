"""``ember.profiler``: where the time goes, op by op, as ``torch.profiler``.

``with ember.profiler.profile() as prof:`` records every primitive op (by its registry name), every
backward node (``MulBackward0``) and every ``record_function`` range, on every thread, through
``ember.autograd.observe``. ``prof.key_averages().table(...)`` prints them per name and
``prof.export_chrome_trace(path)`` writes a trace for Perfetto or chrome://tracing.

Differences from PyTorch, on purpose: times are wall-clock times of the Python calls (there is no
separate device timeline; ``ProfilerActivity.CUDA`` synchronises the GPU after each op instead),
memory, stacks, FLOPs and modules are not recorded, and ``ProfilerStep#N`` ranges are recorded
only with a schedule.
"""

from ember.profiler.events import EventList, FunctionEvent, FunctionEventAvg
from ember.profiler.profile import (
    ProfilerAction,
    ProfilerActivity,
    profile,
    schedule,
    tensorboard_trace_handler,
)
from ember.profiler.recorder import record_function

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "ProfilerAction", "ProfilerActivity",
           "profile", "record_function", "schedule", "tensorboard_trace_handler"]
