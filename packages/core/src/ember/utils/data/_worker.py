"""What runs inside a DataLoader worker process, and what it sends back."""

from __future__ import annotations

import multiprocessing.queues
import pickle
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker process."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info() -> WorkerInfo | None:
    """Information about the current DataLoader worker, or None in the main process.

    Use it in an ``IterableDataset`` to shard the stream, or in ``worker_init_fn``.
    """
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its traceback."""

    def __init__(self, where: str) -> None:
        exc_type, exc, tb = sys.exc_info()
        self.exc_type = exc_type if _picklable(exc_type) else RuntimeError
        self.message = (
            f"Caught {exc_type.__name__} {where}.\nOriginal "
            + "".join(traceback.format_exception(exc_type, exc, tb))
        )

    def reraise(self):
        try:
            error = self.exc_type(self.message)
        except Exception:  # an exception type that does not take one message argument
            error = RuntimeError(self.message)
        raise error


def _picklable(exc_type) -> bool:
    try:
        pickle.dumps(exc_type)  # a class pickles by reference: fails for one defined locally
    except Exception:
        return False
    return True


class ResultQueue(multiprocessing.queues.Queue):
    """The queue workers send ``(task_id, result)`` on.

    ``multiprocessing.Queue`` pickles in a background thread, and one that cannot pickle an item
    prints the error and drops the item: the main process would wait for it forever. Here the
    error itself is sent in its place, and the main process raises it.
    """

    def _on_queue_feeder_error(self, error, obj):
        if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], int):
            self.put((obj[0], ExceptionWrapper(
                f"in a DataLoader worker process while sending {type(obj[1]).__name__} to the "
                "main process (the batch or error could not be pickled)"
            )))
        else:
            super()._on_queue_feeder_error(error, obj)


class IterableEnd:
    """Sent by a worker whose copy of an IterableDataset is exhausted."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id


RESET = "reset"  # a task that restarts an IterableDataset's iterator (persistent workers)


def seed_everything(seed: int) -> None:
    """Seeds Python's, numpy's and Ember's generators in a worker."""
    from ember.tensor.random import manual_seed

    random.seed(seed)
    np.random.seed(seed % 2**32)
    manual_seed(seed)


def worker_loop(dataset, index_queue, result_queue, fetch, seed, worker_id, num_workers,
                worker_init_fn) -> None:
    """Fetches the batches the main process asks for until it sends None."""
    global _worker_info
    seed_everything(seed)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
        fetch.start()
    except Exception:
        init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
    while True:
        try:
            task = index_queue.get()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if task is None:
            return
        if task == RESET:
            fetch.start()
            continue
        task_id, indices = task
        if init_error is not None:
            result_queue.put((task_id, init_error))
            continue
        try:
            data = fetch(indices)
        except StopIteration:
            data = IterableEnd(worker_id)
        except Exception:
            data = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        result_queue.put((task_id, data))
