"""Every collective's result on 2 (and 4) ranks, checked on each rank against numpy; the
DistributedSampler's coverage. The 2-rank launch goes through ``python -m
ember.distributed.run``."""

import pytest
from launches import assert_case_ok, case_names, launch_results, rank_counts


@pytest.mark.parametrize("ranks", rank_counts())
@pytest.mark.parametrize("name", case_names("collectives"))
def test_collective(name, ranks, tmp_path_factory):
    assert_case_ok(launch_results("collectives", ranks, tmp_path_factory, launcher=True), name)
