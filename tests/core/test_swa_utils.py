"""ember.optim.swa_utils: AveragedModel (SWA and EMA), SWALR, update_bn, as PyTorch's."""

import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.optim import SGD
from ember.optim.swa_utils import (
    SWALR,
    AveragedModel,
    get_ema_avg_fn,
    get_ema_multi_avg_fn,
    update_bn,
)


def _model():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _snapshots(model, count, seed=0):
    """``count`` successive parameter values written into ``model`` (host copies returned)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        values = []
        with ember.no_grad():
            for p in model.parameters():
                p.copy_(ember.tensor(rng.standard_normal(p.shape).astype(np.float32)))
                values.append(p.detach().numpy().copy())
        yield values


def test_swa_is_the_equal_weight_mean_and_buffers_follow_the_model():
    model = _model()
    swa = AveragedModel(model)
    seen = []
    for values in _snapshots(model, 4):
        model.train()
        model(ember.randn(5, 3))  # moves the batch-norm buffers
        swa.update_parameters(model)
        seen.append(values)
    assert swa.n_averaged.item() == 4 and swa.n_averaged.dtype == ember.int64
    for index, p in enumerate(swa.module.parameters()):
        expected = np.mean([values[index] for values in seen], axis=0)
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
        assert not p.requires_grad or p.grad is None
    for mine, theirs in zip(swa.module.buffers(), model.buffers()):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert swa(ember.randn(2, 3)).shape == (2, 2)


@pytest.mark.parametrize("per_tensor", [False, True], ids=["multi_avg_fn", "avg_fn"])
def test_ema(per_tensor):
    decay = 0.9
    model = _model()
    kwargs = ({"avg_fn": get_ema_avg_fn(decay)} if per_tensor
              else {"multi_avg_fn": get_ema_multi_avg_fn(decay)})
    ema_model = AveragedModel(model, **kwargs)
    ema = None
    for values in _snapshots(model, 3):
        ema_model.update_parameters(model)
        ema = values if ema is None else [decay * e + (1 - decay) * v for e, v in zip(ema, values)]
    for p, expected in zip(ema_model.module.parameters(), ema):
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="Only one of avg_fn and multi_avg_fn"):
        AveragedModel(model, avg_fn=get_ema_avg_fn(), multi_avg_fn=get_ema_multi_avg_fn())


def test_use_buffers_averages_the_buffers_too():
    model = _model()
    swa = AveragedModel(model, use_buffers=True)
    means = []
    for _ in range(3):
        model.train()
        model(ember.randn(8, 3))
        means.append(model[1].running_mean.numpy().copy())
        swa.update_parameters(model)
    np.testing.assert_allclose(swa.module[1].running_mean.numpy(), np.mean(means, axis=0),
                               rtol=1e-5, atol=1e-7)
    assert swa.module[1].num_batches_tracked.item() == model[1].num_batches_tracked.item() == 3


def _expected_swalr(lr, swa_lr, anneal_epochs, strategy, steps):
    anneal = (lambda t: t) if strategy == "linear" else (lambda t: (1 - math.cos(math.pi * t)) / 2)
    out = []
    for step in range(steps):
        alpha = anneal(min(1.0, step / max(1, anneal_epochs)))
        out.append(swa_lr * alpha + lr * (1 - alpha))
    return out


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_anneals_to_swa_lr(strategy):
    param = ember.zeros(2, requires_grad=True)
    opt = SGD([param], lr=1.0)
    scheduler = SWALR(opt, swa_lr=0.1, anneal_epochs=4, anneal_strategy=strategy)
    got = [opt.param_groups[0]["lr"]]
    for _ in range(6):
        opt.step()
        scheduler.step()
        got.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(got, _expected_swalr(1.0, 0.1, 4, strategy, 7), rtol=1e-12)
    assert opt.param_groups[0]["swa_lr"] == 0.1


def test_swalr_state_dict_and_errors():
    param = ember.zeros(2, requires_grad=True)
    opt = SGD([param], lr=1.0)
    scheduler = SWALR(opt, swa_lr=0.1, anneal_epochs=3, anneal_strategy="linear")
    scheduler.step()
    state = scheduler.state_dict()
    resumed = SWALR(SGD([ember.zeros(2, requires_grad=True)], lr=1.0), swa_lr=0.5)
    resumed.load_state_dict(state)
    assert resumed.anneal_func(0.5) == 0.5 and resumed.anneal_epochs == 3
    with pytest.raises(ValueError, match="anneal_strategy must by one of 'cos' or 'linear'"):
        SWALR(opt, swa_lr=0.1, anneal_strategy="step")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0"):
        SWALR(opt, swa_lr=0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length"):
        SWALR(opt, swa_lr=[0.1, 0.2])


def test_update_bn_recomputes_the_running_statistics():
    model = _model()
    model.eval()
    rng = np.random.default_rng(0)
    batches = [ember.tensor(rng.standard_normal((10, 3)).astype(np.float32) * 2 + 1)
               for _ in range(4)]
    loader = [(batch, ember.zeros(10)) for batch in batches]  # (input, target) pairs
    bn = model[1]
    bn.momentum = 0.3
    update_bn(loader, model)
    hidden = [model[0](batch).detach().numpy() for batch in batches]
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([h.mean(0) for h in hidden], 0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(),
                               np.mean([h.var(0, ddof=1) for h in hidden], 0), rtol=1e-4)
    assert bn.momentum == 0.3 and not model.training
