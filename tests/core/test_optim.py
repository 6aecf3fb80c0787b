"""Optimizers: trajectories against numpy implementations of PyTorch's documented formulas,
parameter groups, bookkeeping, and state-dict round trips (also through ember.save/load)."""

import io

import numpy as np
import pytest

import ember
import ember.optim as optim
from ember.backend import CPU, to_device
from ember.serialization import load, save

STEPS = 5


def host(tensor):
    return to_device(tensor._array, CPU)


# ---- numpy references, written from the documented algorithms -----------------------------------


def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
            maximize=False):
    buf = None
    for g in grads:
        g = (-g if maximize else g) + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        yield p


def ref_adam(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             maximize=False, decoupled_weight_decay=False):
    beta1, beta2 = betas
    m = v = v_max = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled_weight_decay:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        p = p - lr * (m / (1 - beta1**t)) / (np.sqrt(v_hat) + eps)
        yield p


def ref_adamw(p, grads, weight_decay=1e-2, **kwargs):
    return ref_adam(p, grads, weight_decay=weight_decay, decoupled_weight_decay=True, **kwargs)


def ref_rmsprop(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False, maximize=False):
    v = g_avg = buf = np.zeros_like(p)
    for g in grads:
        g = (-g if maximize else g) + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        v_tilde = v
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            v_tilde = v - g_avg * g_avg
        direction = g / (np.sqrt(v_tilde) + eps)
        if momentum > 0:
            buf = momentum * buf + direction
            direction = buf
        p = p - lr * direction
        yield p


def ref_adagrad(p, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10, maximize=False):
    state_sum = np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = (-g if maximize else g) + weight_decay * p
        lr_t = lr / (1 + (t - 1) * lr_decay)
        state_sum = state_sum + g * g
        p = p - lr_t * g / (np.sqrt(state_sum) + eps)
        yield p


CASES = [
    (optim.SGD, ref_sgd, {"lr": 0.1}),
    (optim.SGD, ref_sgd, {"lr": 0.1, "momentum": 0.9}),
    (optim.SGD, ref_sgd, {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    (optim.SGD, ref_sgd, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    (optim.SGD, ref_sgd, {"lr": 0.1, "momentum": 0.5, "maximize": True, "weight_decay": 0.1}),
    (optim.Adam, ref_adam, {"lr": 0.01}),
    (optim.Adam, ref_adam, {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1}),
    (optim.Adam, ref_adam, {"lr": 0.01, "amsgrad": True, "maximize": True}),
    (optim.Adam, ref_adam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (optim.AdamW, ref_adamw, {"lr": 0.01}),
    (optim.AdamW, ref_adamw, {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
    (optim.RMSprop, ref_rmsprop, {"lr": 0.01}),
    (optim.RMSprop, ref_rmsprop, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
    (optim.RMSprop, ref_rmsprop, {"lr": 0.01, "centered": True, "alpha": 0.9}),
    (optim.RMSprop, ref_rmsprop, {"lr": 0.01, "centered": True, "momentum": 0.5,
                                  "maximize": True}),
    (optim.Adagrad, ref_adagrad, {"lr": 0.1}),
    (optim.Adagrad, ref_adagrad, {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1,
                                  "initial_accumulator_value": 0.5}),
    (optim.Adagrad, ref_adagrad, {"lr": 0.1, "maximize": True, "eps": 1e-3}),
]


def case_id(case):
    cls, _, kwargs = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def gradients(shape, steps=STEPS, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(steps)]


def run(cls, kwargs, start, grads, dtype, device):
    """Steps ``cls`` over ``grads``; the parameter's value after each step, as float64."""
    param = ember.tensor(start, dtype=dtype, device=device, requires_grad=True)
    opt = cls([param], **kwargs)
    trajectory = []
    for g in grads:
        param.grad = ember.tensor(g, dtype=dtype, device=device)
        opt.step()
        trajectory.append(host(param).astype(np.float64))
    return trajectory


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=str)
def test_trajectory_matches_documented_formula(case, dtype, device):
    check_trajectory(case, dtype, device)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_on_a_large_parameter_is_exactly_the_one_expression_update(momentum):
    shape = (3, 50_001)  # several cache-sized blocks and a short last one
    start = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    grads = [g.astype(np.float32) for g in gradients(shape, steps=3)]
    expected, buffer = start, None
    for g in grads:
        if momentum:
            buffer = g.copy() if buffer is None else buffer * momentum + g
            g = buffer
        expected = expected - 0.3 * g
    trajectory = run(optim.SGD, {"lr": 0.3, "momentum": momentum}, start, grads, ember.float32,
                     CPU)
    np.testing.assert_array_equal(trajectory[-1], expected.astype(np.float64))


def check_trajectory(case, dtype, device, steps=STEPS):
    """``case``'s optimizer stepped over random gradients follows its numpy reference."""
    cls, ref, kwargs = case
    start = np.random.default_rng(1).standard_normal((3, 4))
    grads = gradients((3, 4), steps)
    got = run(cls, kwargs, start.astype(dtype.numpy), [g.astype(dtype.numpy) for g in grads],
              dtype, device)
    expected = list(ref(start, grads, **kwargs))
    tolerance = 1e-12 if dtype is ember.float64 else 2e-5
    for step, (g, e) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(g, e, rtol=tolerance, atol=tolerance, err_msg=f"step {step}")


def test_param_groups_use_their_own_options():
    start_a, start_b = np.ones(3), np.full(2, 2.0)
    a = ember.tensor(start_a, dtype=ember.float64, requires_grad=True)
    b = ember.tensor(start_b, dtype=ember.float64, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    grads_a, grads_b = gradients(3), gradients(2, seed=1)
    for g_a, g_b in zip(grads_a, grads_b):
        a.grad, b.grad = ember.tensor(g_a), ember.tensor(g_b)
        opt.step()
    np.testing.assert_allclose(a._array, list(ref_sgd(start_a, grads_a, lr=0.1))[-1], rtol=1e-12)
    np.testing.assert_allclose(
        b._array, list(ref_sgd(start_b, grads_b, lr=0.5, momentum=0.9))[-1], rtol=1e-12
    )


def test_step_updates_in_place_bumps_version_and_skips_params_without_grad():
    p = ember.ones(3, requires_grad=True)
    idle = ember.ones(2, requires_grad=True)
    array = p._array
    opt = optim.Adam([p, idle], lr=0.1)
    p.grad = ember.ones(3)
    version = p._share_version()[0]
    opt.step()
    assert p._array is array and p._version[0] == version + 1
    assert not np.array_equal(p._array, np.ones(3))
    assert np.array_equal(idle._array, np.ones(2)) and idle not in opt.state
    assert p.grad_fn is None and p.requires_grad


def test_closure_runs_with_grad_enabled_and_returns_loss():
    p = ember.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        assert ember.is_grad_enabled()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with ember.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(p._array, [0.5, -1.0])  # p - 0.25 * 2p


def test_zero_grad():
    p = ember.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = ember.ones(2)
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and np.array_equal(grad._array, np.zeros(2))
    opt.zero_grad()
    assert p.grad is None


def test_add_param_group_and_constructor_errors():
    a, b = ember.ones(2, requires_grad=True), ember.ones(2, requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["nesterov"] is False
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {ember.ones(1, requires_grad=True)}})
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([a], lr=-1.0)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([a], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)


def test_defaults_and_repr():
    p = ember.ones(2, requires_grad=True)
    assert optim.AdamW([p]).defaults["weight_decay"] == 1e-2
    assert optim.Adam([p]).defaults["weight_decay"] == 0.0
    text = repr(optim.SGD([p], lr=0.1, momentum=0.9))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text
    assert "    momentum: 0.9\n" in text and text.endswith(")")


def test_adagrad_creates_state_up_front():
    p = ember.ones(2, requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.3)
    assert np.array_equal(opt.state[p]["sum"]._array, np.full(2, 0.3, np.float32))
    q = ember.ones(1, requires_grad=True)
    opt.add_param_group({"params": [q], "initial_accumulator_value": 0.7})
    assert np.allclose(opt.state[q]["sum"]._array, 0.7)


# ---- state dicts ---------------------------------------------------------------------------------

ROUND_TRIP = [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (optim.Adam, {"lr": 0.01, "amsgrad": True}),
    (optim.AdamW, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "centered": True}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01}),
]


def make(cls, kwargs, values, device="cpu"):
    params = [ember.tensor(v, device=device, requires_grad=True) for v in values]
    opt = cls([{"params": params[:1]}, {"params": params[1:], "lr": 0.003}], **kwargs)
    return params, opt


def step_with(params, opt, grads):
    for p, g in zip(params, grads):
        p.grad = ember.tensor(g, dtype=p.dtype, device=p.device)
    opt.step()


def through_save(state, tmp_path):
    buffer = io.BytesIO()
    save(state, buffer)
    buffer.seek(0)
    save(load(buffer), tmp_path / "optimizer.safetensors")
    return load(tmp_path / "optimizer.safetensors")


@pytest.mark.parametrize("cls,kwargs", ROUND_TRIP, ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("via", ["state_dict", "ember.save"])
def test_state_dict_round_trip_continues_bit_for_bit(cls, kwargs, via, tmp_path, device):
    rng = np.random.default_rng(0)
    values = [rng.standard_normal((2, 3)).astype(np.float32),
              rng.standard_normal(4).astype(np.float32)]
    grads = [[rng.standard_normal(v.shape) for v in values] for _ in range(6)]
    params, opt = make(cls, kwargs, values, device)
    for g in grads[:3]:
        step_with(params, opt, g)
    state = opt.state_dict()
    assert sorted(state) == ["param_groups", "state"]
    assert [g["params"] for g in state["param_groups"]] == [[0], [1]]
    assert state["param_groups"][1]["lr"] == 0.003
    if via == "ember.save":
        state = through_save(state, tmp_path)
    clones, resumed = make(cls, kwargs, [host(p) for p in params], device)
    resumed.load_state_dict(state)
    assert resumed.param_groups[1]["lr"] == 0.003 and resumed.param_groups[0]["params"] == [
        clones[0]]
    for g in grads[3:]:
        step_with(params, opt, g)
        step_with(clones, resumed, g)
    for p, clone in zip(params, clones):
        assert np.array_equal(host(p), host(clone))
    for p, clone in zip(params, clones):  # the loaded state is a copy, not an alias
        for name, value in opt.state[p].items():
            assert value is not resumed.state[clone][name]
            assert np.array_equal(host(value), host(resumed.state[clone][name]))


def test_step_counter_is_host_float32_and_survives_save(tmp_path):
    p = ember.ones(2, requires_grad=True)
    opt = optim.Adam([p])
    for _ in range(3):
        p.grad = ember.ones(2)
        opt.step()
    step = opt.state[p]["step"]
    assert step.dtype is ember.float32 and step.shape == () and step.device == CPU
    assert step.item() == 3.0
    loaded = through_save(opt.state_dict(), tmp_path)
    assert loaded["state"][0]["step"].dtype is ember.float32
    assert loaded["state"][0]["step"].item() == 3.0


def test_load_state_dict_casts_state_to_param_dtype():
    p64 = ember.ones(3, dtype=ember.float64, requires_grad=True)
    opt64 = optim.Adam([p64])
    p64.grad = ember.ones(3, dtype=ember.float64)
    opt64.step()
    p32 = ember.ones(3, requires_grad=True)
    opt32 = optim.Adam([p32])
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype is ember.float32
    assert opt32.state[p32]["step"].dtype is ember.float32


def test_load_state_dict_errors():
    a, b = ember.ones(2, requires_grad=True), ember.ones(2, requires_grad=True)
    one_group = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(one_group)
    with pytest.raises(ValueError, match="doesn't match the size.*group 0 has 2 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(one_group)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.SGD([a], lr=0.1).load_state_dict({"state": {}})


def test_load_state_dict_accepts_a_python_number_step():
    p = ember.ones(2, requires_grad=True)
    opt = optim.Adam([p])
    p.grad = ember.ones(2)
    opt.step()
    state = opt.state_dict()
    state["state"][0]["step"] = 1
    q = ember.ones(2, requires_grad=True)
    resumed = optim.Adam([q])
    resumed.load_state_dict(state)
    assert resumed.state[q]["step"].dtype is ember.float32
    q.grad = ember.ones(2)
    resumed.step()
    assert resumed.state[q]["step"].item() == 2.0
