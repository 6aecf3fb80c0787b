"""Graph mode: eager against traced replay (``lib.jit.trace``), under ``no_grad`` and training.

Each workload has an ``eager`` and a ``traced`` row; in both columns the framework is the same
(Ember's eager vs Ember's trace, PyTorch's eager vs ``torch.jit.trace``), so the speed-up of
tracing reads down a column and the ratio across. Workloads, small tensors first, where per-op
overhead decides:

- a 50-op elementwise chain on 8x8 (mul / tanh / add / sigmoid / sub, as in ``ops.py``): fused
  into one step by Ember's trace;
- an MLP 64-64-64-10 on a batch of 8;
- one LSTM cell step (input 64, hidden 64, batch 8);
- LeNet-5 on a batch of 32 and ResNet-20 on a batch of 8 (eval mode): compute-bound;
- a training step (forward + backward + SGD) of the MLP through the traced module.

Run with the others by ``make bench`` (``-k jit`` selects these), or alone:
``.venv-bench/bin/python benchmarks/bench_jit.py [run.py options]``.
"""

from __future__ import annotations

import sys

import numpy as np

from harness import benchmark, place

CHAIN_LENGTH = 50


def _tensor(lib, shape: tuple[int, ...], seed: int, scale: float = 1.0):
    array = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)
    return place(lib, array)


def _chain(lib):
    def chain(x, w, b):
        steps = (lambda h: h * w, lib.tanh, lambda h: h + b, lib.sigmoid, lambda h: h - b)
        h = x
        for i in range(CHAIN_LENGTH):
            h = steps[i % len(steps)](h)
        return h

    return chain, (_tensor(lib, (8, 8), 0), _tensor(lib, (8, 8), 1, 0.5),
                   _tensor(lib, (8, 8), 2, 0.1))


def _mlp(lib):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 10)).eval()
    return model, (_tensor(lib, (8, 64), 0),)


def _lstm_cell(lib):
    lib.manual_seed(0)

    class Step(lib.nn.Module):  # a module: torch.jit.trace refuses captured parameters
        def __init__(self):
            super().__init__()
            self.cell = lib.nn.LSTMCell(64, 64)

        def forward(self, x, h, c):
            return self.cell(x, (h, c))

    return Step(), (_tensor(lib, (8, 64), 0), _tensor(lib, (8, 64), 1), _tensor(lib, (8, 64), 2))


def _lenet(lib):
    from bench_training import lenet5

    lib.manual_seed(0)
    return lenet5(lib).eval(), (_tensor(lib, (32, 1, 28, 28), 0),)


def _resnet20(lib):
    from bench_training import resnet20

    lib.manual_seed(0)
    return resnet20(lib).eval(), (_tensor(lib, (8, 3, 32, 32), 0),)


def _inference(build, traced: bool):
    def setup(lib):
        fn, args = build(lib)
        if isinstance(fn, lib.nn.Module):
            fn = place(lib, fn)
        if traced:
            with lib.no_grad():
                fn = lib.jit.trace(fn, args)

        def run():
            with lib.no_grad():
                return fn(*args)

        return run

    return setup


WORKLOADS = [
    (f"{CHAIN_LENGTH}-op chain 8x8", _chain, CHAIN_LENGTH, "op"),
    ("MLP 64-64-64-10, batch 8", _mlp, 1, "call"),
    ("LSTM cell step 64, batch 8", _lstm_cell, 1, "call"),
    ("LeNet-5, batch 32", _lenet, 1, "call"),
    ("ResNet-20, batch 8", _resnet20, 1, "call"),
]

for _name, _build, _work, _unit in WORKLOADS:
    for _traced in (False, True):
        benchmark(f"jit: {_name}, no grad, {'traced' if _traced else 'eager'}", work=_work,
                  unit=_unit)(_inference(_build, _traced))


def _train_step(traced: bool):
    def setup(lib):
        model, (x,) = _mlp(lib)
        model = place(lib, model).train()
        target = _tensor(lib, (8, 10), 3)
        optimizer = lib.optim.SGD(model.parameters(), lr=0.01)
        forward = lib.jit.trace(model, x) if traced else model
        mse = lib.nn.functional.mse_loss

        def step():
            optimizer.zero_grad()
            mse(forward(x), target).backward()
            optimizer.step()

        return step

    return setup


for _traced in (False, True):
    benchmark(f"jit: MLP 64-64-64-10 train step, batch 8, {'traced' if _traced else 'eager'}",
              unit="step")(_train_step(_traced))


if __name__ == "__main__":
    import run

    run.MODULES = ()  # this module's benchmarks are registered already: run only these
    sys.exit(run.main(["-k", "jit", *sys.argv[1:]]))
