"""Seeding and small numeric helpers shared by the algorithms."""

from __future__ import annotations

import random

import numpy as np

import ember

__all__ = ["explained_variance", "normalize_advantages", "safe_mean", "set_random_seed"]


def set_random_seed(seed: int) -> np.random.Generator:
    """Seeds Python's, numpy's and Ember's generators; returns a numpy Generator for shuffling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    ember.manual_seed(seed)
    return np.random.default_rng(seed)


def explained_variance(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    """1 - Var[y_true - y_pred] / Var[y_true]: 1 is a perfect value function, 0 a constant one
    (NaN when ``y_true`` is constant)."""
    variance = np.var(y_true)
    return float("nan") if variance == 0 else float(1 - np.var(y_true - y_pred) / variance)


def safe_mean(values) -> float:
    """Mean of a possibly empty sequence (NaN when empty)."""
    return float(np.mean(values)) if len(values) else float("nan")


def normalize_advantages(advantages: ember.Tensor) -> ember.Tensor:
    """Advantages standardised over the batch (unbiased std, as ``Tensor.std``). They carry no
    gradient, so numpy does it without graph overhead."""
    values = advantages.cpu().numpy()
    scaled = (values - values.mean()) / (values.std(ddof=1) + 1e-8)
    return ember.from_numpy(scaled.astype(values.dtype, copy=False)).to(advantages.device)
