"""DataLoader: batches from a dataset, in the main process or in worker processes."""

from __future__ import annotations

import collections.abc
import copy
import itertools
import multiprocessing
import queue
import time
import warnings

from ember.backend import cuda_available
from ember.tensor import Tensor
from ember.utils.data import _worker
from ember.utils.data._fetch import IterableFetcher, MapFetcher
from ember.utils.data.collate import default_collate, default_convert
from ember.utils.data.dataset import IterableDataset
from ember.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    _draw_seed,
)

_POLL_SECONDS = 0.5  # how often a waiting main process checks that its workers are alive


class DataLoader:
    """Iterates over a dataset in batches, as ``torch.utils.data.DataLoader``.

    With ``num_workers > 0`` batches are made in worker processes (each seeded with
    ``base_seed + worker_id``, the base drawn from Ember's default generator or ``generator`` at
    every epoch) and delivered in order; an exception in a worker is re-raised here with the
    worker's traceback (the iterator then goes on with the next batches, as PyTorch's), a batch
    or exception that cannot be pickled raises, and a worker that dies raises instead of
    hanging. The shuffle order does not depend on ``num_workers``.

    Example:
        >>> from ember.utils.data import DataLoader, TensorDataset
        >>> loader = DataLoader(TensorDataset(ember.arange(10)), batch_size=4)
        >>> [batch[0].tolist() for batch in loader]
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "") -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.is_iterable = isinstance(dataset, IterableDataset)
        if self.is_iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 "and batch_sampler options")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not self.is_iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self.is_iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.collate_fn = collate_fn or (default_collate if self._auto_collation
                                         else default_convert)
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = 2 if num_workers and prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        self._workers_iterator = None
        if pin_memory and not cuda_available():
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=2)
            self.pin_memory = False

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self.is_iterable and self.batch_size is not None)

    def _fetcher(self):
        if self.is_iterable:
            return IterableFetcher(self.dataset, self._auto_collation, self.collate_fn,
                                   self.batch_size, self.drop_last)
        return MapFetcher(self.dataset, self._auto_collation, self.collate_fn)

    def _index_stream(self):
        """What each task fetches: index lists (or single indices), or None for iterables."""
        if self.is_iterable:
            return itertools.repeat(None)
        return iter(self.batch_sampler if self._auto_collation else self.sampler)

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIterator(self)
        if self.persistent_workers:
            if self._workers_iterator is None:
                self._workers_iterator = _MultiProcessIterator(self)
            else:
                self._workers_iterator.reset()
            return self._workers_iterator
        return _MultiProcessIterator(self)

    def __len__(self) -> int:
        if self.is_iterable:
            length = len(self.dataset)
            if self.batch_size is None:
                return length
            if self.drop_last:
                return length // self.batch_size
            return -(-length // self.batch_size)
        return len(self.batch_sampler if self._auto_collation else self.sampler)


def pin_batch(data):
    """A (nested) batch with every tensor copied into page-locked host memory, as PyTorch's
    ``pin_memory`` walks it: tensors (``Tensor.pin_memory``) and objects with a
    ``pin_memory()`` method of their own, inside mappings (their type kept where it can be
    rebuilt, else a dict), namedtuples, tuples and other sequences (their type kept where it
    can be rebuilt, else a list); strings, bytes and anything else as they are."""
    if isinstance(data, Tensor):
        return data if data.is_cuda else data.pin_memory()
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        pinned = {key: pin_batch(value) for key, value in data.items()}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)  # keeps a defaultdict's factory, an OrderedDict's order
            clone.update(pinned)
            return clone
        try:
            return type(data)(pinned)
        except TypeError:
            return pinned
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # a namedtuple
        return type(data)(*(pin_batch(value) for value in data))
    if isinstance(data, collections.abc.Sequence):
        pinned = [pin_batch(value) for value in data]
        try:
            return pinned if type(data) is list else type(data)(pinned)
        except TypeError:
            return pinned
    if hasattr(data, "pin_memory"):
        return data.pin_memory()
    return data


class _SingleProcessIterator:
    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        # Drawn and unused, as PyTorch does: the generator is then in the same state when the
        # sampler draws as with workers (which take their base seed from it first), so the
        # shuffle order does not depend on num_workers.
        _draw_seed(loader.generator)
        self.indices = loader._index_stream()
        self.fetch = loader._fetcher()
        self.fetch.start()

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self.loader)

    def __next__(self):
        indices = next(self.indices)
        data = self.fetch(indices)
        return pin_batch(data) if self.loader.pin_memory else data


class _MultiProcessIterator:
    """Keeps ``prefetch_factor`` tasks per worker in flight and returns results in order."""

    def __init__(self, loader: DataLoader) -> None:
        self.loader = loader
        context = loader.multiprocessing_context
        if context is None or isinstance(context, str):
            context = multiprocessing.get_context(context)
        self.result_queue = _worker.ResultQueue(ctx=context)
        self.index_queues = []
        self.workers = []
        base_seed = _draw_seed(loader.generator)
        fetch = loader._fetcher()
        for worker_id in range(loader.num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            process = context.Process(
                target=_worker.worker_loop,
                args=(loader.dataset, index_queue, self.result_queue, fetch,
                      base_seed + worker_id, worker_id, loader.num_workers,
                      loader.worker_init_fn),
                daemon=True,
            )
            process.start()
            self.index_queues.append(index_queue)
            self.workers.append(process)
        self.shut = False
        self._start_epoch(first=True)

    def _start_epoch(self, first: bool) -> None:
        if not first and self.loader.is_iterable:
            for index_queue in self.index_queues:
                index_queue.put(_worker.RESET)
        self.indices = self.loader._index_stream()
        self.active = list(range(len(self.workers)))  # workers whose stream is not exhausted
        self.next_worker = itertools.cycle(range(len(self.workers)))
        self.send_idx = 0
        self.rcvd_idx = 0
        self.task_worker: dict = {}
        self.results: dict = {}
        self.exhausted = False
        for _ in range(self.loader.prefetch_factor * len(self.workers)):
            self._send()

    def reset(self) -> None:
        """Starts a new epoch on the same (persistent) workers."""
        self._drain()
        self._start_epoch(first=False)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self.loader)

    def _send(self) -> None:
        if self.exhausted or not self.active:
            return
        try:
            indices = next(self.indices)
        except StopIteration:
            self.exhausted = True
            return
        worker = next(self.next_worker)
        while worker not in self.active:
            worker = next(self.next_worker)
        self.index_queues[worker].put((self.send_idx, indices))
        self.task_worker[self.send_idx] = worker
        self.send_idx += 1

    def __next__(self):
        while True:
            if self.rcvd_idx == self.send_idx:
                self._finish_epoch()
                raise StopIteration
            if self.rcvd_idx in self.results:
                data = self.results.pop(self.rcvd_idx)
                self.task_worker.pop(self.rcvd_idx)
                self.rcvd_idx += 1
                if isinstance(data, _worker.IterableEnd):
                    if data.worker_id in self.active:
                        self.active.remove(data.worker_id)
                    continue
                self._send()
                if isinstance(data, _worker.ExceptionWrapper):
                    data.reraise()  # the workers keep going: so can the caller, as in PyTorch
                return pin_batch(data) if self.loader.pin_memory else data
            task_id, data = self._receive()
            self.results[task_id] = data

    def _receive(self):
        timeout = self.loader.timeout
        started = time.monotonic()
        while True:
            try:
                return self.result_queue.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                pass
            except (OSError, EOFError):
                # A batch in shared memory (ember.multiprocessing) whose worker died before
                # handing over its file descriptor cannot be rebuilt (the handover socket is
                # refused, or closes mid-handshake: EOFError): report the dead worker (its
                # socket closes a moment before its exit status is there to see).
                deadline = time.monotonic() + 1.0
                while all(w.is_alive() for w in self.workers) and time.monotonic() < deadline:
                    time.sleep(0.01)
                if all(w.is_alive() for w in self.workers):
                    raise
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                self._shutdown()
                details = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
                raise RuntimeError(
                    f"DataLoader worker ({details}) exited unexpectedly"
                ) from None
            if timeout and time.monotonic() - started > timeout:
                self._shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def _drain(self) -> None:
        """Receives what is still in flight (an epoch abandoned halfway by persistent workers)."""
        while self.rcvd_idx < self.send_idx:
            if self.rcvd_idx not in self.results:
                task_id, data = self._receive()
                self.results[task_id] = data
                continue
            self.results.pop(self.rcvd_idx)
            self.rcvd_idx += 1

    def _finish_epoch(self) -> None:
        if not self.loader.persistent_workers:
            self._shutdown()

    def _shutdown(self) -> None:
        if self.shut:
            return
        self.shut = True
        if self.loader._workers_iterator is self:
            self.loader._workers_iterator = None
        for index_queue in self.index_queues:
            try:
                index_queue.put(None)
            except (OSError, ValueError):
                pass
        for worker in self.workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
        for q in (*self.index_queues, self.result_queue):
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        if hasattr(self, "shut"):
            self._shutdown()
