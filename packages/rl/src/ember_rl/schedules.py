"""Learning-rate and clip-range schedules: functions of the remaining progress (1 at the start,
0 at the end of ``learn``), as in Stable-Baselines3, that can be saved as plain values."""

from __future__ import annotations

import warnings
from collections.abc import Callable

__all__ = ["ConstantSchedule", "LinearSchedule", "get_schedule_fn", "linear_schedule",
           "schedule_config", "schedule_from_config"]


class ConstantSchedule:
    """Always ``value``."""

    def __init__(self, value: float) -> None:
        self.value = float(value)

    def __call__(self, progress_remaining: float) -> float:
        return self.value

    def config(self) -> dict:
        return {"constant": self.value}

    def __repr__(self) -> str:
        return f"ConstantSchedule({self.value})"


class LinearSchedule:
    """From ``start`` (progress 1) linearly to ``end`` (progress 0).

    Example:
        >>> LinearSchedule(1e-3)(0.5)
        0.0005
    """

    def __init__(self, start: float, end: float = 0.0) -> None:
        self.start, self.end = float(start), float(end)

    def __call__(self, progress_remaining: float) -> float:
        return self.end + progress_remaining * (self.start - self.end)

    def config(self) -> dict:
        return {"linear": [self.start, self.end]}

    def __repr__(self) -> str:
        return f"LinearSchedule({self.start}, {self.end})"


def linear_schedule(initial_value: float) -> LinearSchedule:
    """rl-zoo's ``lin_<value>``: from ``initial_value`` down to 0."""
    return LinearSchedule(initial_value)


def get_schedule_fn(value: float | Callable[[float], float]) -> Callable[[float], float]:
    """A schedule from a number (constant) or a callable of the remaining progress."""
    if isinstance(value, (int, float)):
        return ConstantSchedule(value)
    if callable(value):
        return value
    raise TypeError(f"a schedule must be a number or a callable of progress_remaining, got "
                    f"{type(value).__name__}")


def schedule_config(schedule: Callable[[float], float] | None, progress_remaining: float):
    """A JSON-able description of ``schedule``; other callables are saved as their current value
    (pickle would be needed to store arbitrary code, and ember.save never pickles)."""
    if schedule is None:
        return None
    if isinstance(schedule, (ConstantSchedule, LinearSchedule)):
        return schedule.config()
    value = float(schedule(progress_remaining))
    warnings.warn(f"saving the custom schedule {schedule!r} as the constant {value}: only "
                  f"numbers, ConstantSchedule and LinearSchedule are stored as themselves",
                  stacklevel=3)
    return {"constant": value}


def schedule_from_config(config) -> Callable[[float], float] | None:
    """The schedule ``schedule_config`` described."""
    if config is None:
        return None
    if "linear" in config:
        return LinearSchedule(*config["linear"])
    return ConstantSchedule(config["constant"])
