"""A rank that raises, is killed or hangs ends the whole job with a clear error, in bounded
time, instead of leaving the other ranks waiting forever."""

import sys
import time

from launches import HERE, mpirun, run_command

HANG_TIMEOUT = 3  # the process group's timeout in the hang case, seconds


def run_fault(mode: str, launcher: bool = False):
    script = [str(HERE / "fault_rank.py"), mode, str(HANG_TIMEOUT if mode == "hang" else 120)]
    if launcher:
        command = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2"]
    else:
        command = mpirun(2) + [sys.executable]
    start = time.monotonic()
    done = run_command(command + script, timeout=90)
    return done, time.monotonic() - start


def assert_failed_job(done) -> None:
    assert done.returncode != 0
    assert "finished" not in done.stdout  # rank 0 never got past the second all-reduce


def test_a_raising_rank_aborts_the_job_with_its_traceback():
    done, seconds = run_fault("raise")
    assert_failed_job(done)
    assert "ValueError: rank 1 failed on purpose" in done.stderr
    assert "MPI_ABORT was invoked on rank 1" in done.stderr
    assert seconds < 60  # rank 0's own timeout (120 s) was not what ended it


def test_a_killed_rank_ends_the_job():
    done, seconds = run_fault("kill", launcher=True)
    assert_failed_job(done)
    assert "signal 9" in done.stderr
    assert seconds < 60


def test_a_hanging_rank_makes_the_others_time_out():
    done, seconds = run_fault("hang")
    assert_failed_job(done)
    assert (f"DistBackendError: all_reduce: did not complete within the timeout of "
            f"{HANG_TIMEOUT} s on rank 0 of 2") in done.stderr
    assert HANG_TIMEOUT <= seconds < HANG_TIMEOUT + 45
