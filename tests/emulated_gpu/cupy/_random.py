"""``cupy.random`` of the emulated GPU: RandomState over numpy's Philox generator."""

import numpy as np

from cupy._array import unwrap, wrap


class RandomState:
    def __init__(self, seed=None, method=None):
        self._generator = np.random.Generator(np.random.Philox(seed))

    def random_sample(self, size=None, dtype=float):
        return wrap(np.asarray(self._generator.random(size, dtype=np.dtype(dtype))))

    def standard_normal(self, size=None, dtype=float):
        return wrap(np.asarray(self._generator.standard_normal(size, dtype=np.dtype(dtype))))

    def standard_exponential(self, size=None, dtype=float):
        return wrap(np.asarray(self._generator.standard_exponential(size,
                                                                    dtype=np.dtype(dtype))))

    def randint(self, low, high=None, size=None, dtype=int):
        return wrap(np.asarray(self._generator.integers(low, high, size, dtype=np.dtype(dtype))))

    def permutation(self, a):
        return wrap(self._generator.permutation(unwrap(a)))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return wrap(np.asarray(self._generator.uniform(low, high, size).astype(dtype)))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        return wrap(np.asarray(self._generator.normal(loc, scale, size).astype(dtype)))


_default = RandomState()


def seed(seed=None):
    _default.__init__(seed)


def rand(*size, dtype=float):
    return _default.random_sample(size or None, dtype)


def randn(*size, dtype=float):
    return _default.standard_normal(size or None, dtype)


random_sample = random = _default.random_sample
standard_normal = _default.standard_normal
randint = _default.randint
uniform = _default.uniform
normal = _default.normal
permutation = _default.permutation
