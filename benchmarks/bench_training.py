"""One training step of four classic models, Ember vs PyTorch: where the whole stack is measured.

Each row is forward + loss + backward + optimizer step on fixed random data, at 1 and 2 threads:

- MLP 784-512-256-10, batch 128, Adam;
- LeNet-5 (ReLU, max-pool) on 1x28x28, batch 128, SGD with momentum;
- ResNet-20 for CIFAR (3 stages of 3 basic blocks, 16/32/64 channels, BatchNorm) on 3x32x32,
  batch 32, SGD with momentum and weight decay;
- a 1-layer LSTM language model (embedding 128, hidden 256, vocab 10,000, 35 steps), batch 32,
  SGD with gradient-norm clipping at 0.25.

Run with the others by ``make bench`` (``-k "train step"`` selects these), or alone:
``.venv-bench/bin/python benchmarks/bench_training.py [run.py options]``.
"""

from __future__ import annotations

import sys

import numpy as np

import harness
from harness import benchmark, place

THREADS = (1, 2)


def _inputs(lib, shape: tuple[int, ...], seed: int = 0):
    array = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return place(lib, array)


def _labels(lib, shape: tuple[int, ...], classes: int, seed: int = 1):
    array = np.random.default_rng(seed).integers(0, classes, shape)
    return place(lib, array.astype(np.int64))


def _step(lib, model, optimizer, inputs, targets, clip: float | None = None):
    """The callable that runs one training step of ``model`` on (inputs, targets)."""
    cross_entropy = lib.nn.functional.cross_entropy
    parameters = list(model.parameters())
    model.train()

    def step():
        optimizer.zero_grad()
        loss = cross_entropy(model(inputs), targets)
        loss.backward()
        if clip is not None:
            lib.nn.utils.clip_grad_norm_(parameters, clip)
        optimizer.step()

    return step


@benchmark("MLP 784-512-256-10 train step, batch 128, Adam", unit="step", threads=THREADS)
def mlp(lib):
    lib.manual_seed(0)
    nn = lib.nn
    model = place(lib, nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256),
                                     nn.ReLU(), nn.Linear(256, 10)))
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    return _step(lib, model, optimizer, _inputs(lib, (128, 784)), _labels(lib, (128,), 10))


def lenet5(lib):
    """LeNet-5 with ReLU and max-pooling, for (N, 1, 28, 28) images."""
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # (N, 6, 14, 14)
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),             # (N, 16, 5, 5)
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


@benchmark("LeNet-5 train step, batch 128, SGD momentum", unit="step", threads=THREADS)
def lenet(lib):
    lib.manual_seed(0)
    model = place(lib, lenet5(lib))
    optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return _step(lib, model, optimizer, _inputs(lib, (128, 1, 28, 28)), _labels(lib, (128,), 10))


def resnet20(lib):
    """ResNet-20 for 32x32 images (He et al. 2016, section 4.2); 1x1-conv projection shortcuts."""
    nn, F = lib.nn, lib.nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, in_channels: int, channels: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_channels != channels:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, channels, 1, stride, bias=False),
                    nn.BatchNorm2d(channels))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    class ResNet20(nn.Module):
        def __init__(self, num_classes: int = 10) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16),
                                      nn.ReLU())
            blocks, channels = [], 16
            for width, stride in ((16, 1), (32, 2), (64, 2)):
                for n in range(3):
                    blocks.append(BasicBlock(channels, width, stride if n == 0 else 1))
                    channels = width
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                      nn.Linear(64, num_classes))

        def forward(self, x):
            return self.head(self.blocks(self.stem(x)))

    return ResNet20()


RESNET_BATCH = 32 if harness.DEVICE == "cpu" else 128  # a GPU wants bigger batches


@benchmark(f"ResNet-20 (CIFAR) train step, batch {RESNET_BATCH}, SGD momentum", unit="step",
           threads=THREADS)
def resnet(lib):
    lib.manual_seed(0)
    model = place(lib, resnet20(lib))
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    return _step(lib, model, optimizer, _inputs(lib, (RESNET_BATCH, 3, 32, 32)),
                 _labels(lib, (RESNET_BATCH,), 10))


SEQUENCE, BATCH, VOCAB, EMBEDDING, HIDDEN = 35, 32, 10_000, 128, 256


def lstm_language_model(lib):
    """Embedding -> 1-layer LSTM -> Linear decoder: (T, N) token ids -> (T * N, vocab) logits."""
    nn = lib.nn

    class LanguageModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(VOCAB, EMBEDDING)
            self.lstm = nn.LSTM(EMBEDDING, HIDDEN)
            self.decoder = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            output, _ = self.lstm(self.embedding(tokens))
            return self.decoder(output.reshape(-1, HIDDEN))

    return LanguageModel()


def lstm_lm(lib):
    lib.manual_seed(0)
    model = place(lib, lstm_language_model(lib))
    optimizer = lib.optim.SGD(model.parameters(), lr=1.0)
    tokens = _labels(lib, (SEQUENCE, BATCH), VOCAB, seed=0)
    targets = _labels(lib, (SEQUENCE * BATCH,), VOCAB)
    return _step(lib, model, optimizer, tokens, targets, clip=0.25)


def _register_lstm() -> None:
    import ember.nn

    if hasattr(ember.nn, "LSTM"):
        benchmark(f"LSTM LM train step, seq {SEQUENCE}, batch {BATCH}, vocab {VOCAB}, SGD",
                  unit="step", threads=THREADS)(lstm_lm)
    else:
        print("note: ember.nn.LSTM does not exist yet; the LSTM language-model row is skipped")


_register_lstm()


if __name__ == "__main__":
    import run

    run.MODULES = ()  # this module's benchmarks are registered already: run only these
    sys.exit(run.main())
