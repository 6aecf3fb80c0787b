"""Training logs to stdout, CSV and TensorBoard (Stable-Baselines3's ``logger``).

Algorithms ``record`` key/value pairs (``"rollout/ep_rew_mean"``, ``"train/value_loss"`` ...)
and ``dump`` them once per logging interval to every output format.

Example:
    >>> logger = configure(None, ["stdout"])
    >>> logger.record("train/loss", 0.5)
    >>> logger.dump(step=100)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
import sys
from collections import defaultdict

import numpy as np

import ember

__all__ = ["CSVOutputFormat", "HumanOutputFormat", "Logger", "TensorBoardOutputFormat",
           "configure"]


def _is_histogram(value) -> bool:
    """Arrays and tensors are logged as TensorBoard histograms; other formats skip them."""
    return isinstance(value, (np.ndarray, ember.Tensor))


def _scalars(values: dict) -> dict:
    return {key: value for key, value in values.items() if not _is_histogram(value)}


class HumanOutputFormat:
    """A boxed table of the values, grouped by their ``prefix/`` (what SB3 prints)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout

    def write(self, values: dict, step: int) -> None:
        values = _scalars(values)
        if not values:
            return
        rows, section = [], None
        for key in sorted(values):
            prefix, _, name = key.rpartition("/")
            if prefix != section:
                rows.append((f"{prefix}/", ""))
                section = prefix
            rows.append((f"    {name}", _format(values[key])))
        key_width = max(len(k) for k, _ in rows)
        value_width = max(len(v) for _, v in rows)
        line = "-" * (key_width + value_width + 7)
        lines = [line] + [f"| {k:<{key_width}} | {v:<{value_width}} |" for k, v in rows] + [line]
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    def close(self) -> None:
        pass


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:<8.3g}"
    return str(value)


class CSVOutputFormat:
    """One row per dump in ``progress.csv``; new keys add columns (the file is rewritten)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.keys: list[str] = []
        self.rows: list[dict] = []

    def write(self, values: dict, step: int) -> None:
        values = _scalars(values)
        new_keys = [k for k in sorted(values) if k not in self.keys]
        self.rows.append(dict(values))
        if new_keys:
            self.keys += new_keys
            self._rewrite()
        else:
            with open(self.path, "a", newline="") as file:
                csv.DictWriter(file, self.keys).writerow(values)

    def _rewrite(self) -> None:
        with open(self.path, "w", newline="") as file:
            writer = csv.DictWriter(file, self.keys)
            writer.writeheader()
            writer.writerows(self.rows)

    def close(self) -> None:
        pass


class TensorBoardOutputFormat:
    """Scalars, and arrays or tensors as histograms, through
    ``ember.utils.tensorboard.SummaryWriter`` (tensorboardX)."""

    def __init__(self, folder: str) -> None:
        from ember.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=folder)

    def write(self, values: dict, step: int) -> None:
        for key, value in values.items():
            if _is_histogram(value):
                self.writer.add_histogram(key, value, step)
            elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                self.writer.add_scalar(key, float(value), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class Logger:
    """Collects values between dumps; ``record_mean`` averages repeated records of a key."""

    def __init__(self, folder: str | None, output_formats: list) -> None:
        self.dir = folder
        self.output_formats = output_formats
        self.name_to_value: dict[str, object] = {}
        self._means: dict[str, list[float]] = defaultdict(list)

    def record(self, key: str, value, exclude=None) -> None:
        self.name_to_value[key] = value

    def record_mean(self, key: str, value) -> None:
        self._means[key].append(float(value))

    def dump(self, step: int = 0) -> None:
        values = dict(self.name_to_value)
        values.update({key: float(np.mean(v)) for key, v in self._means.items()})
        for output in self.output_formats:
            output.write(values, step)
        self.name_to_value.clear()
        self._means.clear()

    def get_dir(self) -> str | None:
        return self.dir

    def close(self) -> None:
        for output in self.output_formats:
            output.close()


FORMATS = ("stdout", "csv", "tensorboard")


def configure(folder: str | None = None, format_strings: list[str] | None = None) -> Logger:
    """A logger writing to ``format_strings`` (``"stdout"``, ``"csv"``, ``"tensorboard"``)
    under ``folder`` (needed for csv and tensorboard)."""
    format_strings = ["stdout"] if format_strings is None else list(format_strings)
    outputs = []
    for name in format_strings:
        if name not in FORMATS:
            raise ValueError(f"configure: unknown log format {name!r}; expected one of {FORMATS}")
        if name != "stdout" and folder is None:
            raise ValueError(f"configure: the {name!r} format needs a folder")
        if folder is not None:
            os.makedirs(folder, exist_ok=True)
        if name == "stdout":
            outputs.append(HumanOutputFormat())
        elif name == "csv":
            outputs.append(CSVOutputFormat(os.path.join(folder, "progress.csv")))
        else:
            outputs.append(TensorBoardOutputFormat(folder))
    return Logger(folder, outputs)


def next_run_folder(log_dir: str, name: str) -> str:
    """``log_dir/name_<k>`` with ``k`` one past the highest existing run (as SB3 numbers runs)."""
    highest = 0
    if os.path.isdir(log_dir):
        for entry in os.listdir(log_dir):
            stem, _, number = entry.rpartition("_")
            if stem == name and number.isdigit():
                highest = max(highest, int(number))
    return os.path.join(log_dir, f"{name}_{highest + 1}")
