"""``FileStore``: ranks that share a file system meet through one file, as PyTorch's FileStore
(here only what the nccl backend needs: rank 0 publishes bytes, the others wait for them).

Written atomically (a temporary file renamed into place), so a reader never sees half a value.
"""

from __future__ import annotations

import os
import time

from ember.distributed.errors import DistStoreError


class FileStore:
    def __init__(self, file_name: str, world_size: int = -1) -> None:
        self.path = os.fspath(file_name)
        self.world_size = world_size

    def set(self, key: str, value: bytes) -> None:
        target = self._key_path(key)
        temporary = f"{target}.{os.getpid()}.tmp"
        with open(temporary, "wb") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)

    def get(self, key: str, timeout: float) -> bytes:
        """The value of ``key``, waiting up to ``timeout`` seconds for a rank to set it."""
        target = self._key_path(key)
        deadline = time.monotonic() + timeout
        while not os.path.exists(target):
            if time.monotonic() > deadline:
                raise DistStoreError(
                    f"FileStore.get: key {key!r} was not set in {self.path!r} within {timeout:g} "
                    "s (did rank 0 start, with the same init_method?)"
                )
            time.sleep(0.01)
        with open(target, "rb") as handle:
            return handle.read()

    def _key_path(self, key: str) -> str:
        if not key.isidentifier():
            raise ValueError(f"FileStore: keys are identifiers, got {key!r}")
        return f"{self.path}.{key}"
