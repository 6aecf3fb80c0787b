"""Random tensors and the default generators' seeds and states."""

from __future__ import annotations

__all__: list = []
