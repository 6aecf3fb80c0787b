"""Gymnasium spaces as plain values (numbers, strings, numpy arrays) that ``ember.save`` stores."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

__all__ = ["space_from_config", "space_to_config"]


def space_to_config(space: spaces.Space) -> dict:
    """A description of a Box, Discrete or MultiBinary space without pickle."""
    if isinstance(space, spaces.Box):
        return {"type": "Box", "low": np.asarray(space.low), "high": np.asarray(space.high),
                "dtype": np.dtype(space.dtype).name}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": [int(n) for n in np.atleast_1d(space.n)]}
    raise ValueError(f"cannot save space {space}: only Box, Discrete and MultiBinary are supported")


def space_from_config(config: dict) -> spaces.Space:
    """The space ``space_to_config`` described."""
    kind = config["type"]
    if kind == "Box":
        low, high = np.asarray(config["low"]), np.asarray(config["high"])
        return spaces.Box(low, high, low.shape, np.dtype(config["dtype"]))
    if kind == "Discrete":
        return spaces.Discrete(config["n"], start=config["start"])
    if kind == "MultiBinary":
        n = config["n"]
        return spaces.MultiBinary(n[0] if len(n) == 1 else n)
    raise ValueError(f"unknown saved space type {kind!r}")
