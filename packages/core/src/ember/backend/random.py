"""Random number generators, one default per device, with state that can be saved and restored.

The CPU generator wraps numpy's PCG64. The CUDA generator derives a fresh cupy ``RandomState``
from ``(seed, offset)`` for every draw, so its whole state is two integers and a run can be
resumed exactly. It is cuRAND's Philox (counter-based, as PyTorch's CUDA generator), whose state is
cheap to set up; cupy's default, XORWOW, has a costly state set-up after every seed.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ember.backend.device import CPU, Device, array_module

DEFAULT_SEED = 67280421310721  # PyTorch's default seed, so fresh processes are reproducible too
_UINT64 = (1 << 64) - 1
_default_seed = DEFAULT_SEED  # what default generators made after manual_seed start from


def _check_seed(seed) -> int:
    """PyTorch's seed range: any int in [-2**63, 2**64); negatives wrap to unsigned."""
    seed = int(seed)
    if not -(1 << 63) <= seed <= _UINT64:
        raise RuntimeError(f"manual_seed: seed {seed} overflows a 64-bit integer")
    return seed & _UINT64


def _mix(seed: int, offset: int) -> int:
    """A well-spread 63-bit seed from (seed, offset): two rounds of splitmix64."""
    value = seed
    for word in (offset, 0):
        value = (value ^ word) + 0x9E3779B97F4A7C15 & _UINT64
        value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9 & _UINT64
        value = (value ^ (value >> 27)) * 0x94D049BB133111EB & _UINT64
        value ^= value >> 31
    return value >> 1


class Generator:
    """A source of random numbers on one device (PyTorch's ``torch.Generator``).

    ``get_state`` returns the state as a uint8 numpy array (PyTorch returns a uint8 tensor;
    ``set_state`` accepts either).

    Example:
        >>> g = Generator().manual_seed(0)
        >>> g.initial_seed()
        0
    """

    def __init__(self, device: str | Device = "cpu") -> None:
        self.device = Device(device)
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Re-seeds this generator and returns it."""
        self._seed = _check_seed(seed)
        self._offset = 0
        if self.device.type == "cpu":
            self._numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Re-seeds from the operating system's entropy and returns the new seed."""
        seed = int.from_bytes(os.urandom(8), "little")
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

    def set_state(self, new_state) -> Generator:
        """Restores a state from ``get_state`` (a uint8 array or tensor); returns itself."""
        try:
            decoded = json.loads(bytes(np.asarray(new_state, dtype=np.uint8)).decode())
            seed = int(decoded["seed"])
            if self.device.type == "cpu":
                bit_generator = np.random.PCG64()
                bit_generator.state = decoded["pcg64"]
                numpy_generator = np.random.Generator(bit_generator)
            else:
                offset = int(decoded["offset"])
        except (ValueError, KeyError, TypeError) as error:
            raise RuntimeError(
                f"Generator.set_state: not a state of a {self.device.type} generator ({error})"
            ) from None
        self._seed = seed
        if self.device.type == "cpu":
            self._numpy = numpy_generator
        else:
            self._offset = offset
        return self

    def source(self):
        """The object that draws: numpy's Generator on cpu, a fresh cupy RandomState on cuda."""
        if self.device.type == "cpu":
            return _NumpySource(self._numpy)
        self._offset += 1
        cupy = array_module(self.device)
        with cupy.cuda.Device(self.device.index):
            rng = cupy.random.RandomState(_mix(self._seed, self._offset),
                                          method=cupy.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
        return _CupySource(rng, cupy, self.device.index)

    def __repr__(self) -> str:
        return f"<ember.Generator device={self.device}>"


class _NoContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


_NO_CONTEXT = _NoContext()


class _Source:
    """Draws arrays of a given shape and numpy dtype; subclasses provide the raw draws and the
    device context they allocate in."""

    __slots__ = ("rng", "xp")

    def __init__(self, rng, xp) -> None:
        self.rng = rng
        self.xp = xp

    def _context(self):
        return _NO_CONTEXT

    def uniform(self, shape, dtype):
        """Uniform on [0, 1) in ``dtype`` (floating)."""
        dtype = np.dtype(dtype)
        with self._context():
            if dtype in (np.float32, np.float64):
                return self._uniform(shape, dtype)
            # Narrower floats: round down onto their grid, so that 1.0 can never come out.
            scale = 2.0 ** (np.finfo(dtype).nmant + 1)
            wide = self._uniform(shape, np.float64)
            return (self.xp.floor(wide * scale) / scale).astype(dtype)

    def normal(self, shape, dtype):
        """Standard normal in ``dtype`` (floating)."""
        dtype = np.dtype(dtype)
        wide = dtype if dtype in (np.float32, np.float64) else np.float32
        with self._context():
            return self._normal(shape, wide).astype(dtype, copy=False)

    def integers(self, low, high, shape, dtype):
        """Integers uniform on [low, high), cast to ``dtype``."""
        with self._context():
            return self._integers(low, high, shape).astype(dtype, copy=False)

    def exponential(self, shape, dtype):
        """Exponential with rate 1."""
        with self._context():
            return self._exponential(shape).astype(dtype, copy=False)

    def permutation(self, n: int):
        """A random permutation of ``range(n)`` (int64)."""
        with self._context():
            return self.rng.permutation(n)


class _NumpySource(_Source):
    __slots__ = ()

    def __init__(self, rng) -> None:
        super().__init__(rng, np)

    def _uniform(self, shape, dtype):
        return self.rng.random(shape, dtype=dtype)

    def _normal(self, shape, dtype):
        return self.rng.standard_normal(shape, dtype=dtype)

    def _integers(self, low, high, shape):
        return self.rng.integers(low, high, shape, dtype=np.int64)

    def _exponential(self, shape):
        return self.rng.standard_exponential(shape)


class _CupySource(_Source):
    """Draws with a cupy RandomState (cupy's random_sample already maps curand's (0, 1] to
    [0, 1))."""

    __slots__ = ("index",)

    def __init__(self, rng, xp, index: int) -> None:
        super().__init__(rng, xp)
        self.index = index

    def _context(self):
        return self.xp.cuda.Device(self.index)

    def _uniform(self, shape, dtype):
        return self.rng.random_sample(shape, dtype=dtype)

    def _normal(self, shape, dtype):
        return self.rng.standard_normal(shape, dtype=dtype)

    def _integers(self, low, high, shape):
        return self.rng.randint(low, high, shape, dtype=np.int64)

    def _exponential(self, shape):
        return self.rng.standard_exponential(shape)


_default_generators: dict = {}


def default_generator(device: Device = CPU) -> Generator:
    """The default generator of a device, created on first use."""
    generator = _default_generators.get(device)
    if generator is None:
        generator = _default_generators[device] = Generator(device).manual_seed(_default_seed)
    return generator


def manual_seed_all(seed: int) -> None:
    """Seeds the default generator of every device, those not created yet included."""
    global _default_seed
    _default_seed = _check_seed(seed)
    for generator in _default_generators.values():
        generator.manual_seed(seed)
