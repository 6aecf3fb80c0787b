"""The errors ``ember.distributed`` raises, under PyTorch's names."""


class DistError(RuntimeError):
    """A failure of a distributed operation."""


class DistBackendError(DistError):
    """The communication engine failed or a collective did not finish within the timeout."""


class DistStoreError(DistError):
    """A store (where ranks meet before they can talk) failed or timed out."""
