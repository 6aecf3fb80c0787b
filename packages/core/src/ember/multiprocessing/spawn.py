"""``spawn(fn, args, nprocs)``: run ``fn(i, *args)`` in ``nprocs`` new processes, as PyTorch's."""

from __future__ import annotations

import multiprocessing
import traceback


class ProcessRaisedException(Exception):  # noqa: N818  (PyTorch's name)
    """A spawned process raised: the message holds its traceback."""

    def __init__(self, msg: str, error_index: int, error_pid: int) -> None:
        super().__init__(msg)
        self.error_index = error_index
        self.pid = error_pid


class ProcessExitedException(Exception):  # noqa: N818  (PyTorch's name)
    """A spawned process exited with a nonzero code without raising (killed, ``os._exit``)."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int) -> None:
        super().__init__(msg)
        self.error_index = error_index
        self.pid = error_pid
        self.exit_code = exit_code


def _wrap(fn, index: int, args: tuple, errors) -> None:
    try:
        fn(index, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        errors.put((index, traceback.format_exc()))
        raise SystemExit(1) from None


class ProcessContext:
    """The spawned processes; ``join()`` waits for them and raises the first failure."""

    def __init__(self, processes: list, errors) -> None:
        self.processes = processes
        self.error_queue = errors

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def join(self, timeout: float | None = None) -> bool:
        """True once all processes finished; raises when one failed (the others are ended)."""
        for process in self.processes:
            process.join(timeout)
        failed = [(i, p) for i, p in enumerate(self.processes) if p.exitcode not in (0, None)]
        if failed:
            for process in self.processes:
                if process.is_alive():
                    process.terminate()
            index, process = failed[0]
            if not self.error_queue.empty():
                index, text = self.error_queue.get()
                raise ProcessRaisedException(
                    f"\n\n-- Process {index} terminated with the following error:\n{text}",
                    index, self.processes[index].pid)
            raise ProcessExitedException(
                f"process {index} terminated with exit code {process.exitcode}", index,
                process.pid, process.exitcode)
        return all(process.exitcode is not None for process in self.processes)


def spawn(fn, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """Starts ``nprocs`` processes running ``fn(i, *args)`` (``i`` from 0) and, with ``join``,
    waits for them; else returns the ``ProcessContext``.

    Raises:
        ProcessRaisedException: a process raised (its traceback in the message).
        ProcessExitedException: a process exited with a nonzero code.
    """
    context = multiprocessing.get_context(start_method)
    errors = context.SimpleQueue()
    processes = []
    for index in range(nprocs):
        process = context.Process(target=_wrap, args=(fn, index, args, errors), daemon=daemon)
        process.start()
        processes.append(process)
    process_context = ProcessContext(processes, errors)
    if not join:
        return process_context
    process_context.join()
    return None
