"""``ember.multiprocessing``: Python's ``multiprocessing``, with tensors passed through shared
memory, as ``torch.multiprocessing``.

Everything of ``multiprocessing`` is here (``Process``, ``Queue``, ``Pool``, ``get_context``,
``set_start_method`` ...). A CPU tensor sent to another process (as a ``Process`` argument under
the ``spawn`` or ``forkserver`` start methods, or through a ``Queue``) is moved to shared memory
first (``Tensor.share_memory_()``) and the receiver maps the same memory: writes on either side
are seen by both (through a queue, the sender must still run when the receiver takes the
tensor, as in PyTorch). That is what Hogwild training needs: ``model.share_memory()``, then several
processes train the one model. Gradients are not shared (each process has its own). CUDA tensors
are sent by value (Ember has no CUDA IPC).

Pickling here is only between processes of one program, never to or from files.

Example:
    >>> import ember.multiprocessing as mp
    >>> model = ember.nn.Linear(2, 1).share_memory()
    >>> model.weight.is_shared()
    True
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F403  (Process, Queue, Pool, get_context ...)

from ember.multiprocessing.reductions import init_reductions
from ember.multiprocessing.spawn import ProcessExitedException, ProcessRaisedException, spawn

__all__ = [*multiprocessing.__all__, "ProcessExitedException", "ProcessRaisedException",
           "get_all_sharing_strategies", "get_sharing_strategy", "set_sharing_strategy", "spawn"]

init_reductions()

# PyTorch's two strategies. Ember passes descriptors of unlinked files either way (nothing can
# leak under /dev/shm), so the choice is recorded for scripts that set it and changes nothing.
_STRATEGIES = {"file_descriptor", "file_system"}
_strategy = ["file_descriptor"]


def get_all_sharing_strategies() -> set:
    """PyTorch's strategy names, both accepted: ``{'file_descriptor', 'file_system'}``."""
    return set(_STRATEGIES)


def get_sharing_strategy() -> str:
    """The strategy last set (``'file_descriptor'`` by default, as PyTorch's on Linux)."""
    return _strategy[0]


def set_sharing_strategy(new_strategy: str) -> None:
    """Records ``new_strategy`` (Ember always shares by descriptor; ``'file_system'``, which
    scripts set to avoid running out of descriptors, is accepted and changes nothing)."""
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"set_sharing_strategy: unknown strategy {new_strategy!r}; expected one "
                         f"of {sorted(_STRATEGIES)}")
    _strategy[0] = new_strategy
