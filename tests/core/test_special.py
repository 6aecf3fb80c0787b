"""lgamma, digamma, polygamma, erfinv, xlogy, logit, sinc, mvlgamma and ember.special.

References: Python's math.lgamma/math.erf, and values computed with mpmath at 30 digits.
"""

import math

import numpy as np
import pytest

import ember
from ember import special
from harness import OpCase, check_op

POINTS = [-7.3, -2.5, -0.5, 0.1, 0.5, 1.0, 1.4616321449683623, 2.0, 3.7, 10.0, 25.5, 1000.0]
MPMATH_DIGAMMA = [
    4.33730730551005, 1.103156640645243, 0.03648997397857652, -10.423754940411076,
    -1.9635100260214235, -0.5772156649015329, -9.241265521729427e-17, 0.42278433509846713,
    1.1671535393615113, 2.251752589066721, 3.2189424728839198, 6.907255195648812,
]
MPMATH_POLYGAMMA = {
    1: [14.951383181433922, 9.539246644989124, 8.934802200544679, 101.43329915079275,
        4.934802200544679, 1.6449340668482264, 0.9676722454476212, 0.6449340668482264,
        0.3100378576700383, 0.10516633568168575, 0.03999466964956292, 0.0010005001666666333],
    2: [68.82117406359033, -0.1082040516417274, -0.82879664423432, -2001.8614573783436,
        -16.82879664423432, -2.4041138063191885, -0.8855263379671844, -0.4041138063191886,
        -0.09539530872855403, -0.011049834970802067, -0.0015993605962783073,
        -1.0010004999998333e-06],
    3: [769.0167339816824, 194.74787621918762, 193.40909103400244, 60004.51287679026,
        97.40909103400244, 6.493939402266829, 1.5509985657339065, 0.49393940226682914,
        0.058279217956563614, 0.0023199013042898686, 0.00012789774302263916,
        2.003001999999e-09],
}
ERFINV_POINTS = [-0.999999, -0.9, -0.3, 1e-8, 0.25, 0.5, 0.8, 0.99, 0.999999999, 1 - 2**-52]
MPMATH_ERFINV = [
    -3.458910737275499, -1.1630871536766743, -0.2724627147267543, 8.86226925452758e-09,
    0.2253120550121781, 0.4769362762044699, 0.9061938024368233, 1.8213863677184494,
    4.320005388105362, 5.805018683193453,
]

ref_lgamma = np.vectorize(math.lgamma, otypes=[np.float64])


def _away_from_poles(rng, shapes, dtype):
    """Inputs of mixed sign kept 0.2 away from the poles at 0, -1, -2 ..."""
    values = [rng.uniform(-3.0, 4.0, size=s) for s in shapes]
    values = [np.where(np.abs(v - np.round(v)) < 0.2, v + 0.4, v) for v in values]
    return [v.astype(dtype) for v in values]


def _probabilities(rng, shapes, dtype):
    return [rng.uniform(0.05, 0.95, size=s).astype(dtype) for s in shapes]


CASES = [
    OpCase("lgamma", lambda a: ref_lgamma(a).astype(a.dtype), [(3, 4), ()],
           inputs=_away_from_poles),
    OpCase("digamma", lambda a: _digamma_reference(a), [(3, 4)], inputs=_away_from_poles,
           atol=1e-6),
    OpCase("erfinv", lambda a: _erfinv_reference(a), [(3, 4), ()], low=-0.95, high=0.95),
    OpCase("logit", lambda a, eps=None: np.log(a / (1 - a)), [(3, 4)], inputs=_probabilities),
    OpCase("logit", lambda a, eps: np.log(np.clip(a, eps, 1 - eps) / (1 - np.clip(a, eps, 1 -
                                                                                   eps))),
           [(3, 4)], kwargs={"eps": 0.2}, inputs=_probabilities, id="logit-eps"),
    OpCase("xlogy", lambda a, b: a * np.log(b), [((3, 4), (3, 4)), ((4,), (2, 4))], arity=2,
           inputs=lambda rng, shapes, dtype: [rng.uniform(-2, 2, shapes[0]).astype(dtype),
                                              rng.uniform(0.2, 3, shapes[1]).astype(dtype)]),
    OpCase("sinc", np.sinc, [(3, 4)], low=-3.0, high=3.0),
    OpCase("mvlgamma", lambda a, p: sum(ref_lgamma(a - j / 2) for j in range(p))
           + p * (p - 1) / 4 * math.log(math.pi), [(3, 2)], kwargs={"p": 3}, low=1.5, high=5.0),
]


def _digamma_reference(a):
    """psi from math.lgamma by a 5-point central difference (accurate to ~1e-9 here)."""
    h, a64 = 1e-3, a.astype(np.float64)
    a, dtype = a64, a.dtype
    return ((-ref_lgamma(a + 2 * h) + 8 * ref_lgamma(a + h) - 8 * ref_lgamma(a - h)
             + ref_lgamma(a - 2 * h)) / (12 * h)).astype(dtype)


def _erfinv_reference(a):
    """erfinv by bisection on math.erf (60 halvings: float64 exact)."""
    low, high = np.full(a.shape, -6.0), np.full(a.shape, 6.0)
    erf = np.vectorize(math.erf)
    for _ in range(60):
        middle = (low + high) / 2
        below = erf(middle) < a
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return ((low + high) / 2).astype(a.dtype)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_op(case, device):
    check_op(case, device)


def test_digamma_and_polygamma_match_mpmath():
    x = ember.tensor(POINTS, dtype=ember.float64)
    np.testing.assert_allclose(ember.digamma(x).numpy(), MPMATH_DIGAMMA, rtol=1e-13, atol=1e-15)
    for n, expected in MPMATH_POLYGAMMA.items():
        np.testing.assert_allclose(ember.polygamma(n, x).numpy(), expected, rtol=1e-13)
        np.testing.assert_allclose(x.polygamma(n).numpy(), expected, rtol=1e-13)


def test_lgamma_matches_math_lgamma_over_a_wide_range():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(-30, 30, 500), 10 ** rng.uniform(-10, 300, 200),
                             [1.0, 2.0, 0.5, 1.5, 13.0, 1e-300]])
    values = values[np.abs(values - np.round(values)) > 1e-6]
    got = ember.lgamma(ember.tensor(values, dtype=ember.float64)).numpy()
    np.testing.assert_allclose(got, ref_lgamma(values), rtol=1e-14, atol=1e-14)
    exact = ember.lgamma(ember.tensor([1.0, 2.0], dtype=ember.float64)).numpy()
    assert exact.tolist() == [0.0, 0.0]


def test_poles_and_special_values_as_pytorch():
    x = ember.tensor([0.0, -1.0, -2.0, float("inf")], dtype=ember.float64)
    assert ember.lgamma(x).tolist() == [math.inf] * 4
    digamma = ember.digamma(x).numpy()
    assert digamma[0] == -math.inf and np.isnan(digamma[1:3]).all() and digamma[3] == math.inf
    assert ember.polygamma(1, ember.tensor([0.0])).item() == math.inf
    erfinv = ember.erfinv(ember.tensor([1.0, -1.0, 1.5, float("nan")])).numpy()
    assert erfinv[0] == math.inf and erfinv[1] == -math.inf and np.isnan(erfinv[2:]).all()
    with pytest.raises(RuntimeError, match="does not support negative or non-integer n"):
        ember.polygamma(-1, x)


def test_erfinv_matches_mpmath_into_the_tails():
    got = ember.erfinv(ember.tensor(ERFINV_POINTS, dtype=ember.float64)).numpy()
    np.testing.assert_allclose(got, MPMATH_ERFINV, rtol=1e-14)
    p = np.linspace(-0.999, 0.999, 101)
    round_trip = np.vectorize(math.erf)(ember.erfinv(ember.tensor(p)).double().numpy())
    np.testing.assert_allclose(round_trip, p, atol=1e-6)  # float32 results


@pytest.mark.parametrize("fn", [ember.lgamma, ember.digamma, lambda t: ember.polygamma(2, t)],
                         ids=["lgamma", "digamma", "polygamma2"])
def test_gamma_family_second_order_gradients(fn):
    x = ember.tensor([0.3, 1.7, 4.2, -0.6], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(fn, [x])
    assert ember.autograd.gradgradcheck(fn, [x])


def test_xlogy_is_zero_where_x_is_zero_with_pytorch_gradients():
    x = ember.tensor([0.0, 0.0, 2.0], dtype=ember.float64, requires_grad=True)
    y = ember.tensor([0.0, 3.0, 4.0], dtype=ember.float64, requires_grad=True)
    out = ember.xlogy(x, y)
    assert out.tolist()[:2] == [0.0, 0.0]
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, math.log(4.0)])
    # d/dy = x / y: 0 / 0 is NaN at (0, 0), as in PyTorch
    np.testing.assert_allclose(y.grad.numpy(), [math.nan, 0.0, 0.5])
    assert math.isnan(ember.xlogy(ember.tensor([0.0]), float("nan")).item())
    assert ember.xlogy(2.0, ember.tensor([math.e])).item() == pytest.approx(2.0)
    assert ember.xlogy(ember.tensor([1, 2]), ember.tensor([2, 4])).dtype == ember.float32


def test_special_namespace_matches_pytorch_names():
    x = ember.tensor([0.25, 0.5, 0.75], dtype=ember.float64)
    np.testing.assert_allclose(special.expit(special.logit(x)).numpy(), x.numpy())
    np.testing.assert_allclose(special.gammaln(x).numpy(), ref_lgamma(x.numpy()))
    assert special.psi is special.digamma and special.erfinv is ember.erfinv
    np.testing.assert_allclose(special.ndtri(special.ndtr(x)).numpy(), x.numpy(), rtol=1e-12)
    np.testing.assert_allclose(special.ndtr(ember.tensor([0.0])).numpy(), [0.5])
    entropy = special.entr(ember.tensor([0.0, 0.5, -1.0])).numpy()
    assert entropy[0] == 0.0 and entropy[1] == pytest.approx(0.5 * math.log(2)) \
        and entropy[2] == -math.inf
    np.testing.assert_allclose(special.xlog1py(ember.tensor([2.0]), 1.0).numpy(),
                               [2 * math.log(2)])
    np.testing.assert_allclose(special.multigammaln(ember.tensor([2.5]), 1).numpy(),
                               [math.lgamma(2.5)], rtol=1e-6)
    for name in special.__all__:
        assert callable(getattr(special, name))
    assert special.log_softmax(x, 0).exp().sum().item() == pytest.approx(1.0)


def test_special_gradients():
    x = ember.tensor([0.2, 0.6, 0.9], dtype=ember.float64, requires_grad=True)
    for fn in (special.ndtri, special.entr, lambda t: special.xlog1py(t, t)):
        assert ember.autograd.gradcheck(fn, [x])
        assert ember.autograd.gradgradcheck(fn, [x])


MPMATH_BESSEL = {  # x: (I0, I1) at 30 digits
    0.0: (1.0, 0.0),
    -2.5: (3.289839144050123, -2.5167162452886984),
    10.0: (2815.7166284662544, 2670.9883037012546),
    45.0: (2.0834140751773148e18, 2.0601334620815772e18),
}


def test_bessel_i0_i1_match_mpmath_and_scaled_forms():
    x = ember.tensor(list(MPMATH_BESSEL), dtype=ember.float64)
    i0_expected, i1_expected = zip(*MPMATH_BESSEL.values())
    np.testing.assert_allclose(ember.i0(x).numpy(), i0_expected, rtol=1e-14)
    np.testing.assert_allclose(special.i1(x).numpy(), i1_expected, rtol=1e-14, atol=1e-300)
    scale = np.exp(-np.abs(x.numpy()))
    np.testing.assert_allclose(special.i0e(x).numpy(), np.array(i0_expected) * scale, rtol=1e-14)
    np.testing.assert_allclose(special.i1e(x).numpy(), np.array(i1_expected) * scale, rtol=1e-14)
    assert np.isfinite(special.i0e(ember.tensor([1e4], dtype=ember.float64)).numpy()).all()
    np.testing.assert_allclose(ember.i0(ember.tensor([0.5, 3.0])).numpy(), np.i0([0.5, 3.0]),
                               rtol=1e-6)


@pytest.mark.parametrize("name", ["i0", "i1", "i0e", "i1e"])
def test_bessel_gradients(name):
    fn = getattr(special, name)
    x = ember.tensor([-3.0, -0.5, 0.7, 2.0, 35.0], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(fn, [x])
    assert ember.autograd.gradgradcheck(fn, [x])


@pytest.mark.parametrize("name, args", [("lgamma", ()), ("digamma", ()), ("polygamma", (2,)),
                                        ("erfinv", ()), ("logit", ()), ("i0", ()),
                                        ("sinc", ()), ("xlogy", (ember.tensor([2.0, 3.0]),))])
def test_in_place_forms_match_out_of_place(name, args):
    x = ember.tensor([0.25, 0.75])
    expected = getattr(x, name)(*args)
    assert getattr(x, f"{name}_")(*args) is x
    np.testing.assert_allclose(x.numpy(), expected.numpy())

