"""Data-parallel scaling of the Fashion-MNIST CNN on this machine's cores, and how much of the
gradient all-reduce backward hides.

    .venv/bin/python benchmarks/bench_distributed.py [--ranks 1 2] [--steps 40]

For each rank count it starts ``mpirun -n R`` on this file (one BLAS thread per rank, per-rank
batch 64, so R ranks train on R times the samples per step) and reports

- samples per second: every rank's (batch x steps / time) summed, and the scaling efficiency
  against one rank (total throughput / (R x one rank's)); beside it, the same R processes each
  training a model of its own without any communication, in turns with the DDP runs: what the
  cores give R concurrent trainings at all (caches and memory bandwidth are shared), and how
  much of that DDP keeps;
- the share of all-reduce time hidden behind backward, per bucket size: how long DDP's final
  callback waits for the buckets at the end of backward (``wait``, with the copy back into
  ``.grad``), against the same buckets all-reduced right after a backward under ``no_sync``
  (``blocking``): hidden = 1 - wait / blocking, medians over alternating iterations. Both
  include waiting for a slower peer. With the default 25 MB the CNN's 0.9 MB of gradients is
  one bucket, ready only at the end of backward, so little can hide; smaller buckets let the
  classifier's gradients travel during the convolutions' backward.

With ``--torch PYTHON`` (a Python with torch, e.g. ``.venv-bench/bin/python``) the same CNN
also trains under PyTorch's DDP (gloo, the same ``mpirun``, one thread per rank), for the same
throughput and scaling figures side by side.

Numbers from a shared machine are noisy: the script prints the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BATCH = 64
BUCKET_CAPS_MB = (25.0, 0.25)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    parser.add_argument("--overlap-iterations", type=int, default=30)
    parser.add_argument("--torch", metavar="PYTHON", default=None,
                        help="also run PyTorch DDP with this Python")
    parser.add_argument("--worker", choices=("ember", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_net(nn):
    """examples/fashion_mnist.py's CNN, written against ``torch.nn`` or ``ember.nn``."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(128, 10),
    )


def timed_steps(steps_by_name: dict, barrier, steps: int) -> dict:
    """Samples per second of three runs of ``steps`` steps of each step function, the functions
    taking turns (a busy phase of a shared machine hits all), after five steps to warm up."""
    rates = {name: [] for name in steps_by_name}
    for step in steps_by_name.values():
        for _ in range(5):
            step()
    for _ in range(3):
        for name, step in steps_by_name.items():
            barrier()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            rates[name].append(BATCH * steps / (time.perf_counter() - start))
    return rates


def plain_and_ddp_steps(lib, cross_entropy, ddp_model, images, labels) -> dict:
    """Adam training steps of a model of this rank's own ("independent", no communication) and
    of ``ddp_model`` ("samples_per_s"), in ``lib`` (ember or torch)."""
    plain = make_net(lib.nn)
    steps = {}
    for name, model in (("independent", plain), ("samples_per_s", ddp_model)):
        optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)

        def step(model=model, optimizer=optimizer):
            optimizer.zero_grad()
            cross_entropy(model(images), labels).backward()
            optimizer.step()

        steps[name] = step
    return steps


def torch_worker(args) -> None:
    import torch
    import torch.distributed as tdist
    import torch.nn.functional as tF  # noqa: N812
    from torch.nn.parallel import DistributedDataParallel as TorchDDP

    torch.set_num_threads(1)
    rank = int(os.environ["OMPI_COMM_WORLD_RANK"])
    world = int(os.environ["OMPI_COMM_WORLD_SIZE"])
    tdist.init_process_group("gloo", init_method=f"file://{args.store}", rank=rank,
                             world_size=world)
    generator = torch.Generator().manual_seed(rank)
    images = torch.randn(BATCH, 1, 28, 28, generator=generator)
    labels = torch.randint(0, 10, (BATCH,), generator=generator)
    torch.manual_seed(0)
    model = TorchDDP(make_net(torch.nn))
    steps = plain_and_ddp_steps(torch, tF.cross_entropy, model, images, labels)
    report = {"rank": rank, **timed_steps(steps, tdist.barrier, args.steps)}
    print("REPORT " + json.dumps(report), flush=True)
    tdist.destroy_process_group()


def worker(args) -> None:
    import numpy as np

    import ember
    import ember.distributed as dist
    import ember.nn.functional as F
    from ember import nn
    from ember.nn.parallel import DistributedDataParallel

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(rank)
    images = ember.tensor(rng.normal(size=(BATCH, 1, 28, 28)).astype("float32"))
    labels = ember.tensor(rng.integers(0, 10, BATCH))
    ember.manual_seed(0)
    model = DistributedDataParallel(make_net(nn))
    steps = plain_and_ddp_steps(ember, F.cross_entropy, model, images, labels)
    report = {"rank": rank, **timed_steps(steps, dist.barrier, args.steps)}

    if world > 1:
        report["overlap"] = {str(cap): overlap(model.module, cap, images, labels, args)
                             for cap in BUCKET_CAPS_MB}
    # each rank prints its report as one JSON line; the launching process collects them
    print("REPORT " + json.dumps(report), flush=True)
    dist.destroy_process_group()


def overlap(net, cap_mb: float, images, labels, args) -> dict:
    """How long the end of a DDP backward waits for its all-reduces, against the same
    all-reduces run blocking right after a backward without them (both include waiting for a
    slower peer, which a loaded machine makes long)."""
    import ember
    import ember.distributed as dist
    import ember.nn.functional as F
    from ember.nn.parallel import DistributedDataParallel

    class TimedDDP(DistributedDataParallel):
        def _finish_reduction(self):
            start = time.perf_counter()
            super()._finish_reduction()
            waits.append(time.perf_counter() - start)

    waits, blocking, t_ddp, t_local = [], [], [], []
    model = TimedDDP(net, bucket_cap_mb=cap_mb)
    flats = [ember.Tensor(bucket.flat) for bucket in model._buckets]
    for _ in range(args.overlap_iterations + 3):
        model.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        dist.barrier()
        start = time.perf_counter()
        loss.backward()
        t_ddp.append(time.perf_counter() - start)
        model.zero_grad()
        with model.no_sync():
            loss = F.cross_entropy(model(images), labels)
        dist.barrier()
        start = time.perf_counter()
        loss.backward()
        t_local.append(time.perf_counter() - start)
        start = time.perf_counter()
        works = [dist.all_reduce(flat, async_op=True) for flat in flats]
        for work in works:
            work.wait()
        blocking.append(time.perf_counter() - start)
    for handle in model._handles:
        handle.remove()
    wait, block, ddp, local = (1e3 * statistics.median(t[3:])
                               for t in (waits, blocking, t_ddp, t_local))
    return {"buckets": len(flats), "t_ddp_ms": ddp, "t_local_ms": local, "wait_ms": wait,
            "blocking_ms": block, "hidden": 1 - wait / block}


def launch(ranks: int, args, python: str | None = None) -> list:
    """Every rank's report of one ``mpirun`` of this file (Ember's, or torch's with ``python``)."""
    import tempfile

    from ember.distributed.run import find_mpirun

    framework = "ember" if python is None else "torch"
    with tempfile.TemporaryDirectory() as folder:
        command = [find_mpirun(), "--allow-run-as-root", "--oversubscribe", "-n", str(ranks),
                   python or sys.executable, __file__, "--worker", framework, "--steps",
                   str(args.steps), "--overlap-iterations", str(args.overlap_iterations),
                   "--store", str(Path(folder) / "store")]
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1")
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
    if done.returncode != 0:
        sys.exit(f"{framework}, {ranks} ranks failed:\n{done.stderr}")
    reports = [json.loads(line[len("REPORT "):]) for line in done.stdout.splitlines()
               if line.startswith("REPORT ")]
    return sorted(reports, key=lambda r: r["rank"])


def throughput_line(name: str, ranks: int, reports: list, single: float | None) -> float:
    total = sum(statistics.median(r["samples_per_s"]) for r in reports)
    spread = ", ".join(f"rank {r['rank']}: {statistics.median(r['samples_per_s']):.0f} "
                       f"[{min(r['samples_per_s']):.0f}-{max(r['samples_per_s']):.0f}]"
                       for r in reports)
    line = f"{name} {ranks} rank(s): {total:.0f} samples/s ({spread})"
    if single is not None and ranks > 1:
        alone = sum(statistics.median(r["independent"]) for r in reports)
        line += (f"; scaling efficiency {total / (ranks * single):.0%}; {ranks} processes "
                 f"training alone at the same time: {alone:.0f} samples/s, DDP reaches "
                 f"{total / alone:.0%} of that")
    print(line, flush=True)
    return total


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker == "ember":
        worker(args)
        return
    if args.worker == "torch":
        torch_worker(args)
        return
    print(f"Fashion-MNIST CNN, batch {BATCH} per rank, Adam, 1 BLAS thread per rank, "
          f"{os.cpu_count()} cores; samples/s as median [min-max] of 3 runs of {args.steps} steps")
    single = {}
    for ranks in args.ranks:
        reports = launch(ranks, args)
        total = throughput_line("ember", ranks, reports, single.get("ember"))
        single.setdefault("ember", total)
        for cap in BUCKET_CAPS_MB if ranks > 1 else ():
            for r in reports:
                o = r["overlap"][str(cap)]
                print(f"  bucket_cap_mb={cap:g} ({o['buckets']} buckets), rank {r['rank']}: "
                      f"backward {o['t_local_ms']:.1f} ms alone, {o['t_ddp_ms']:.1f} ms with "
                      f"DDP; all-reduce after backward {o['blocking_ms']:.2f} ms, DDP's wait "
                      f"at its end {o['wait_ms']:.2f} ms: hidden {o['hidden']:.0%}")
        if args.torch:
            total = throughput_line("torch", ranks, launch(ranks, args, args.torch),
                                    single.get("torch"))
            single.setdefault("torch", total)


if __name__ == "__main__":
    main()
