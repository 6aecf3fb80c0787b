"""What the emulated GPU has been asked to do: launches (counted by name), and host
synchronisations, which raise inside ``cupyx.allow_synchronize(False)`` and are logged to the
file ``EMULATED_GPU_SYNC_LOG`` names, if any."""

import os
import traceback

LOG = os.environ.get("EMULATED_GPU_SYNC_LOG")
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

launches: dict = {}
# This GPU never finishes queued work on its own: an event counts as done only once the host has
# waited after recording it (every synchronisation starts a new epoch), and a stream is idle only
# when nothing was launched since the last wait.
epoch = [0]
pending = [False]
# cupyx.allow_synchronize(False) nesting depth: synchronising raises while it is above 0.
forbidden = [0]


class DeviceSynchronized(RuntimeError):  # noqa: N818 (CuPy's name)
    """Raised by a synchronisation inside ``cupyx.allow_synchronize(False)``, as CuPy's."""


def count(name: str) -> None:
    launches[name] = launches.get(name, 0) + 1
    pending[0] = True


def sync(what: str) -> None:
    """The host waits for the device (it reads device values, or synchronizes)."""
    if forbidden[0]:
        raise DeviceSynchronized(f"emulated GPU: synchronizing ({what}) inside "
                                 "cupyx.allow_synchronize(False)")
    epoch[0] += 1
    pending[0] = False
    if LOG:
        _log(what)


def _log(what: str) -> None:
    frames = [f for f in traceback.extract_stack()[:-3] if "/packages/" in f.filename
              and not f.filename.startswith(_HERE)]
    where = "-"
    if frames:
        last = frames[-1]
        where = f"{last.filename.split('/packages/')[-1]}:{last.lineno}:{last.name}"
    callers = " < ".join(f.name for f in reversed(frames[-6:]))
    test = os.environ.get("PYTEST_CURRENT_TEST", "-")
    with open(LOG, "a") as log:
        log.write(f"{what}\t{where}\t{callers}\t{test}\n")
