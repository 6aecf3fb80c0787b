"""``Work``: the handle of an operation started with ``async_op=True``.

Completion is polled (``MPI_Test`` or a CUDA event) against the process group's deadline, so a
peer that died or hangs turns into a ``DistBackendError`` instead of a wait forever. Polling also
drives MPI's progress: Open MPI moves a non-blocking collective forward only inside MPI calls.
"""

from __future__ import annotations

import time

# Poll without sleeping this long first: MPI moves a transfer on only while polled, so a sleep
# between polls adds its length to every round of a collective (measured on 2 ranks, 0.9 MB:
# 0.3 ms spinning, 2-3.5 ms with 0.5 ms sleeps; a blocking MPI_Allreduce 0.18 ms). Longer waits
# (a slow peer, a checkpoint on rank 0) then sleep, so a waiting rank does not hold a core.
_SPIN_SECONDS = 0.2
_MAX_SLEEP = 1e-3


class Work:
    """A started operation: ``wait()`` blocks until it completed (then its results are in the
    tensors), ``is_completed()`` asks without blocking."""

    def __init__(self, test, finish, name: str, group) -> None:
        self._test = test  # () -> bool: has the engine finished?
        self._finish = finish  # () -> None: copies results back, once; may be None
        self._name = name
        self._group = group
        self._done = False

    def is_completed(self) -> bool:
        if not self._done and self._test():
            self._complete()
        return self._done

    def wait(self, timeout=None) -> bool:
        """Blocks until the operation completed; raises ``DistBackendError`` after ``timeout``
        (a ``timedelta`` or seconds; default: the process group's)."""
        if self._done:
            return True
        limit = self._group.timeout if timeout is None else _seconds(timeout)
        start = time.monotonic()
        deadline = start + limit
        pause = 2e-5
        while not self._test():
            now = time.monotonic()
            if now > deadline:
                self._group.fail(
                    f"{self._name}: did not complete within the timeout of {limit:g} s on rank "
                    f"{self._group.rank} of {self._group.world_size} (a peer rank failed, was "
                    "killed or hangs, or the ranks called different collectives)"
                )
            if now - start > _SPIN_SECONDS:
                time.sleep(pause)
                pause = min(pause * 2, _MAX_SLEEP)
        self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()
            self._finish = None


def _seconds(timeout) -> float:
    seconds = timeout.total_seconds() if hasattr(timeout, "total_seconds") else float(timeout)
    if seconds <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    return seconds
