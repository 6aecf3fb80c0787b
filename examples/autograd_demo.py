"""Fit a tiny MLP to a noisy sine with Ember's autograd and hand-written SGD with momentum.

Only tensors, ops, ``backward()`` and ``no_grad()`` are used: the layers and optimizers of
``ember.nn`` / ``ember.optim`` do the same bookkeeping for you. Run with ``make demo`` or
``python examples/autograd_demo.py``; it exits non-zero if the loss did not go down.
"""

from __future__ import annotations

import math
import sys

import numpy as np
from tqdm import tqdm

import ember

HIDDEN = 32
STEPS = 1500
LEARNING_RATE = 0.05
MOMENTUM = 0.9


def make_data(num_points: int, seed: int = 0) -> tuple[ember.Tensor, ember.Tensor]:
    """Samples y = sin(3x) + noise on [-1, 1]; returns inputs and targets of shape (N, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(num_points, 1)).astype(np.float32)
    y = np.sin(3.0 * x) + rng.normal(0.0, 0.05, size=x.shape).astype(np.float32)
    return ember.from_numpy(x), ember.from_numpy(y)


def init_params(hidden: int) -> list[ember.Tensor]:
    """Weights of a 1 -> hidden -> hidden -> 1 tanh MLP, scaled by 1/sqrt(fan_in)."""
    shapes = [(1, hidden), (hidden,), (hidden, hidden), (hidden,), (hidden, 1), (1,)]
    params = []
    for shape in shapes:
        scale = 1.0 / math.sqrt(shape[0]) if len(shape) == 2 else 0.0
        params.append((ember.randn(*shape) * scale).requires_grad_())
    return params


def mlp(x: ember.Tensor, params: list[ember.Tensor]) -> ember.Tensor:
    """(N, 1) -> (N, 1)."""
    w1, b1, w2, b2, w3, b3 = params
    h = ember.tanh(x @ w1 + b1)
    h = ember.tanh(h @ w2 + b2)
    return h @ w3 + b3


def main() -> int:
    ember.manual_seed(0)
    x, y = make_data(256)
    params = init_params(HIDDEN)
    velocities = [ember.zeros_like(p) for p in params]

    with ember.no_grad():
        first_loss = ((mlp(x, params) - y) ** 2).mean().item()

    progress = tqdm(range(STEPS), desc="fitting sin(3x)", unit="step")
    for step in progress:
        loss = ((mlp(x, params) - y) ** 2).mean()
        loss.backward()
        with ember.no_grad():  # the update itself must not be recorded in the graph
            for param, velocity in zip(params, velocities):
                velocity.mul_(MOMENTUM).add_(param.grad)
                param -= LEARNING_RATE * velocity
                param.grad = None
        progress.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if step % 300 == 0:
            progress.write(f"step {step:4d}  loss {loss.item():.4f}")

    with ember.no_grad():
        final_loss = ((mlp(x, params) - y) ** 2).mean().item()
    print(f"mean squared error: {first_loss:.4f} -> {final_loss:.4f}")
    return 0 if final_loss < 0.1 * first_loss else 1


if __name__ == "__main__":
    sys.exit(main())
