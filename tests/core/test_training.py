"""Training end to end: a model must learn real data, and a resumed run must equal an unbroken one.

The data is the Fashion-MNIST subset bundled with the repository (data/fashion-mnist-subset). Core
tests do not import ember_vision (core installs alone), so the IDX files are read here directly:
a 16-byte header for images, 8 bytes for labels, then unsigned bytes.
"""

import gzip
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.utils.data import DataLoader, TensorDataset

SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion-mnist-subset"
MEAN, STD = 0.2860, 0.3530


def fashion_mnist(split: str, count: int) -> tuple[ember.Tensor, ember.Tensor]:
    """The first ``count`` (images (count, 784) normalised float32, labels (count,) int64)."""
    with gzip.open(SUBSET / f"{split}-images-idx3-ubyte.gz", "rb") as file:
        images = np.frombuffer(file.read(), dtype=np.uint8, offset=16).reshape(-1, 784)[:count]
    with gzip.open(SUBSET / f"{split}-labels-idx1-ubyte.gz", "rb") as file:
        labels = np.frombuffer(file.read(), dtype=np.uint8, offset=8)[:count]
    inputs = (images.astype(np.float32) / 255 - MEAN) / STD
    return ember.from_numpy(inputs), ember.from_numpy(labels.astype(np.int64))


def test_mlp_learns_fashion_mnist():
    # The subset is ordered class by class; shuffling makes a 3,000-image slice hold every class.
    train_x, train_y = fashion_mnist("train", 12_000)
    order = ember.randperm(12_000)[:3_000]
    test_x, test_y = fashion_mnist("t10k", 2_000)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
    optimizer = ember.optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(train_x[order], train_y[order]), batch_size=64, shuffle=True)
    for _ in range(4):
        for inputs, labels in loader:
            loss = F.cross_entropy(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with ember.no_grad():
        accuracy = (model(test_x).argmax(dim=1) == test_y).float().mean().item()
    assert accuracy > 0.80, f"test accuracy {accuracy:.3f}"


# ---- resuming ---------------------------------------------------------------------------------

STEPS, SPLIT, BATCH = 20, 10, 16


class Run:
    """A model with dropout, Adam with weight decay and a step-wise lr schedule, and a shuffling
    loader: every piece of state a resumed run has to restore."""

    def __init__(self, seed: int) -> None:
        ember.manual_seed(seed)  # different seeds: loading must overwrite everything
        self.model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.3),
                                   nn.Linear(32, 10))
        self.optimizer = ember.optim.Adam(self.model.parameters(), lr=1e-2, weight_decay=1e-4)
        self.scheduler = ember.optim.lr_scheduler.StepLR(self.optimizer, step_size=3, gamma=0.7)
        inputs, labels = fashion_mnist("train", 5 * BATCH)  # 5 steps per epoch
        self.loader = DataLoader(TensorDataset(inputs, labels), batch_size=BATCH, shuffle=True)
        self.losses = []

    def train(self, steps: int) -> None:
        """``steps`` optimizer steps, a whole number of passes over the loader."""
        assert steps % len(self.loader) == 0
        self.model.train()
        for _ in range(steps // len(self.loader)):
            for inputs, labels in self.loader:
                loss = F.cross_entropy(self.model(inputs), labels)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                self.scheduler.step()
                self.losses.append(loss.item())

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": ember.get_rng_state()}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        ember.set_rng_state(state["rng"])


def flat_state(state) -> dict:
    """Every number of a (nested) state dict, keyed by its path, as host arrays / Python values."""
    if isinstance(state, dict):
        return {f"{key}.{path}": value for key, item in state.items()
                for path, value in flat_state(item).items()}
    if isinstance(state, (list, tuple)):
        return flat_state(dict(enumerate(state)))
    return {"": state.numpy() if isinstance(state, ember.Tensor) else state}


def test_resumed_training_equals_unbroken_training_bit_for_bit(tmp_path):
    unbroken = Run(seed=0)
    unbroken.train(STEPS)

    first = Run(seed=0)
    first.train(SPLIT)
    ember.save(first.state(), tmp_path / "checkpoint.safetensors")
    ember.manual_seed(123)  # whatever happens between the runs must not matter
    ember.rand(7)
    resumed = Run(seed=1)
    resumed.load(ember.load(tmp_path / "checkpoint.safetensors"))
    resumed.train(STEPS - SPLIT)

    assert first.losses + resumed.losses == unbroken.losses
    expected, actual = flat_state(unbroken.state()), flat_state(resumed.state())
    assert expected.keys() == actual.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(actual[key], value, err_msg=key, strict=True)


@pytest.mark.parametrize("part", ["optimizer", "scheduler", "rng"])
def test_resuming_without_each_part_diverges(tmp_path, part):
    """Each saved part matters: dropping any one of them changes the continued run."""
    unbroken = Run(seed=0)
    unbroken.train(STEPS)
    first = Run(seed=0)
    first.train(SPLIT)
    state = first.state()
    ember.save(state, tmp_path / "checkpoint.safetensors")
    resumed = Run(seed=1)
    loaded = ember.load(tmp_path / "checkpoint.safetensors")
    if part == "rng":
        ember.manual_seed(1)
        loaded["rng"] = ember.get_rng_state()
    else:
        loaded[part] = getattr(resumed, part).state_dict()  # the fresh object's own state
    resumed.load(loaded)
    resumed.train(STEPS - SPLIT)
    assert first.losses + resumed.losses != unbroken.losses
