"""A rank that raises takes the whole job down instead of leaving its peers waiting.

An uncaught exception would otherwise end only its own process (or block it in MPI's
finalisation) while the other ranks wait in a collective. While a process group spans several
ranks, the exception hook prints the traceback as usual and then aborts the MPI job, as
``python -m mpi4py`` does: ``mpirun`` then ends every rank.
"""

from __future__ import annotations

import sys

_previous_hook = None


def install() -> None:
    global _previous_hook
    if _previous_hook is None:
        _previous_hook = sys.excepthook
        sys.excepthook = _abort_on_uncaught


def uninstall() -> None:
    global _previous_hook
    if _previous_hook is not None:
        sys.excepthook = _previous_hook
        _previous_hook = None


def _abort_on_uncaught(kind, value, traceback) -> None:
    _previous_hook(kind, value, traceback)
    abort_job(1)


def abort_job(code: int) -> None:
    """Aborts the MPI job this process belongs to, if it is one of several ranks."""
    MPI = sys.modules.get("mpi4py.MPI")  # noqa: N806 (mpi4py's module name)
    if MPI is None or not MPI.Is_initialized() or MPI.Is_finalized():
        return
    if MPI.COMM_WORLD.Get_size() > 1:
        sys.stderr.flush()
        MPI.COMM_WORLD.Abort(code)
