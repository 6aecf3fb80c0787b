"""Work the GPU finishes later, without making the host wait for it.

Reading a value the GPU computes (``.item()``, ``bool()``, an ``if`` on it) makes the host wait
for every kernel queued before it: a host synchronisation, which a training step must not do.
Two things here avoid it:

- ``check_extremes``: a check of an array's smallest and largest values (index bounds, class
  targets, probabilities in [0, 1]). On the CPU it runs at once. On a GPU the two values are
  copied asynchronously into page-locked host memory and checked once they have arrived: at a
  later check or at ``ember.cuda.synchronize()``. The error then names the op that failed but
  surfaces at a later call, as PyTorch's device-side asserts do (and, as there, the results
  computed from the bad values are not to be trusted).
- ``keep_until_done``: holds a host buffer that an asynchronous copy still reads, so that the
  pinned memory pool cannot hand it out again before the copy is over.

Both queue a CUDA event recorded on the current stream after the work, per thread; entries
leave the queue, oldest first, once their event has completed (``settle``).
"""

from __future__ import annotations

import collections
import threading

import numpy as np

_local = threading.local()

# Added to an error found after its op returned: where it came from and why it is late.
_LATE_NOTE = ("(found on the GPU after the op had returned: Ember checks values there without "
              "waiting for them, as PyTorch's device-side asserts do; the error surfaces at a "
              "later check or at ember.cuda.synchronize())")


def _queue() -> collections.deque:
    queue = getattr(_local, "queue", None)
    if queue is None:
        queue = _local.queue = collections.deque()
    return queue


def check_extremes(array, failure) -> None:
    """Raises ``failure(smallest, largest)`` when that returns an exception, ``smallest`` and
    ``largest`` being the extreme values of the non-empty ``array`` as Python numbers: at once
    for a numpy array, once the values have reached the host for a cupy one (see the module's
    docstring)."""
    if type(array) is np.ndarray:
        error = failure(array.min().item(), array.max().item())
        if error is not None:
            raise error
        return
    settle()
    import cupy
    import cupyx

    with array.device:
        extremes = cupy.empty(2, dtype=array.dtype)
        array.min(out=extremes[0])
        array.max(out=extremes[1])
        host = cupyx.empty_pinned(2, dtype=array.dtype)
        extremes.data.copy_to_host_async(host.ctypes.data, extremes.nbytes)
        _record(cupy, (host, extremes), failure)


def keep_until_done(buffer) -> None:
    """Holds ``buffer`` until the work queued so far on the current stream has finished."""
    settle()
    import cupy

    _record(cupy, buffer, None)


def _record(cupy, held, failure) -> None:
    done = cupy.cuda.Event(disable_timing=True)
    done.record()
    _queue().append((done, held, failure))


def settle() -> None:
    """Lets go of the entries whose work has finished, oldest first (without waiting), and
    raises the first error their checks find."""
    queue = getattr(_local, "queue", None)
    error = None
    while queue and queue[0][0].done:
        _, held, failure = queue.popleft()
        if failure is not None and error is None:
            error = failure(*held[0].tolist())
    if error is not None:
        error.add_note(_LATE_NOTE)
        raise error
