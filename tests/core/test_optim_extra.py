"""NAdam, RAdam, Adamax, Adadelta, ASGD and LBFGS: trajectories against numpy implementations of
PyTorch's documented algorithms, and state-dict round trips; LBFGS minimises Rosenbrock."""

import math

import numpy as np
import pytest

import ember
import ember.optim as optim
from test_optim import check_trajectory, gradients, host, make, step_with, through_save

# ---- numpy references, written from the documented algorithms -----------------------------------


def _decayed(p, g, lr, weight_decay, decoupled, maximize):
    g = -g if maximize else g
    if decoupled:
        return p * (1 - lr * weight_decay), g
    return p, g + weight_decay * p


def ref_nadam(p, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False):
    beta1, beta2 = betas
    m = v = np.zeros_like(p)
    mu_product = np.float32(1.0)  # PyTorch keeps the product in a float32 scalar tensor
    for t, g in enumerate(grads, start=1):
        p, g = _decayed(p, g, lr, weight_decay, decoupled_weight_decay, maximize)
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        mu_product = np.float32(mu_product * mu)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        denom = np.sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu) / (1 - float(mu_product)) * g / denom
        p = p - lr * mu_next / (1 - float(mu_product) * mu_next) * m / denom
        yield p


def ref_radam(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
              decoupled_weight_decay=False, maximize=False):
    beta1, beta2 = betas
    m = v = np.zeros_like(p)
    rho_inf = 2 / (1 - beta2) - 1
    for t, g in enumerate(grads, start=1):
        p, g = _decayed(p, g, lr, weight_decay, decoupled_weight_decay, maximize)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(1 - beta2**t) / (np.sqrt(v) + eps)
            p = p - lr * m_hat * adaptive * rect
        else:
            p = p - lr * m_hat
        yield p


def ref_adamax(p, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
               maximize=False):
    beta1, beta2 = betas
    m = u = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        u = np.maximum(beta2 * u, np.abs(g) + eps)
        p = p - lr / (1 - beta1**t) * m / u
        yield p


def ref_adadelta(p, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    v = u = np.zeros_like(p)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta
        yield p


def ref_asgd(p, grads, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
             maximize=False):
    eta, mu = np.float32(lr), np.float32(1.0)  # float32 scalar tensors in PyTorch
    ax = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * p
        p = p * (1 - lambd * float(eta)) - float(eta) * g
        ax = p.copy() if mu == 1 else ax + (p - ax) * float(mu)
        eta = np.float32(lr / (1 + lambd * lr * t) ** alpha)
        mu = np.float32(1 / max(1, t - t0))
        yield p, ax


def _params_only(ref):
    def trajectory(start, grads, **kwargs):
        for p, _ in ref(start, grads, **kwargs):
            yield p

    return trajectory


CASES = [
    (optim.NAdam, ref_nadam, {}),
    (optim.NAdam, ref_nadam, {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1,
                              "momentum_decay": 0.01}),
    (optim.NAdam, ref_nadam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True,
                              "maximize": True}),
    (optim.RAdam, ref_radam, {"lr": 0.01}),
    (optim.RAdam, ref_radam, {"lr": 0.01, "betas": (0.5, 0.6), "weight_decay": 0.1}),
    (optim.RAdam, ref_radam, {"lr": 0.01, "betas": (0.5, 0.6), "weight_decay": 0.1,
                              "decoupled_weight_decay": True, "maximize": True}),
    (optim.Adamax, ref_adamax, {}),
    (optim.Adamax, ref_adamax, {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1,
                                "maximize": True}),
    (optim.Adadelta, ref_adadelta, {}),
    (optim.Adadelta, ref_adadelta, {"lr": 0.5, "rho": 0.5, "eps": 1e-3, "weight_decay": 0.1,
                                    "maximize": True}),
    (optim.ASGD, _params_only(ref_asgd), {}),
    (optim.ASGD, _params_only(ref_asgd), {"lr": 0.1, "lambd": 0.1, "alpha": 0.5, "t0": 2,
                                          "weight_decay": 0.1, "maximize": True}),
]


def case_id(case):
    cls, _, kwargs = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=str)
def test_trajectory_matches_documented_formula(case, dtype, device):
    check_trajectory(case, dtype, device, steps=8)  # RAdam starts rectifying at step 6


def test_asgd_averages_from_t0():
    start = np.random.default_rng(1).standard_normal(4)
    grads = gradients(4, steps=6)
    param = ember.tensor(start, dtype=ember.float64, requires_grad=True)
    opt = optim.ASGD([param], lr=0.1, t0=2)
    for g, (_, ax) in zip(grads, ref_asgd(start, grads, lr=0.1, t0=2)):
        param.grad = ember.tensor(g)
        opt.step()
        np.testing.assert_allclose(host(opt.state[param]["ax"]), ax, rtol=1e-12)


ROUND_TRIP = [
    (optim.NAdam, {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1}),
    (optim.RAdam, {"lr": 0.01}),
    (optim.Adamax, {"lr": 0.01}),
    (optim.Adadelta, {"weight_decay": 0.1}),
    (optim.ASGD, {"t0": 2}),
]


@pytest.mark.parametrize("cls,kwargs", ROUND_TRIP, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("via", ["state_dict", "ember.save"])
def test_state_dict_round_trip_continues_bit_for_bit(cls, kwargs, via, tmp_path):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((2, 3)).astype(np.float32),
              rng.standard_normal(4).astype(np.float32)]
    grads = [[rng.standard_normal(v.shape) for v in values] for _ in range(6)]
    params, opt = make(cls, kwargs, values)
    for g in grads[:3]:
        step_with(params, opt, g)
    state = opt.state_dict()
    if via == "ember.save":
        state = through_save(state, tmp_path)
    clones, resumed = make(cls, kwargs, [host(p) for p in params])
    resumed.load_state_dict(state)
    for g in grads[3:]:
        step_with(params, opt, g)
        step_with(clones, resumed, g)
    for p, clone in zip(params, clones):
        assert np.array_equal(host(p), host(clone))


def test_constructor_checks():
    p = [ember.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.NAdam(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid momentum_decay value"):
        optim.NAdam(p, momentum_decay=-1.0)
    with pytest.raises(ValueError, match="Invalid rho value"):
        optim.Adadelta(p, rho=1.5)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adamax(p, lr=-1.0)
    with pytest.raises(ValueError, match="only 'strong_wolfe' is supported"):
        optim.LBFGS(p, line_search_fn="backtracking")
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": p}, {"params": [ember.zeros(1, requires_grad=True)]}])
    assert optim.LBFGS(p).defaults == {
        "lr": 1, "max_iter": 20, "max_eval": 25, "tolerance_grad": 1e-7,
        "tolerance_change": 1e-9, "history_size": 100, "line_search_fn": None}


# ---- LBFGS ---------------------------------------------------------------------------------------

_RNG = np.random.default_rng(3)
_M = _RNG.standard_normal((4, 4))
_Q = _M @ _M.T + np.eye(4)
_B = _RNG.standard_normal(4)


def _quadratic_closure(param, opt):
    q, b = ember.tensor(_Q), ember.tensor(_B)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (param @ (q @ param)) - b @ param
        loss.backward()
        return loss

    return closure


def ref_lbfgs(x, grad_fn, lr, iterations, history_size):
    """PyTorch's L-BFGS iterations with a fixed step (no line search, no early stop)."""
    g = grad_fn(x)
    dirs, steps, rhos, h_diag = [], [], [], 1.0
    d = t = g_prev = None
    for n in range(1, iterations + 1):
        if n == 1:
            d = -g
        else:
            y, s = g - g_prev, d * t
            if y @ s > 1e-10:
                if len(dirs) == history_size:
                    dirs.pop(0), steps.pop(0), rhos.pop(0)
                dirs.append(y), steps.append(s), rhos.append(1 / (y @ s))
                h_diag = (y @ s) / (y @ y)
            q, alphas = -g, []
            for y_i, s_i, rho_i in reversed(list(zip(dirs, steps, rhos))):
                alphas.insert(0, rho_i * (s_i @ q))
                q = q - alphas[0] * y_i
            d = q * h_diag
            for (y_i, s_i, rho_i), alpha in zip(zip(dirs, steps, rhos), alphas):
                d = d + (alpha - rho_i * (y_i @ d)) * s_i
        g_prev = g
        t = min(1.0, 1.0 / np.abs(g).sum()) * lr if n == 1 else lr
        x = x + t * d
        g = grad_fn(x)
    return x


@pytest.mark.parametrize("iterations", [1, 2, 3, 6])
@pytest.mark.parametrize("history_size", [2, 100])
def test_lbfgs_fixed_step_matches_reference(iterations, history_size):
    start = np.ones(4)
    param = ember.tensor(start, requires_grad=True)
    opt = optim.LBFGS([param], lr=0.5, max_iter=iterations, max_eval=100, tolerance_grad=-1.0,
                      tolerance_change=-1.0, history_size=history_size)
    opt.step(_quadratic_closure(param, opt))
    expected = ref_lbfgs(start, lambda x: _Q @ x - _B, 0.5, iterations, history_size)
    np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def _rosenbrock_closure(param, opt):
    def closure():
        opt.zero_grad()
        x, y = param[0], param[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        loss.backward()
        return loss

    return closure


@pytest.mark.parametrize("line_search_fn", ["strong_wolfe", None])
def test_lbfgs_minimises_rosenbrock(line_search_fn):
    param = ember.tensor([-1.5, 2.0], dtype=ember.float64, requires_grad=True)
    lr = 1.0 if line_search_fn else 0.1
    opt = optim.LBFGS([param], lr=lr, line_search_fn=line_search_fn)
    closure = _rosenbrock_closure(param, opt)
    first = float(closure())
    for _ in range(100 if line_search_fn else 300):
        opt.step(closure)
    final = float(closure())
    assert final < first
    if line_search_fn:
        # stopped by tolerance_change (loss steps below 1e-9), as PyTorch's would be
        np.testing.assert_allclose(param.detach().numpy(), [1.0, 1.0], atol=1e-4)
        assert opt.state[param]["func_evals"] < 200
    else:
        assert final < 1e-2


def test_lbfgs_state_dict_round_trip(tmp_path):
    def fresh():
        param = ember.tensor([-1.5, 2.0], dtype=ember.float64, requires_grad=True)
        opt = optim.LBFGS([param], max_iter=3, max_eval=50, history_size=2,
                          line_search_fn="strong_wolfe")
        return param, opt

    param, opt = fresh()
    opt.step(_rosenbrock_closure(param, opt))
    state = through_save(opt.state_dict(), tmp_path)
    clone, resumed = fresh()
    clone.detach().copy_(param.detach())
    resumed.load_state_dict(state)
    assert resumed.state[clone]["n_iter"] == 3 and len(resumed.state[clone]["old_dirs"]) == 2
    for _ in range(3):
        opt.step(_rosenbrock_closure(param, opt))
        resumed.step(_rosenbrock_closure(clone, resumed))
    assert np.array_equal(param.detach().numpy(), clone.detach().numpy())
    assert opt.state[param]["func_evals"] == resumed.state[clone]["func_evals"]


def test_lbfgs_needs_a_closure_and_stops_at_a_minimum():
    param = ember.tensor(np.linalg.solve(_Q, _B), requires_grad=True)
    opt = optim.LBFGS([param])
    with pytest.raises(RuntimeError, match="closure"):
        opt.step(None)
    before = param.detach().numpy().copy()
    loss = opt.step(_quadratic_closure(param, opt))
    assert isinstance(loss, ember.Tensor)
    np.testing.assert_array_equal(param.detach().numpy(), before)  # gradient ~0: no step
    assert opt.state[param]["func_evals"] == 1


def test_cubic_interpolation_finds_the_minimum_of_a_quadratic():
    from ember.optim._line_search import cubic_interpolate

    # f(x) = (x - 2)^2 sampled at 0 and 3: a cubic through it is the quadratic itself
    assert cubic_interpolate(0.0, 4.0, -4.0, 3.0, 1.0, 2.0) == pytest.approx(2.0)
    assert cubic_interpolate(3.0, 1.0, 2.0, 0.0, 4.0, -4.0) == pytest.approx(2.0)
    assert cubic_interpolate(0.0, 4.0, -4.0, 3.0, 1.0, 2.0, bounds=(0.0, 1.5)) == 1.5


@pytest.mark.parametrize("start", [[-1.5, 2.0], [0.5, -0.3], [2.0, 2.0]])
def test_strong_wolfe_step_satisfies_the_conditions(start):
    from ember.optim._line_search import strong_wolfe

    def rosenbrock(x):
        value = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        grad = np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2),
                         200 * (x[1] - x[0] ** 2)])
        return value, grad

    x = np.array(start)
    f, g = rosenbrock(x)
    d = -g
    gtd = float(g @ d)
    f_new, g_new, t, evaluations = strong_wolfe(lambda x0, t, d: rosenbrock(x0 + t * d), x,
                                                1.0 / np.abs(g).sum(), d, f, g, gtd)
    assert f_new <= f + 1e-4 * t * gtd  # sufficient decrease
    assert abs(float(g_new @ d)) <= 0.9 * abs(gtd)  # curvature (strong)
    assert (f_new, t) == (rosenbrock(x + t * d)[0], t) and 1 <= evaluations <= 25
