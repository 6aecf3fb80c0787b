"""Random tensors: reproducibility, generator state, distributions, in-place fills."""

import numpy as np
import pytest

import ember
from ember.ops._views import as_view


def to_numpy(tensor):
    return tensor.detach().cpu().numpy()

N = 100_000  # samples for the statistical checks; bounds below are > 6 standard errors wide


def _draws(device):
    """One call of every sampling function, as host arrays (to compare two seeded runs)."""
    probs = ember.tensor([[0.1, 0.5, 0.4], [1.0, 1.0, 0.0]], device=device)
    x = ember.empty(4, device=device)
    results = [
        ember.rand(3, 2, device=device),
        ember.randn(4, device=device),
        ember.randint(0, 10, (5,), device=device),
        ember.randperm(7, device=device),
        ember.normal(ember.zeros(3, device=device), ember.ones(3, device=device)),
        ember.normal(1.0, 2.0, (3,), device=device),
        ember.bernoulli(ember.full((5,), 0.5, device=device)),
        ember.multinomial(probs, 2),
        ember.multinomial(probs, 4, replacement=True),
        ember.rand_like(x),
        ember.randn_like(x),
        ember.randint_like(x, 5),
        ember.zeros(x.shape, device=device).uniform_(-1, 1),
        ember.zeros(x.shape, device=device).normal_(2.0, 0.5),
        ember.zeros(x.shape, device=device).bernoulli_(0.3),
        ember.zeros(x.shape, device=device).exponential_(2.0),
        ember.zeros(x.shape, device=device).random_(0, 9),
    ]
    return [to_numpy(r) for r in results]


def _assert_same(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_manual_seed_reproduces_every_function(device):
    ember.manual_seed(123)
    first = _draws(device)
    ember.manual_seed(123)
    _assert_same(first, _draws(device))
    ember.manual_seed(124)
    assert not np.array_equal(first[0], _draws(device)[0])


def test_manual_seed_returns_generator_and_sets_initial_seed():
    generator = ember.manual_seed(7)
    assert isinstance(generator, ember.Generator)
    assert generator is ember.default_generator
    assert ember.initial_seed() == 7
    ember.manual_seed(-1)  # PyTorch wraps negative seeds to unsigned 64 bits
    assert ember.initial_seed() == 2**64 - 1
    with pytest.raises(RuntimeError):
        ember.manual_seed(2**64)


def test_seed_is_fresh_and_recorded():
    value = ember.seed()
    assert ember.initial_seed() == value
    assert 0 <= value < 2**64
    assert ember.seed() != value


def test_rng_state_round_trip_resumes_the_exact_stream():
    ember.manual_seed(0)
    ember.rand(10)
    state = ember.get_rng_state()
    assert isinstance(state, ember.Tensor) and state.dtype == ember.uint8
    expected = [ember.rand(5).numpy(), ember.randn(3).numpy(), ember.randperm(6).numpy()]
    ember.rand(100)  # move on, then come back
    ember.set_rng_state(state)
    got = [ember.rand(5).numpy(), ember.randn(3).numpy(), ember.randperm(6).numpy()]
    _assert_same(expected, got)


def test_set_rng_state_rejects_garbage():
    with pytest.raises(RuntimeError, match="state"):
        ember.set_rng_state(ember.tensor([1, 2, 3], dtype=ember.uint8))


def test_generator_objects_are_independent_of_the_default(device):
    generator = ember.Generator(device).manual_seed(5)
    first = to_numpy(ember.randn(6, generator=generator, device=device))
    ember.manual_seed(99)  # the default generator does not touch an explicit one
    generator.manual_seed(5)
    np.testing.assert_array_equal(first, to_numpy(ember.randn(6, generator=generator,
                                                               device=device)))
    state = generator.get_state()
    after = to_numpy(ember.rand(4, generator=generator, device=device))
    generator.set_state(state)
    np.testing.assert_array_equal(after, to_numpy(ember.rand(4, generator=generator,
                                                               device=device)))
    assert generator.initial_seed() == 5


def test_every_function_accepts_a_generator(device):
    def run():
        generator = ember.Generator(device).manual_seed(11)
        probs = ember.tensor([0.2, 0.3, 0.5], device=device)
        x = ember.zeros(3, device=device)
        results = [
            ember.rand(2, generator=generator, device=device),
            ember.randn(2, generator=generator, device=device),
            ember.randint(5, (2,), generator=generator, device=device),
            ember.randperm(4, generator=generator, device=device),
            ember.normal(probs, 1.0, generator=generator),
            ember.normal(0.0, 1.0, (2,), generator=generator, device=device),
            ember.bernoulli(probs, generator=generator),
            ember.multinomial(probs, 2, generator=generator),
            ember.rand_like(x, generator=generator),
            ember.zeros(x.shape, device=device).uniform_(generator=generator),
            ember.zeros(x.shape, device=device).normal_(generator=generator),
            ember.zeros(x.shape, device=device).bernoulli_(0.5, generator=generator),
            ember.zeros(x.shape, device=device).exponential_(generator=generator),
            ember.zeros(x.shape, device=device).random_(3, generator=generator),
        ]
        return [to_numpy(r) for r in results]

    ember.manual_seed(1)
    first = run()
    ember.manual_seed(2)  # the default generator's state must not matter
    _assert_same(first, run())


@pytest.mark.cuda
def test_generator_on_the_wrong_device_type_is_rejected():
    with pytest.raises(RuntimeError, match="device type for generator"):
        ember.rand(2, device="cuda", generator=ember.Generator("cpu"))


def test_shapes_dtypes_devices_and_requires_grad(device):
    assert ember.rand(2, 3, device=device).shape == (2, 3)
    assert ember.rand((2, 3)).shape == (2, 3)
    assert ember.rand(()).shape == ()
    assert ember.randn(0, 4).shape == (0, 4)
    assert ember.rand(2).dtype == ember.float32
    assert ember.randn(2, dtype=ember.float64).dtype == ember.float64
    assert ember.rand(2, dtype=ember.float16).dtype == ember.float16
    assert ember.randint(3, (2,)).dtype == ember.int64
    assert ember.randint(3, (2,), dtype=ember.int32).dtype == ember.int32
    assert ember.randint(3, (2,), dtype=ember.float32).dtype == ember.float32
    assert ember.randperm(3).dtype == ember.int64
    assert ember.rand(2, device=device).device == device
    x = ember.randn(3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        ember.randint(3, (2,), requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        ember.rand(2, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.rand(-1)


def test_default_dtype_is_followed():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.rand(2).dtype == ember.float64
        assert ember.normal(0.0, 1.0, (2,)).dtype == ember.float64
    finally:
        ember.set_default_dtype(ember.float32)


def test_like_functions_follow_input():
    x = ember.zeros(2, 3, dtype=ember.float64)
    for fn in (ember.rand_like, ember.randn_like):
        y = fn(x)
        assert y.shape == (2, 3) and y.dtype == ember.float64
        assert fn(x, dtype=ember.float32).dtype == ember.float32
    assert ember.randint_like(x, 4).dtype == ember.float64
    values = ember.randint_like(ember.zeros(1000, dtype=ember.int32), 3, 6).numpy()
    assert values.dtype == np.int32 and set(np.unique(values)) == {3, 4, 5}
    with pytest.raises(RuntimeError, match="floating point"):
        ember.rand_like(ember.zeros(2, dtype=ember.int64))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_uniform_range_and_moments(device, dtype):
    u = to_numpy(ember.rand(N, device=device, dtype=getattr(ember, dtype))).astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.006
    assert abs(u.std() - np.sqrt(1 / 12)) < 0.005


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_moments(device, dtype):
    z = to_numpy(ember.randn(N, device=device, dtype=getattr(ember, dtype)))
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert 0.3 < (z > 0.5).mean() < 0.32  # P(Z > 0.5) = 0.3085: the shape, not only moments


def test_normal_forms(device):
    y = to_numpy(ember.normal(3.0, 2.0, (N,), device=device))
    assert abs(y.mean() - 3) < 0.04 and abs(y.std() - 2) < 0.04
    mean = ember.tensor([[-5.0], [5.0]], device=device)
    std = ember.tensor([0.5, 1.0, 2.0], device=device)
    out = ember.normal(mean, std)  # broadcast to (2, 3)
    assert out.shape == (2, 3) and out.device == device
    samples = to_numpy(ember.normal(ember.full((2, N), 4.0, device=device), 0.5))
    assert abs(samples.mean() - 4) < 0.01 and abs(samples.std() - 0.5) < 0.01
    zero_std = to_numpy(ember.normal(mean, 0.0))
    np.testing.assert_array_equal(zero_std, to_numpy(mean))
    spread = to_numpy(ember.normal(1.0, ember.full((N,), 3.0, device=device)))
    assert abs(spread.mean() - 1) < 0.06 and abs(spread.std() - 3) < 0.06
    assert ember.normal(ember.zeros(2, dtype=ember.float64), 1.0).dtype == ember.float64
    with pytest.raises(RuntimeError, match="std"):
        ember.normal(0.0, -1.0, (2,))
    with pytest.raises(RuntimeError, match="std"):
        ember.normal(ember.zeros(2), ember.tensor([1.0, -1.0]))
    with pytest.raises(TypeError, match="size"):
        ember.normal(0.0, 1.0)


def test_randint_bounds_and_uniformity(device):
    values = to_numpy(ember.randint(-3, 4, (N,), device=device))
    counts = np.bincount(values + 3, minlength=7)
    assert values.min() == -3 and values.max() == 3
    assert np.abs(counts / N - 1 / 7).max() < 0.006
    assert to_numpy(ember.randint(5, (10,))).max() < 5
    big = to_numpy(ember.randint(2**40, 2**40 + 5, (100,)))  # beyond 32-bit ranges
    assert big.min() >= 2**40 and big.max() < 2**40 + 5
    with pytest.raises(RuntimeError, match="from"):
        ember.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="size"):
        ember.randint(5)


def test_randperm_is_a_permutation(device):
    for n in (0, 1, 10, 1000):
        p = to_numpy(ember.randperm(n, device=device))
        np.testing.assert_array_equal(np.sort(p), np.arange(n))
    assert not np.array_equal(to_numpy(ember.randperm(50)), np.arange(50))
    assert ember.randperm(5, dtype=ember.float32).dtype == ember.float32


def test_bernoulli_probabilities(device):
    p = ember.tensor([0.0, 0.2, 0.7, 1.0], device=device)
    draws = to_numpy(ember.bernoulli(p.expand(N // 10, 4).contiguous()))
    assert set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(axis=0), [0.0, 0.2, 0.7, 1.0], atol=0.015)
    assert draws[:, 0].max() == 0 and draws[:, 3].min() == 1  # the extremes are exact
    scalar_p = to_numpy(ember.bernoulli(ember.zeros(N, device=device), 0.25))
    assert abs(scalar_p.mean() - 0.25) < 0.01
    assert ember.bernoulli(p.double()).dtype == ember.float64
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        ember.bernoulli(ember.tensor([0.5, 1.5]))
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        ember.bernoulli(ember.zeros(2), 2.0)


def test_multinomial_frequencies_with_replacement(device):
    weights = ember.tensor([1.0, 0.0, 3.0, 6.0], device=device)  # unnormalised
    draws = to_numpy(ember.multinomial(weights, N, replacement=True))
    assert draws.dtype == np.int64 and draws.shape == (N,)
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / N, [0.1, 0, 0.3, 0.6],
                               atol=0.01)
    assert not (draws == 1).any()  # zero weight is never drawn


def test_multinomial_rows_with_replacement(device):
    weights = ember.tensor([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 2.0]], device=device)
    draws = to_numpy(ember.multinomial(weights, 2000, True))
    assert draws.shape == (3, 2000)
    assert (draws[0] == 1).all() and (draws[2] == 2).all()
    assert set(np.unique(draws[1])) == {0, 2} and abs((draws[1] == 0).mean() - 0.5) < 0.06


def test_multinomial_without_replacement_gives_distinct_indices(device):
    weights = ember.rand(50, 8, device=device) + 0.01
    draws = to_numpy(ember.multinomial(weights, 8))
    for row in draws:
        np.testing.assert_array_equal(np.sort(row), np.arange(8))
    first = to_numpy(ember.multinomial(ember.tensor([0.0, 9.0, 1.0, 0.0], device=device), 2))
    assert sorted(first) == [1, 2]


def test_multinomial_without_replacement_follows_the_weights(device):
    # First draw of a sequential draw without replacement follows the weights themselves.
    weights = ember.tensor([[0.6, 0.3, 0.1]], device=device).expand(20000, 3).contiguous()
    draws = to_numpy(ember.multinomial(weights, 2))
    np.testing.assert_allclose(np.bincount(draws[:, 0], minlength=3) / 20000, [0.6, 0.3, 0.1],
                               atol=0.02)
    # P(second = 2) = 0.6 * 0.1/0.4 + 0.3 * 0.1/0.7
    assert abs((draws[:, 1] == 2).mean() - (0.15 + 0.3 / 7)) < 0.02


def test_multinomial_errors():
    with pytest.raises(RuntimeError, match="without replacement"):
        ember.multinomial(ember.ones(3), 4)
    with pytest.raises(RuntimeError, match="non-zero categories"):
        ember.multinomial(ember.tensor([1.0, 0.0, 0.0]), 2)
    with pytest.raises(RuntimeError, match="element < 0"):
        ember.multinomial(ember.tensor([1.0, -1.0]), 1)
    with pytest.raises(RuntimeError, match="sum of probabilities"):
        ember.multinomial(ember.zeros(3), 1, True)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        ember.multinomial(ember.ones(2, 2, 2), 1)
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.multinomial(ember.tensor([1, 2]), 1)


def test_tensor_methods_match_functions():
    ember.manual_seed(3)
    a = ember.tensor([0.2, 0.8]).bernoulli()
    m = ember.tensor([0.2, 0.8]).multinomial(1)
    ember.manual_seed(3)
    np.testing.assert_array_equal(a.numpy(), ember.bernoulli(ember.tensor([0.2, 0.8])).numpy())
    np.testing.assert_array_equal(m.numpy(), ember.multinomial(ember.tensor([0.2, 0.8]), 1)
                                  .numpy())


def test_in_place_fills(device):
    x = ember.empty(N, device=device)
    assert x.uniform_(-2.0, 3.0) is x
    u = to_numpy(x)
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.03
    z = to_numpy(x.normal_(1.0, 3.0))
    assert abs(z.mean() - 1) < 0.06 and abs(z.std() - 3) < 0.06
    b = to_numpy(x.bernoulli_(0.3))
    assert set(np.unique(b)) == {0.0, 1.0} and abs(b.mean() - 0.3) < 0.01
    e = to_numpy(x.exponential_(4.0))
    assert e.min() >= 0 and abs(e.mean() - 0.25) < 0.005 and abs(e.std() - 0.25) < 0.006
    r = to_numpy(x.random_(2, 5))
    assert set(np.unique(r)) == {2.0, 3.0, 4.0}
    assert set(np.unique(to_numpy(x.random_(3)))) == {0.0, 1.0, 2.0}
    ints = ember.zeros(1000, dtype=ember.uint8, device=device).random_()
    assert ints.dtype == ember.uint8 and to_numpy(ints).max() > 200
    p = ember.tensor([0.0, 1.0], device=device)
    np.testing.assert_array_equal(to_numpy(ember.empty(2, device=device).bernoulli_(p)), [0, 1])


def test_in_place_fill_of_a_view_writes_through_and_bumps_versions():
    base = ember.zeros(2, 3)
    row = as_view(ember.Tensor(base._array[1]), base)  # what base[1] returns
    row.uniform_(5.0, 6.0)
    assert (base.numpy()[0] == 0).all() and (base.numpy()[1] >= 5).all()
    assert base._version[0] == row._version[0] == 1


def test_in_place_fills_under_autograd():
    w = ember.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.normal_()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.uniform_()
    with ember.no_grad():
        w.normal_()  # how initialisers fill parameters
    assert w.requires_grad and w.is_leaf
    # A saved tensor overwritten by a fill fails loudly in backward.
    x = ember.ones(3, requires_grad=True)
    y = ember.ones(3)
    loss = (x * y).sum()
    y.uniform_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    # A non-leaf that is overwritten no longer depends on its history.
    h = x * 2
    h.bernoulli_(1.0)
    assert not h.requires_grad and h.grad_fn is None


def test_in_place_fill_errors():
    x = ember.zeros(3)
    with pytest.raises(RuntimeError, match="from"):
        x.uniform_(2.0, 1.0)
    with pytest.raises(RuntimeError, match="std"):
        x.normal_(0.0, -1.0)
    with pytest.raises(RuntimeError, match="lambda"):
        x.exponential_(0.0)
    with pytest.raises(RuntimeError, match="floating point"):
        ember.zeros(3, dtype=ember.int64).normal_()
