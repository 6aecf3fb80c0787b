"""Random tensors, in-place random fills, and the default generators' seeds and states.

Every function takes ``generator=`` (an ``ember.Generator`` on the tensor's device type);
without one it draws from the device's default generator. None of these results carries
autograd history: sampling is not differentiable.
"""

from __future__ import annotations

import numbers

import numpy as np

from ember.backend import (
    CPU,
    Device,
    Generator,
    check_extremes,
    device_context,
    manual_seed_all,
    xp_of,
)
from ember.backend import default_generator as _default_generator_of
from ember.tensor import dtypes
from ember.tensor.creation import (
    _device,
    _finish,
    _numpy_dtype,
    _positional_or_keyword_size,
    _size,
)
from ember.tensor.registry import register_op
from ember.tensor.tensor import Tensor

__all__ = [
    "bernoulli", "default_generator", "get_rng_state", "initial_seed", "manual_seed",
    "multinomial", "normal", "rand", "rand_like", "randint", "randint_like", "randn",
    "randn_like", "randperm", "seed", "set_rng_state",
]

#: the CPU default generator (``torch.default_generator``)
default_generator = _default_generator_of(CPU)


# ---- seeds and states ------------------------------------------------------------------------


def manual_seed(seed: int) -> Generator:
    """Seeds the default generator of every device; returns the CPU one.

    Example:
        >>> _ = ember.manual_seed(0)
        >>> a = ember.rand(3)
        >>> _ = ember.manual_seed(0)
        >>> bool((ember.rand(3) == a).all())
        True
    """
    manual_seed_all(seed)
    return default_generator


def seed() -> int:
    """Seeds every default generator from the operating system's entropy; returns the seed."""
    value = default_generator.seed()
    manual_seed_all(value)
    return value


def initial_seed() -> int:
    """The seed the CPU default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    """The CPU default generator's state as a uint8 tensor (restore it with set_rng_state)."""
    return Tensor(default_generator.get_state())


def set_rng_state(new_state) -> None:
    """Restores the CPU default generator's state saved by ``get_rng_state``."""
    if isinstance(new_state, Tensor):
        new_state = new_state._array if new_state.device is CPU else new_state._array.get()
    default_generator.set_state(new_state)


# ---- drawing ---------------------------------------------------------------------------------


def _source(generator, device: Device, op_name: str):
    """What draws on ``device``: ``generator`` checked against it, or the default."""
    if generator is None:
        return _default_generator_of(device).source()
    if not isinstance(generator, Generator):
        raise TypeError(f"{op_name}: generator must be an ember.Generator, got "
                        f"{type(generator).__name__}")
    if generator.device.type != device.type:
        raise RuntimeError(
            f"{op_name}: expected a '{device.type}' device type for generator but found "
            f"'{generator.device.type}'"
        )
    return generator.source()


def _floating(numpy_dtype, op_name: str):
    if numpy_dtype.kind != "f":
        raise RuntimeError(
            f"{op_name}: expected a floating point dtype, got {dtypes.from_numpy(numpy_dtype)}"
        )
    return numpy_dtype


def _draw(op_name, draw, size, dtype, device, requires_grad, generator, default=None):
    """A new tensor of ``size`` from ``draw(source, shape, numpy_dtype)``."""
    shape = _size(size)
    target = _device(device)
    if default is None:
        default = dtypes.get_default_dtype().numpy
    wanted = _numpy_dtype(dtype, default)
    source = _source(generator, target, op_name)
    with device_context(target):
        array = draw(source, shape, wanted)
    return _finish(array, requires_grad)


def _uniform(source, shape, dtype):
    return source.uniform(shape, _floating(dtype, "rand"))


def _standard_normal(source, shape, dtype):
    return source.normal(shape, _floating(dtype, "randn"))


def rand(*args, size=None, generator=None, dtype=None, device=None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) of shape ``size``.

    Example:
        >>> ember.rand(2, 3).shape
        (2, 3)
    """
    size = _positional_or_keyword_size(args, size, "rand")
    return _draw("rand", _uniform, size, dtype, device, requires_grad, generator)


def randn(*args, size=None, generator=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples of shape ``size``."""
    size = _positional_or_keyword_size(args, size, "randn")
    return _draw("randn", _standard_normal, size, dtype, device, requires_grad, generator)


def _check_range(low, high, op_name: str) -> None:
    if low >= high:
        raise RuntimeError(
            f"{op_name}: expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )


def randint(*args, size=None, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform on [low, high): ``randint(high, size)`` or ``randint(low, high, size)``.

    Example:
        >>> ember.randint(3, 10, (2, 2)).dtype
        ember.int64
    """
    if size is None:
        if not args or not isinstance(args[-1], (tuple, list)):
            raise TypeError("randint() missing required argument 'size' (a tuple of ints)")
        *args, size = args
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError(f"randint() takes high or low, high before size, got {len(args)} values")
    low, high = int(low), int(high)
    _check_range(low, high, "randint")
    return _draw("randint", lambda source, shape, d: source.integers(low, high, shape, d),
                 (size,), dtype, device, requires_grad, generator, np.dtype(np.int64))


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 by default)."""
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    return _draw("randperm", lambda source, shape, d: source.permutation(int(n)).astype(d),
                 (), dtype, device, requires_grad, generator, np.dtype(np.int64))


def _like(input: Tensor, dtype, device, requires_grad):
    dtype = input._array.dtype if dtype is None else dtype
    return input._array.shape, dtype, input.device if device is None else device, requires_grad


def rand_like(input: Tensor, *, generator=None, dtype=None, device=None,
              requires_grad: bool = False, **ignored) -> Tensor:
    """``rand`` with the shape (and by default dtype and device) of ``input``."""
    shape, dtype, device, grad = _like(input, dtype, device, requires_grad)
    return _draw("rand_like", _uniform, shape, dtype, device, grad, generator)


def randn_like(input: Tensor, *, generator=None, dtype=None, device=None,
               requires_grad: bool = False, **ignored) -> Tensor:
    """``randn`` with the shape (and by default dtype and device) of ``input``."""
    shape, dtype, device, grad = _like(input, dtype, device, requires_grad)
    return _draw("randn_like", _standard_normal, shape, dtype, device, grad, generator)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *, generator=None,
                 dtype=None, device=None, requires_grad: bool = False, **ignored) -> Tensor:
    """``randint`` with the shape of ``input``: ``randint_like(x, high)`` or ``(x, low, high)``."""
    if high is None:
        low, high = 0, low
    shape, dtype, device, grad = _like(input, dtype, device, requires_grad)
    return randint(low, high, shape, generator=generator, dtype=dtype, device=device,
                   requires_grad=grad)


# ---- distributions over tensors --------------------------------------------------------------


def _check_std(std, op_name: str) -> None:
    if std < 0:
        raise RuntimeError(f"{op_name}: expects std >= 0.0, but found std {std}")


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Normal samples with the given mean and standard deviation.

    Forms: ``normal(mean_tensor, std_tensor)`` (broadcast), ``normal(mean_tensor, std=1.0)``,
    ``normal(mean, std_tensor)``, and ``normal(mean, std, size)`` with Python numbers.

    Example:
        >>> ember.normal(ember.zeros(3), 1.0).shape
        (3,)
    """
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal(): with float mean and std, size is required")
        _check_std(std, "normal")

        def draw(source, shape, wanted):
            return (_standard_normal(source, shape, wanted) * std + mean).astype(wanted)

        return _draw("normal", draw, (size,), dtype, device, requires_grad, generator)
    if size is not None:
        raise TypeError("normal(): size is only accepted with float mean and std")
    if isinstance(std, Tensor):
        if std._array.size and bool((std._array < 0).any()):
            raise RuntimeError("normal: expects all elements of std >= 0.0")
    else:
        _check_std(std, "normal")
    wanted = dtypes.result_type(*tensors).numpy
    device = tensors[0].device
    if any(t.device != device for t in tensors):
        raise RuntimeError(f"normal: mean and std must be on the same device, got "
                           f"{mean.device} and {std.device}")
    shape = np.broadcast_shapes(*(t._array.shape for t in tensors))
    mean_value, std_value = (v._array if isinstance(v, Tensor) else v for v in (mean, std))
    source = _source(generator, device, "normal")
    with device_context(device):
        array = _standard_normal(source, shape, wanted) * std_value + mean_value
        return Tensor(array.astype(wanted, copy=False))


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """Zeros and ones (in ``input``'s dtype): 1 with probability ``input`` (elementwise), or
    with probability ``p`` everywhere when ``p`` is given.

    Example:
        >>> ember.bernoulli(ember.tensor([0.0, 1.0]))
        tensor([0., 1.])
    """
    probabilities = input._array if p is None else p
    _check_probability(probabilities, "bernoulli")
    source = _source(generator, input.device, "bernoulli")
    with device_context(input.device):
        return Tensor(_bernoulli(source, input._array.shape, input._array.dtype, probabilities))


def _check_probability(p, op_name: str) -> None:
    if isinstance(p, Tensor):
        p = p._array
    if isinstance(p, numbers.Number):
        if not 0 <= p <= 1:
            raise RuntimeError(f"{op_name}: expects p to be in [0, 1], but got p={p}")
    elif p.size:  # on a GPU checked once the extremes reach the host, without waiting
        check_extremes(p, lambda low, high: _probability_error(low, high, op_name))


def _probability_error(low: float, high: float, op_name: str):
    if not (low >= 0 and high <= 1):  # a NaN makes both extremes NaN: refused too
        return RuntimeError(f"{op_name}: expects all probabilities to be in [0, 1]")
    return None


def _bernoulli(source, shape, dtype, p):
    """Ones where a uniform draw falls below ``p`` (a number or a broadcastable array)."""
    wide = p.dtype if getattr(p, "dtype", None) in (np.float32, np.float64) else np.float64
    return (source.uniform(shape, wide) < p).astype(dtype)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """Category indices drawn from the (unnormalised) probabilities in the last dimension.

    Args:
        input: weights of shape ``(C,)`` or ``(N, C)``, non-negative with a positive sum.
        num_samples: draws per row; without replacement at most the number of non-zero weights.

    Returns:
        int64 indices of shape ``(num_samples,)`` or ``(N, num_samples)``.

    Example:
        >>> ember.multinomial(ember.tensor([0.0, 1.0, 1.0]), 2).sort().values
        tensor([1, 2])
    """
    data = input._array
    if data.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {data.ndim} dims")
    if data.dtype.kind != "f":
        raise RuntimeError(
            f"multinomial only supports floating-point dtypes for input, got: {input.dtype}"
        )
    categories = data.shape[-1]
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    if not replacement and num_samples > categories:
        raise RuntimeError(
            f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
            f"replacement ({num_samples} > {categories})"
        )
    device = input.device
    source = _source(generator, device, "multinomial")
    with device_context(device):
        probs = data.reshape(-1, categories).astype(np.float64)
        _check_weights(probs, num_samples, replacement)
        draw = _with_replacement if replacement else _without_replacement
        return Tensor(draw(source, probs, num_samples).reshape(data.shape[:-1] + (num_samples,)))


def _check_weights(probs, num_samples: int, replacement: bool) -> None:
    xp = xp_of(probs)
    if probs.size == 0:
        return
    if not bool(xp.isfinite(probs).all()) or bool((probs < 0).any()):
        raise RuntimeError(
            "multinomial: probability tensor contains either `inf`, `nan` or element < 0"
        )
    if bool((probs.sum(axis=1) <= 0).any()):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities "
                           "<= 0)")
    if not replacement and bool(((probs > 0).sum(axis=1) < num_samples).any()):
        raise RuntimeError(
            "multinomial: invalid multinomial distribution (with replacement=False, not enough "
            f"non-zero categories to draw {num_samples} samples)"
        )


def _with_replacement(source, probs, num_samples: int):
    """Inverse-CDF sampling, all rows in one searchsorted: row r's CDF is shifted by r.

    Each row's CDF is divided by its own last entry, so it ends at exactly 1.0, and categories
    of zero weight repeat their predecessor's value, so ``side='right'`` never lands on them.
    """
    xp = source.xp
    rows, categories = probs.shape
    cdf = xp.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    offsets = xp.arange(rows, dtype=np.float64)[:, None]
    draws = source.uniform((rows, num_samples), np.float64) + offsets
    flat = xp.searchsorted((cdf + offsets).ravel(), draws.ravel(), side="right")
    index = flat.reshape(rows, num_samples) - xp.arange(rows)[:, None] * categories
    return xp.minimum(index, categories - 1).astype(np.int64)


def _without_replacement(source, probs, num_samples: int):
    """The exponential race (equivalent to Gumbel-top-k): the ``num_samples`` largest of
    ``p / E`` with ``E ~ Exp(1)`` are a draw without replacement, in order."""
    xp = source.xp
    keys = probs / source.exponential(probs.shape, np.float64)
    return xp.argsort(-keys, axis=1)[:, :num_samples].astype(np.int64)


# ---- in-place fills (Tensor methods) ---------------------------------------------------------


def _fill_(tensor: Tensor, op_name: str, generator, draw) -> Tensor:
    """Overwrites every element of ``tensor`` with ``draw(source, shape, numpy_dtype)``.

    In grad mode a leaf that requires grad may not be filled (PyTorch's rule: use no_grad);
    the version bump makes a saved copy of the old values fail loudly in backward.
    """
    tensor._check_fill(op_name)
    device = tensor.device
    source = _source(generator, device, op_name)
    with device_context(device):
        tensor._array[...] = draw(source, tensor._array.shape, tensor._array.dtype)
    tensor._bump_version()
    return tensor


def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *, generator=None) -> Tensor:
    """Fills with samples uniform on [from_, to)."""
    if from_ > to:
        raise RuntimeError(f"uniform_: expects to return a [from, to) range, but found "
                           f"from={from_} > to={to}")

    def draw(source, shape, dtype):
        return _uniform(source, shape, dtype) * (to - from_) + from_

    return _fill_(self, "uniform_", generator, draw)


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fills with normal samples of the given mean and standard deviation."""
    _check_std(std, "normal_")
    return _fill_(self, "normal_", generator,
                  lambda source, shape, dtype: _standard_normal(source, shape, dtype) * std + mean)


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fills with ones with probability ``p`` (a number or a tensor broadcast to this shape)."""
    _check_probability(p, "bernoulli_")
    if isinstance(p, Tensor):
        p = p._array
    return _fill_(self, "bernoulli_", generator,
                  lambda source, shape, dtype: _bernoulli(source, shape, dtype, p))


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fills with exponential samples of rate ``lambd``."""
    if lambd <= 0:
        raise RuntimeError(f"exponential_: expects lambda > 0.0, but found lambda={lambd}")
    return _fill_(self, "exponential_", generator,
                  lambda source, shape, dtype: source.exponential(shape, _floating(
                      dtype, "exponential_")) / dtype.type(lambd))


def random_(self: Tensor, from_: int = 0, to: int | None = None, *, generator=None) -> Tensor:
    """Fills with integers uniform on [from_, to); ``random_(to)`` means [0, to).

    Without ``to`` the range is everything the dtype holds exactly: [0, 2**mantissa] for
    floats, [0, max] for integers.
    """
    if to is None and from_ != 0:
        from_, to = 0, from_
    dtype = self._array.dtype
    if to is None:
        if dtype.kind == "f":
            to = 2 ** (np.finfo(dtype).nmant + 1) + 1
        elif dtype.kind == "b":
            to = 2
        else:
            to = int(np.iinfo(dtype).max) + 1
    _check_range(from_, to, "random_")
    return _fill_(self, "random_", generator,
                  lambda source, shape, d: source.integers(int(from_), int(to), shape, d))


for _method in (uniform_, normal_, bernoulli_, exponential_, random_):
    register_op(f"_random_{_method.__name__}", _method, method=_method.__name__, function=False)
register_op("_random_bernoulli", bernoulli, method="bernoulli", function=False)
register_op("_random_multinomial", multinomial, method="multinomial", function=False)
