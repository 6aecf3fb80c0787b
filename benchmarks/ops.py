"""Per-op overhead: what every RNN step, tree node and RL update pays (DESIGN.md, performance)."""

from __future__ import annotations

import numpy as np

from harness import benchmark, place

CHAIN_LENGTH = 50


def _tensor(lib, shape: tuple[int, ...], seed: int, requires_grad: bool = False, scale=1.0):
    array = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)
    return place(lib, array).requires_grad_(requires_grad)


def _add(shape: tuple[int, ...]):
    def setup(lib):
        a, b = _tensor(lib, shape, 0), _tensor(lib, shape, 1)
        return lambda: a + b

    return setup


benchmark("add, 1 element, no grad")(_add((1,)))
benchmark("add, 4x4, no grad")(_add((4, 4)))


@benchmark(f"{CHAIN_LENGTH}-op chain 8x8, fwd+bwd", work=CHAIN_LENGTH)
def chain(lib):
    """A chain of mul / tanh / add / sigmoid / sub on 8x8 leaves, then sum().backward().

    The loss (sum) and backward are counted in the total, divided by the chain's 50 ops.
    """
    x = _tensor(lib, (8, 8), 0, requires_grad=True)
    w = _tensor(lib, (8, 8), 1, requires_grad=True, scale=0.5)
    b = _tensor(lib, (8, 8), 2, requires_grad=True, scale=0.1)
    leaves = (x, w, b)
    steps = (
        lambda h: h * w,
        lib.tanh,
        lambda h: h + b,
        lib.sigmoid,
        lambda h: h - b,
    )

    def step():
        h = x
        for i in range(CHAIN_LENGTH):
            h = steps[i % len(steps)](h)
        h.sum().backward()
        for leaf in leaves:
            leaf.grad = None

    return step
