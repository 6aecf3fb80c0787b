"""Runs the benchmarks of this folder for Ember and PyTorch side by side and prints a table.

Usage (``make bench`` sets single-threaded BLAS/OpenMP and passes BENCH_ARGS through):

    python benchmarks/run.py                    # everything
    python benchmarks/run.py -k chain           # benchmarks whose name contains "chain"
    python benchmarks/run.py --threads 1 2      # override each benchmark's thread counts
"""

from __future__ import annotations

import argparse
import importlib
import sys

import harness  # this folder is sys.path[0] when run as a script

# Each module registers its benchmarks on import; add new modules here.
MODULES = ("ops", "bench_training", "bench_text", "bench_rl", "bench_jit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", "--keyword", default="", help="run benchmarks whose name has this")
    parser.add_argument("--threads", type=int, nargs="+", help="thread counts (default: each "
                        "benchmark's own)")
    parser.add_argument("--repeats", type=int, default=7, help="samples per framework (median)")
    parser.add_argument("--min-time", type=float, default=0.05,
                        help="seconds each sample lasts at least")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where tensors and models live (cuda: timed up to a synchronize)")
    parser.add_argument("--frameworks", nargs="+", default=list(harness.FRAMEWORKS),
                        choices=harness.FRAMEWORKS)
    args = parser.parse_args(argv)

    if args.device == "cuda" and not importlib.import_module("ember").cuda.is_available():
        parser.error("--device cuda: ember sees no CUDA GPU here (cupy missing or no GPU)")
    harness.DEVICE = args.device
    for module in MODULES:
        importlib.import_module(module)
    selected = [b for b in harness.REGISTRY
                if args.keyword.lower() in b.name.lower() and args.device in b.devices]
    if not selected:
        parser.error(f"no benchmark matches {args.keyword!r}")

    frameworks = harness.load_frameworks(tuple(args.frameworks))
    if "ember" not in frameworks:
        return 1
    print(harness.describe_environment(frameworks), end="\n\n")
    results = []
    for bench in selected:
        for threads in args.threads or bench.threads:
            results.append(harness.measure(bench, frameworks, threads, args.repeats, args.min_time))
    harness.print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
