"""Side-by-side timing of Ember and PyTorch: the benchmark registry, the timer and the report.

A benchmark is written once against the framework module (``ember`` or ``torch``): both expose the
same names, so ``lib.tanh``, ``lib.from_numpy`` and ``lib.no_grad`` mean the same thing in each.
Only this folder imports torch; Ember never depends on it.
"""

from __future__ import annotations

import importlib
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

FRAMEWORKS = ("ember", "torch")

#: Where every benchmark's tensors and models live: "cpu", or "cuda" (``run.py --device cuda``,
#: set before the benchmark modules are imported, so their names can say what runs there).
DEVICE = "cpu"


def place(lib, value):
    """A numpy array as a tensor of ``lib`` on ``DEVICE``, or a module moved there."""
    if isinstance(value, np.ndarray):
        return lib.from_numpy(value).to(DEVICE)
    return value.to(DEVICE)


def _synchronized(fn: Callable[[], object], lib) -> Callable[[], object]:
    """``fn`` followed by a wait for the GPU, so that a sample times the work, not its queueing."""

    def timed():
        fn()
        lib.cuda.synchronize()

    return timed


@dataclass(frozen=True)
class Benchmark:
    """One measurement: ``setup(lib)`` builds the inputs and returns the callable to time.

    ``work`` is how many units (ops, training steps ...) one call of that callable performs; the
    report divides by it, so rows read "microseconds per op" or "milliseconds per step".
    """

    name: str
    setup: Callable[[object], Callable[[], object]]
    work: int = 1
    unit: str = "op"
    threads: tuple[int, ...] = (1,)
    devices: tuple[str, ...] = ("cpu", "cuda")


REGISTRY: list[Benchmark] = []


def benchmark(name: str, *, work: int = 1, unit: str = "op", threads: tuple[int, ...] = (1,),
              devices: tuple[str, ...] = ("cpu", "cuda")) -> Callable:
    """Registers ``setup(lib) -> callable`` as a benchmark (used as a decorator)."""

    def register(setup: Callable) -> Callable:
        REGISTRY.append(Benchmark(name, setup, work, unit, threads, devices))
        return setup

    return register


@dataclass
class Result:
    benchmark: Benchmark
    threads: int
    seconds_per_unit: dict[str, float] = field(default_factory=dict)


def load_frameworks(names: tuple[str, ...]) -> dict[str, object]:
    """Imports the frameworks that are installed; a missing one is reported, not fatal."""
    loaded = {}
    for name in names:
        try:
            loaded[name] = importlib.import_module(name)
        except ImportError as error:
            print(f"note: {name} is not importable ({error}); its column stays empty")
    return loaded


def set_threads(count: int, frameworks: dict[str, object]) -> None:
    """Caps every thread pool both frameworks use: torch's intra-op pool and numpy's BLAS."""
    if "torch" in frameworks:
        frameworks["torch"].set_num_threads(count)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the env vars set by `make bench` still hold BLAS at one thread
        return
    threadpool_limits(count)


def _calls_per_sample(fn: Callable[[], object], min_seconds: float) -> int:
    """The number of calls that makes one timed sample last at least ``min_seconds``."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start >= min_seconds:
            return calls
        calls *= 2


def _sample(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def measure(bench: Benchmark, frameworks: dict[str, object], threads: int, repeats: int,
            min_seconds: float) -> Result:
    """Median seconds per unit of work for each framework.

    Samples alternate between the frameworks so that a slow phase of a shared machine hits both.
    """
    set_threads(threads, frameworks)
    fns = {name: bench.setup(lib) for name, lib in frameworks.items()}
    if DEVICE != "cpu":
        fns = {name: _synchronized(fn, frameworks[name]) for name, fn in fns.items()}
    calls = {name: _calls_per_sample(fn, min_seconds) for name, fn in fns.items()}  # warms up
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_sample(fn, calls[name]))
    result = Result(bench, threads)
    for name, times in samples.items():
        result.seconds_per_unit[name] = statistics.median(times) / bench.work
    return result


def _format_time(seconds: float | None, unit: str) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:9.2f} us/{unit}"
    return f"{seconds * 1e3:9.2f} ms/{unit}"


def print_table(results: list[Result]) -> None:
    """One row per benchmark and thread count: Ember, PyTorch and their ratio."""
    name_width = max([len(r.benchmark.name) for r in results] + [9])
    header = f"{'benchmark':<{name_width}}  thr  {'ember':>15}  {'torch':>15}  ember/torch"
    print(header)
    print("-" * len(header))
    for r in results:
        ember_time = r.seconds_per_unit.get("ember")
        torch_time = r.seconds_per_unit.get("torch")
        ratio = f"{ember_time / torch_time:10.2f}x" if ember_time and torch_time else "-"
        print(f"{r.benchmark.name:<{name_width}}  {r.threads:>3}  "
              f"{_format_time(ember_time, r.benchmark.unit):>15}  "
              f"{_format_time(torch_time, r.benchmark.unit):>15}  {ratio:>11}")


def describe_environment(frameworks: dict[str, object]) -> str:
    """Versions, BLAS kernels and thread settings: what a reader needs to compare two runs."""
    lines = [f"python {platform.python_version()} on {platform.machine()}, "
             f"{os.cpu_count()} CPUs; numpy {np.__version__}; device {DEVICE}"]
    if DEVICE != "cpu" and "torch" in frameworks:
        lines.append(f"GPU: {frameworks['torch'].cuda.get_device_name()}")
    lines += [f"{name} {getattr(lib, '__version__', '?')}" for name, lib in frameworks.items()]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    lines.append(f"OPENBLAS_CORETYPE={coretype or '(unset)'}, "
                 f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}")
    malloc = [f"{name}={os.environ[name]}" for name in ("MALLOC_MMAP_THRESHOLD_",
                                                        "MALLOC_TRIM_THRESHOLD_")
              if name in os.environ]
    lines.append(f"malloc thresholds: {', '.join(malloc) or 'glibc defaults (dynamic)'}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "\n".join(lines)
    for pool in threadpool_info():
        kernel = f" kernel={pool['architecture']}" if pool.get("architecture") else ""
        lines.append(f"  {pool['internal_api']} {pool.get('version') or ''}{kernel} "
                     f"threads={pool['num_threads']} ({os.path.basename(pool['filepath'])})")
    return "\n".join(lines)
