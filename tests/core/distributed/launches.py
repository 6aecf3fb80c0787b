"""Launches of several ranks for the distributed tests (imported by the test modules here).

A launch runs ``rank_cases.py SUITE`` on every rank (through ``mpirun`` or
``python -m ember.distributed.run``) under a hard timeout, so a bug can never hang the suite;
each case then becomes one test that passes when every rank reported it ok. Launches of 4 ranks
are marked ``four_ranks``, which the default run deselects (``pytest -m four_ranks`` runs them).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mpi4py", reason="ember.distributed's tests need the distributed extra")

HERE = Path(__file__).resolve().parent
RANK_CASES = HERE / "rank_cases.py"
LAUNCH_TIMEOUT = 180  # seconds: far above a launch's few seconds, and far below forever


def case_names(suite: str) -> list:
    spec = importlib.util.spec_from_file_location("ember_test_rank_cases", RANK_CASES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.CASES[suite])


def rank_counts() -> list:
    return [2, pytest.param(4, marks=pytest.mark.four_ranks)]


def mpirun(ranks: int) -> list:
    from ember.distributed.run import find_mpirun

    return [find_mpirun(), "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)]


def run_command(command: list, timeout: float = LAUNCH_TIMEOUT):
    """Runs ``command``; a hard timeout kills it (and fails the test) instead of waiting."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{command} did not end within {timeout} s:\n{error.stderr}")


_launches: dict = {}


def launch_results(suite: str, ranks: int, tmp_path_factory, launcher: bool = False) -> list:
    """Every rank's results of ``suite`` (one launch per suite and rank count, cached)."""
    key = (suite, ranks, launcher)
    if key not in _launches:
        out = tmp_path_factory.mktemp(f"{suite}{ranks}")
        script = [sys.executable, str(RANK_CASES), suite, str(out)]
        if ranks == 1:
            command = script
        elif launcher:
            command = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node",
                       str(ranks), *script[1:]]
        else:
            command = mpirun(ranks) + script
        done = run_command(command)
        files = sorted(out.glob("rank*.json"))
        if done.returncode != 0 or len(files) != ranks:
            _launches[key] = f"launch failed ({done.returncode}):\n{done.stderr[-4000:]}"
        else:
            _launches[key] = [json.loads(f.read_text()) for f in files]
    return _launches[key]


def assert_case_ok(results, name: str) -> None:
    if isinstance(results, str):
        pytest.fail(results)
    for rank, outcome in enumerate(results):
        if outcome.get(name) != "ok":
            pytest.fail(f"rank {rank}: {outcome.get(name, 'did not run')}")
