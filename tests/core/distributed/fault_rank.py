"""A 2-rank job whose rank 1 fails after a first all-reduce: ``python fault_rank.py MODE
TIMEOUT`` with MODE raise (an uncaught exception), kill (SIGKILL to itself) or hang (sleeps).
Rank 0 goes on to a second all-reduce that rank 1 never joins; it must not wait forever."""

import os
import signal
import sys
import time

import ember
import ember.distributed as dist

mode, timeout = sys.argv[1], float(sys.argv[2])
dist.init_process_group("mpi", timeout=timeout)
tensor = ember.ones(3)
dist.all_reduce(tensor)
if dist.get_rank() == 1:
    if mode == "raise":
        raise ValueError("rank 1 failed on purpose")
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        time.sleep(3600)
dist.all_reduce(tensor)
print(f"rank {dist.get_rank()} finished", flush=True)
