"""Random number generators, one default per device, with state that can be saved and restored.

The CPU generator wraps numpy's PCG64. The CUDA generator derives a fresh cupy ``RandomState``
from ``(seed, offset)`` for every draw, so its whole state is two integers and a run can be
resumed exactly.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ember.backend.device import CPU, Device, array_module

DEFAULT_SEED = 67280421310721  # PyTorch's default seed, so fresh processes are reproducible too


class Generator:
    """A source of random numbers on one device (PyTorch's ``torch.Generator``).

    Example:
        >>> g = Generator().manual_seed(0)
        >>> g.initial_seed()
        0
    """

    def __init__(self, device: str | Device = "cpu") -> None:
        self.device = Device(device)
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if seed < 0:
            seed &= (1 << 64) - 1  # PyTorch accepts negative seeds and wraps them the same way
        self._seed = seed
        self._offset = 0
        if self.device.type == "cpu":
            self._numpy = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        """Re-seeds from the operating system's entropy and returns the new seed."""
        seed = int.from_bytes(os.urandom(8), "little") >> 1
        self.manual_seed(seed)
        return seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> np.ndarray:
        """The full state as a uint8 array (JSON inside), as ``torch.Generator.get_state``."""
        if self.device.type == "cpu":
            state = {"seed": self._seed, "pcg64": self._numpy.bit_generator.state}
        else:
            state = {"seed": self._seed, "offset": self._offset}
        return np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy()

    def set_state(self, state) -> Generator:
        try:
            decoded = json.loads(bytes(np.asarray(state, dtype=np.uint8)).decode())
            seed = int(decoded["seed"])
            if self.device.type == "cpu":
                bit_generator = np.random.PCG64()
                bit_generator.state = decoded["pcg64"]
                self._numpy = np.random.Generator(bit_generator)
            else:
                self._offset = int(decoded["offset"])
        except (ValueError, KeyError, TypeError) as error:
            raise RuntimeError(
                f"Generator.set_state: not a state of a {self.device.type} generator ({error})"
            ) from None
        self._seed = seed
        return self

    def source(self):
        """The object that draws: numpy's Generator on cpu, a fresh cupy RandomState on cuda."""
        if self.device.type == "cpu":
            return _NumpySource(self._numpy)
        self._offset += 1
        cupy = array_module(self.device)
        mixed = (self._seed * 6364136223846793005 + self._offset * 1442695040888963407) % (2**63)
        with cupy.cuda.Device(self.device.index):
            return _CupySource(cupy.random.RandomState(mixed), self.device)


class _NumpySource:
    """Uniform draw interface over numpy's Generator."""

    __slots__ = ("rng",)

    def __init__(self, rng):
        self.rng = rng

    def uniform(self, shape, dtype):
        if dtype in (np.float32, np.float64):
            return self.rng.random(shape, dtype=dtype)
        return self.rng.random(shape).astype(dtype)

    def normal(self, shape, dtype):
        if dtype in (np.float32, np.float64):
            return self.rng.standard_normal(shape, dtype=dtype)
        return self.rng.standard_normal(shape).astype(dtype)

    def integers(self, low, high, shape, dtype):
        return self.rng.integers(low, high, shape, dtype=dtype)

    def permutation(self, n):
        return self.rng.permutation(n)

    def exponential(self, shape, dtype):
        return self.rng.standard_exponential(shape).astype(dtype, copy=False)


class _CupySource:
    """The same interface over a cupy RandomState."""

    __slots__ = ("rng", "device")

    def __init__(self, rng, device):
        self.rng = rng
        self.device = device

    def _on_device(self, fn, *args):
        with array_module(self.device).cuda.Device(self.device.index):
            return fn(*args)

    def uniform(self, shape, dtype):
        return self._on_device(lambda: self.rng.random_sample(shape).astype(dtype, copy=False))

    def normal(self, shape, dtype):
        return self._on_device(lambda: self.rng.standard_normal(shape).astype(dtype, copy=False))

    def integers(self, low, high, shape, dtype):
        return self._on_device(lambda: self.rng.randint(low, high, shape).astype(dtype, copy=False))

    def permutation(self, n):
        return self._on_device(lambda: self.rng.permutation(n))

    def exponential(self, shape, dtype):
        return self._on_device(lambda: self.rng.exponential(1.0, shape).astype(dtype, copy=False))


_default_generators: dict = {}


def default_generator(device: Device = CPU) -> Generator:
    """The default generator of a device, created on first use."""
    generator = _default_generators.get(device)
    if generator is None:
        generator = _default_generators[device] = Generator(device)
    return generator


def manual_seed_all(seed: int) -> None:
    """Seeds the default generator of every device, those not created yet included."""
    global DEFAULT_SEED
    DEFAULT_SEED = int(seed)
    for generator in _default_generators.values():
        generator.manual_seed(seed)
