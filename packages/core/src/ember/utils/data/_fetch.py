"""Fetchers: turn the indices of one batch into a collated batch (map-style or iterable)."""

from __future__ import annotations


class MapFetcher:
    """``dataset[i]`` for each index, then collate (or one sample when not batching)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn

    def start(self) -> None:
        pass

    def __call__(self, indices):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[indices])
        getitems = getattr(self.dataset, "__getitems__", None)
        samples = getitems(indices) if getitems else [self.dataset[i] for i in indices]
        return self.collate_fn(samples)


class IterableFetcher:
    """The next ``batch_size`` samples of the dataset's stream (StopIteration at its end)."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, batch_size, drop_last) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.iterator = None

    def start(self) -> None:
        self.iterator = iter(self.dataset)

    def __call__(self, _indices):
        if self.iterator is None:
            self.start()
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        batch = []
        for sample in self.iterator:
            batch.append(sample)
            if len(batch) == self.batch_size:
                break
        if not batch or (self.drop_last and len(batch) < self.batch_size):
            raise StopIteration
        return self.collate_fn(batch)
