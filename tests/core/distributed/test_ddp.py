"""DistributedDataParallel on 2 (and 4) ranks launched by plain ``mpirun``: training equal to
one process on the concatenated batch, no_sync, unused parameters, buffers; and a world of one
(plain ``python``)."""

import pytest
from launches import assert_case_ok, case_names, launch_results, rank_counts


@pytest.mark.parametrize("ranks", rank_counts())
@pytest.mark.parametrize("name", case_names("ddp"))
def test_ddp(name, ranks, tmp_path_factory):
    assert_case_ok(launch_results("ddp", ranks, tmp_path_factory), name)


@pytest.mark.parametrize("name", case_names("single"))
def test_world_of_one(name, tmp_path_factory):
    assert_case_ok(launch_results("single", 1, tmp_path_factory), name)
