"""DistributedSampler with explicit ranks, in one process (its multi-rank run is in
test_collectives): the shares PyTorch's sampler gives, padding and dropping, epochs."""

import pytest

from ember.utils.data import DataLoader, DistributedSampler


def shares(size, replicas, **options):
    return [list(DistributedSampler(range(size), replicas, rank, **options))
            for rank in range(replicas)]


def test_in_order_shares_pad_by_repeating_the_start():
    assert shares(10, 3, shuffle=False) == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]


def test_padding_longer_than_the_dataset_wraps_around():
    assert shares(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]


def test_drop_last_drops_the_tail():
    assert shares(10, 3, shuffle=False, drop_last=True) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert len(DistributedSampler(range(10), 3, 0, drop_last=True)) == 3


@pytest.mark.parametrize("size", [12, 13])
def test_shuffled_shares_cover_the_dataset_once_per_epoch(size):
    for epoch in range(3):
        samplers = [DistributedSampler(range(size), 4, rank, seed=5) for rank in range(4)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        seen = sorted(i for sampler in samplers for i in sampler)
        padding = 4 * -(-size // 4) - size
        assert sorted(set(seen)) == list(range(size)) and len(seen) == size + padding
    first = list(DistributedSampler(range(size), 4, 0, seed=5))
    again = DistributedSampler(range(size), 4, 0, seed=5)
    assert list(again) == first  # the same seed and epoch: the same order
    again.set_epoch(1)
    assert list(again) != first


def test_drives_a_dataloader():
    loader = DataLoader(list(range(8)), batch_size=2,
                        sampler=DistributedSampler(range(8), 2, 1, shuffle=False))
    assert [batch.tolist() for batch in loader] == [[1, 3], [5, 7]]


def test_bad_rank_and_missing_process_group():
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval \[0, 1"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="has not been initialized"):
        DistributedSampler(range(4))
