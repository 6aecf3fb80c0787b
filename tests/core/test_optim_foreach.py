"""The multi-tensor (``foreach``) optimizer path: the same values as the per-parameter path, bit
for bit on the CPU, state kept in PyTorch's per-parameter format as views of flat buffers, and the
flat layout rebuilt whenever it stops matching. On a GPU: the one-kernel updates against the CPU."""

import copy
import io

import numpy as np
import pytest

import ember
import ember.optim as optim
from ember.backend import CPU, to_device
from ember.optim import _flat
from ember.serialization import load, save

SHAPES = [(3, 4), (5,), (), (2, 1, 3), (0,)]

CASES = [
    (optim.SGD, {"lr": 0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.5, "maximize": True, "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.01}),
    (optim.Adam, {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.1}),
    (optim.Adam, {"lr": 0.01, "amsgrad": True, "maximize": True}),
    (optim.Adam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (optim.AdamW, {"lr": 0.01}),
    (optim.AdamW, {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True, "maximize": True}),
    (optim.RMSprop, {"lr": 0.01}),
    (optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
    (optim.RMSprop, {"lr": 0.01, "centered": True, "alpha": 0.9}),
    (optim.RMSprop, {"lr": 0.01, "centered": True, "momentum": 0.5, "maximize": True}),
    (optim.Adagrad, {"lr": 0.1}),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1,
                     "initial_accumulator_value": 0.5, "maximize": True}),
    (optim.Adadelta, {"lr": 0.5, "weight_decay": 0.1}),
    (optim.Adamax, {"lr": 0.01, "weight_decay": 0.1, "maximize": True}),
    (optim.NAdam, {"lr": 0.01, "weight_decay": 0.1}),
    (optim.NAdam, {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    (optim.RAdam, {"lr": 0.01, "weight_decay": 0.1}),
    (optim.ASGD, {"lr": 0.01, "t0": 2, "weight_decay": 0.1}),
]


def case_id(case):
    cls, kwargs = case
    return cls.__name__ + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def host(tensor):
    return to_device(tensor._array, CPU)


def make_params(device="cpu", dtype=ember.float32, shapes=SHAPES, seed=1):
    rng = np.random.default_rng(seed)
    return [ember.tensor(rng.standard_normal(s), dtype=dtype, device=device, requires_grad=True)
            for s in shapes]


def set_grads(params, rng, skip=()):
    for number, p in enumerate(params):
        p.grad = None if number in skip else ember.tensor(
            rng.standard_normal(p.shape), dtype=p.dtype, device=p.device)


def trajectory(cls, kwargs, foreach, device="cpu", steps=7, dtype=ember.float32, skips=None):
    """Params and state after ``steps`` steps, a scheduler changing lr between steps (lr *= 0.9);
    ``skips[step]`` lists parameters without a gradient at that step."""
    params = make_params(device, dtype)
    opt = cls(params, foreach=foreach, **kwargs)
    scheduler = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    rng = np.random.default_rng(2)
    for step in range(steps):
        set_grads(params, rng, (skips or {}).get(step, ()))
        opt.step()
        scheduler.step()
    return params, opt


def assert_same(got, expected, exact=True):
    (params_a, opt_a), (params_b, opt_b) = got, expected
    check = np.testing.assert_array_equal if exact else _close
    for a, b in zip(params_a, params_b):
        check(host(a), host(b))
    for a, b in zip(params_a, params_b):
        state_a, state_b = opt_a.state[a], opt_b.state[b]
        assert list(state_a) == list(state_b)
        for name in state_a:
            assert state_a[name].shape == state_b[name].shape, name
            assert state_a[name].dtype is state_b[name].dtype, name
            check(host(state_a[name]), host(state_b[name]), err_msg=name)


def _close(a, b, err_msg=""):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=err_msg)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_foreach_equals_per_parameter_bit_for_bit(case):
    cls, kwargs = case
    got = trajectory(cls, kwargs, True)
    assert_same(got, trajectory(cls, kwargs, False))
    params, opt = got
    assert all(_is_flat_view(opt, p) for p in params)


@pytest.mark.parametrize("case", CASES[1::3], ids=case_id)
def test_parameters_without_grad_rebuild_the_layout(case):
    cls, kwargs = case
    skips = {0: (1,), 2: (0, 3), 3: (0, 3), 5: (2,)}
    assert_same(trajectory(cls, kwargs, True, skips=skips, dtype=ember.float64),
                trajectory(cls, kwargs, False, skips=skips, dtype=ember.float64))


def flat_base(opt, param, name):
    return opt.state[param][name]._array.base


def test_state_is_per_parameter_views_of_one_flat_buffer():
    params, opt = trajectory(optim.Adam, {"lr": 0.01, "amsgrad": True}, True, steps=2)
    for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        base = flat_base(opt, params[0], name)
        assert base is not None and base.shape == (sum(p.numel() for p in params),)
        assert all(flat_base(opt, p, name) is base for p in params)
    assert all(opt.state[p]["step"].item() == 2.0 for p in params)
    assert opt.state[params[0]]["step"] is not opt.state[params[1]]["step"]
    state = opt.state_dict()
    assert sorted(state["state"]) == list(range(len(SHAPES)))
    assert state["state"][0]["exp_avg"].shape == SHAPES[0]
    assert state["param_groups"][0]["foreach"] is True


def test_replaced_state_tensor_and_changed_options_are_picked_up():
    runs = []
    for foreach in (True, False):
        params = make_params(dtype=ember.float64)
        opt = optim.Adam(params, lr=0.01, foreach=foreach)
        rng = np.random.default_rng(3)
        for step in range(6):
            set_grads(params, rng)
            if step == 2:
                opt.state[params[0]]["exp_avg"] = ember.full(SHAPES[0], 0.5, dtype=ember.float64)
                opt.state[params[1]]["exp_avg_sq"].fill_(0.25)  # in place: stays a view
            if step == 4:
                opt.param_groups[0]["amsgrad"] = True
                opt.state[params[3]]["step"].fill_(1.0)  # its own bias correction from now on
            opt.step()
        runs.append((params, opt))
    assert_same(*runs)


@pytest.mark.parametrize("cls,kwargs", [(optim.SGD, {"lr": 0.1, "momentum": 0.9}),
                                        (optim.Adam, {"lr": 0.01}),
                                        (optim.Adagrad, {"lr": 0.1})],
                         ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("via", ["load_state_dict", "ember.save", "deepcopy"])
def test_resumed_state_continues_bit_for_bit(cls, kwargs, via, tmp_path):
    reference = trajectory(cls, kwargs, False, steps=6)
    params, opt = trajectory(cls, kwargs, True, steps=3)
    if via == "deepcopy":
        params, opt = copy.deepcopy((params, opt))
    else:
        state = opt.state_dict()
        if via == "ember.save":
            buffer = io.BytesIO()
            save(state, buffer)
            buffer.seek(0)
            state = load(buffer)
        clones = [ember.tensor(host(p), requires_grad=True) for p in params]
        resumed = cls(clones, foreach=True, **kwargs)
        resumed.load_state_dict(state)
        params, opt = clones, resumed
    rng = np.random.default_rng(2)  # trajectory's gradients: the first three drawn and dropped
    for step in range(6):
        set_grads(params if step >= 3 else make_params(), rng)
        if step >= 3:
            opt.step()
            opt.param_groups[0]["lr"] *= 0.9  # as trajectory's ExponentialLR
    assert_same((params, opt), reference)


def test_groups_dtypes_and_sizes_split_into_buckets():
    small32 = make_params(shapes=[(4,), (2, 3)])
    small64 = make_params(dtype=ember.float64, shapes=[(3,), (2,)])
    big = make_params(shapes=[(_flat.CPU_FLAT_MAX_ELEMENTS + 1,)])
    lone = make_params(shapes=[(7,)])
    opt = optim.SGD([{"params": small32 + small64 + big}, {"params": lone}], lr=0.1,
                    momentum=0.9)
    rng = np.random.default_rng(0)
    for _ in range(2):
        set_grads(small32 + small64 + big + lone, rng)
        opt.step()

    def base(p):
        return flat_base(opt, p, "momentum_buffer")

    assert base(small32[0]) is base(small32[1]) and base(small32[0]).size == 10
    assert base(small64[0]) is base(small64[1]) and base(small64[0]).dtype == np.float64
    assert base(big[0]) is None and base(lone[0]) is None  # big, or alone: per parameter


def test_non_contiguous_parameters_are_updated_in_place():
    runs = []
    for foreach in (True, False):
        rng = np.random.default_rng(5)
        arrays = [np.asfortranarray(rng.standard_normal((3, 4))),
                  rng.standard_normal((4, 6))[:, ::2]]
        params = [ember.from_numpy(a).requires_grad_() for a in arrays]
        opt = optim.Adam(params, lr=0.1, weight_decay=0.1, foreach=foreach)
        for _ in range(3):
            set_grads(params, rng)
            opt.step()
        assert all(p._array is a for p, a in zip(params, arrays))  # the same memory, updated
        runs.append((params, opt))
    assert_same(*runs)


def test_cpu_default_flattens_runs_of_small_parameters_only():
    many = make_params(shapes=[(1000,)] * 40)  # 40000 elements: two runs, of 32 and 8
    large = make_params(shapes=[(_flat.CPU_FLAT_MAX_ELEMENTS,)] * 3)  # mean over Adam's 1024
    opt = optim.Adam([{"params": many}, {"params": large}])
    set_grads(many + large, np.random.default_rng(0))
    opt.step()
    bases = {id(flat_base(opt, p, "exp_avg")): flat_base(opt, p, "exp_avg") for p in many}
    assert sorted(b.size for b in bases.values()) == [8000, 32000]
    assert all(flat_base(opt, p, "exp_avg") is None for p in large)


def test_foreach_false_and_custom_optimizers_take_the_per_parameter_path():
    class Sign(optim.Optimizer):  # not elementwise-declared: never flattened
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

        def _update(self, param, grad, state, group):
            state.setdefault("seen", ember.zeros_like(param))
            param._array -= group["lr"] * np.sign(grad)

    for opt_params, opt in [(ps := make_params(shapes=[(2,), (3,)]), Sign(ps)),
                            (qs := make_params(shapes=[(2,), (3,)]),
                             optim.Adam(qs, foreach=False))]:
        set_grads(opt_params, np.random.default_rng(0))
        opt.step()
        assert all(next(iter(opt.state[p].values()))._array.base is None for p in opt_params)


@pytest.mark.cuda
@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=str)
def test_cuda_foreach_matches_cpu_per_parameter(case, dtype):
    if not ember.cuda.is_available():
        pytest.skip("no CUDA GPU")
    cls, kwargs = case
    cuda = ember.device("cuda")
    got = trajectory(cls, kwargs, None, device=cuda, dtype=dtype)
    # The kernels round as numpy does (no fused multiply-adds); sqrt and division are exact.
    assert_same(got, trajectory(cls, kwargs, False, dtype=dtype), exact=False)
    assert all(got[1].state[p] == {} or _is_flat_view(got[1], p) for p in got[0])


def _is_flat_view(opt, param):
    """Whether every state buffer of ``param`` is a view (of a bucket's flat buffer)."""
    return all(value._array.base is not None for name, value in opt.state[param].items()
               if name not in type(opt)._host_scalars)
