"""``python -m ember.distributed.run``'s command lines (its real launches run in
test_collectives and test_faults)."""

import sys

import pytest

from ember.distributed.run import mpirun_command

pytest.importorskip("mpi4py", reason="the launcher needs the distributed extra's mpirun")


def without_root(command: list) -> list:
    """The command without the options every launch of several ranks gets."""
    assert command[1:3] == ["-x", "OMP_NUM_THREADS"]  # the ranks' thread count, also remotely
    return [command[0]] + [part for part in command[3:] if part != "--allow-run-as-root"]


def test_one_process_keeps_the_thread_count(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert "-x" not in mpirun_command(["train.py"])
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert "-x" in mpirun_command(["train.py"])


def test_one_machine():
    command = without_root(mpirun_command(["--nproc-per-node", "3", "train.py", "--lr", "1"]))
    assert command[0].endswith("mpirun")
    assert command[1:] == ["-n", "3", "--oversubscribe", sys.executable, "train.py", "--lr", "1"]


def test_module_and_torchrun_spelling():
    command = without_root(mpirun_command(["--nproc_per_node=2", "-m", "pkg.train", "-x"]))
    assert command[-4:] == [sys.executable, "-m", "pkg.train", "-x"]
    assert command[1:3] == ["-n", "2"]


def test_hostfile_places_nproc_per_node_on_each_host(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# the machines\nnode1 slots=8\nnode2 slots=8\n\nnode3\n")
    command = without_root(mpirun_command(["--nproc-per-node", "4", "--hostfile", str(hosts),
                                           "train.py"]))
    assert command[1:7] == ["-n", "12", "--hostfile", str(hosts), "--map-by", "ppr:4:node"]
    command = without_root(mpirun_command(["--nproc-per-node", "4", "--nnodes", "2",
                                           "--hostfile", str(hosts), "train.py"]))
    assert command[1:3] == ["-n", "8"]


def test_bad_options_are_rejected(tmp_path, capsys):
    hosts = tmp_path / "hosts"
    hosts.write_text("node1\n")
    for argv in (["--nproc-per-node", "0", "t.py"], ["--nnodes", "2", "t.py"],
                 ["--nnodes", "3", "--hostfile", str(hosts), "t.py"]):
        with pytest.raises(SystemExit):
            mpirun_command(argv)
    assert "--nnodes 3" in capsys.readouterr().err
