"""Learning-rate schedulers: lr sequences against closed forms and hand-computed values, and
state dicts (also through ember.save/load)."""

import io
import math

import pytest

import ember
import ember.optim as optim
from ember.optim import lr_scheduler as sched
from ember.serialization import load, save


def make_optimizer(lrs=(0.1,), cls=optim.SGD, **kwargs):
    groups = [{"params": [ember.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return cls(groups, **kwargs)


def lr_sequence(scheduler, epochs, group=0):
    """The lr of ``group`` at epochs 0 (after construction) .. epochs - 1."""
    values = [scheduler.get_last_lr()[group]]
    for _ in range(epochs - 1):
        scheduler.optimizer.step()
        scheduler.step()
        values.append(scheduler.get_last_lr()[group])
    assert values[-1] == scheduler.optimizer.param_groups[group]["lr"]
    return values


def close(values, expected):
    assert values == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_step_lr():
    scheduler = sched.StepLR(make_optimizer((0.1, 0.2)), step_size=3, gamma=0.5)
    close(lr_sequence(scheduler, 10), [0.1 * 0.5 ** (e // 3) for e in range(10)])
    assert scheduler.base_lrs == [0.1, 0.2]
    close(scheduler.get_last_lr(), [0.1 * 0.5**3, 0.2 * 0.5**3])


def test_multi_step_lr_compounds_repeated_milestones():
    scheduler = sched.MultiStepLR(make_optimizer(), milestones=[2, 5, 5], gamma=0.1)
    close(lr_sequence(scheduler, 8), [0.1, 0.1, 0.01, 0.01, 0.01, 1e-4, 1e-4, 1e-4])


def test_exponential_lr():
    close(lr_sequence(sched.ExponentialLR(make_optimizer(), gamma=0.9), 8),
          [0.1 * 0.9**e for e in range(8)])


def test_cosine_annealing_matches_closed_form():
    t_max, eta_min, base = 7, 0.001, 0.1
    scheduler = sched.CosineAnnealingLR(make_optimizer((base,)), T_max=t_max, eta_min=eta_min)
    expected = [eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2
                for e in range(4 * t_max)]
    close(lr_sequence(scheduler, 4 * t_max), expected)


def test_step_with_epoch_uses_closed_form_and_warns():
    scheduler = sched.CosineAnnealingLR(make_optimizer(), T_max=10)
    with pytest.warns(UserWarning, match="deprecated"):
        scheduler.step(4)
    close(scheduler.get_last_lr(), [0.05 * (1 + math.cos(math.pi * 4 / 10))])


def test_linear_lr_closed_form():
    scheduler = sched.LinearLR(make_optimizer(), start_factor=0.25, end_factor=0.75, total_iters=4)
    expected = [0.1 * (0.25 + 0.5 * min(e, 4) / 4) for e in range(8)]
    close(lr_sequence(scheduler, 8), expected)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        sched.LinearLR(make_optimizer(), start_factor=0.0)


class Warmup:
    """A callable object: LambdaLR saves its __dict__."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.epochs)


def test_lambda_lr_per_group_and_state_dict():
    scheduler = sched.LambdaLR(make_optimizer((0.1, 1.0)), [lambda e: 0.5**e, Warmup(4)])
    close(lr_sequence(scheduler, 5, group=0), [0.1 * 0.5**e for e in range(5)])
    close(scheduler.get_last_lr()[1:], [1.0])
    state = scheduler.state_dict()
    assert state["lr_lambdas"] == [None, {"epochs": 4}] and "optimizer" not in state
    other = sched.LambdaLR(make_optimizer((0.1, 1.0)), [lambda e: 0.5**e, Warmup(10)])
    other.load_state_dict(state)
    assert other.lr_lambdas[1].epochs == 4 and other.last_epoch == 4
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        sched.LambdaLR(make_optimizer((0.1, 1.0)), [Warmup(2)])


def one_cycle_reference(step, total, max_lr, div, final_div, pct, anneal):
    """Two phases: initial -> max over pct * total - 1 steps, then max -> min to the end."""
    initial = max_lr / div
    minimum = initial / final_div
    peak = pct * total - 1
    if step <= peak:
        return anneal(initial, max_lr, step / peak)
    return anneal(max_lr, minimum, (step - peak) / (total - 1 - peak))


def cos_anneal(start, end, pct):
    return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2


def linear_anneal(start, end, pct):
    return start + (end - start) * pct


@pytest.mark.parametrize("strategy,anneal", [("cos", cos_anneal), ("linear", linear_anneal)])
def test_one_cycle_lr(strategy, anneal):
    total = 20
    scheduler = sched.OneCycleLR(make_optimizer(), max_lr=1.0, total_steps=total, pct_start=0.3,
                             div_factor=10.0, final_div_factor=100.0, anneal_strategy=strategy)
    values = lr_sequence(scheduler, total)
    close(values, [one_cycle_reference(s, total, 1.0, 10.0, 100.0, 0.3, anneal)
                   for s in range(total)])
    close([values[0], values[5], values[-1]], [0.1, 1.0, 0.001])
    scheduler.step()  # step 20 == total_steps is still allowed, as in PyTorch
    with pytest.raises(ValueError, match="Tried to step 21 times"):
        scheduler.step()


def test_one_cycle_three_phase_and_momentum_cycling():
    opt = make_optimizer(momentum=0.9)
    scheduler = sched.OneCycleLR(opt, max_lr=1.0, epochs=2, steps_per_epoch=5, pct_start=0.3,
                             anneal_strategy="linear", three_phase=True)
    lrs, momenta = [], []
    for _ in range(10):
        lrs.append(scheduler.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        scheduler.step()
    initial, minimum = 1.0 / 25, 1.0 / 25 / 1e4
    # phase ends: 0.3 * 10 - 1 = 2, 2 * 0.3 * 10 - 2 = 4, 9
    close(lrs[:5], [initial, (initial + 1) / 2, 1.0, (initial + 1) / 2, initial])
    close(lrs[5:], [initial + (minimum - initial) * k / 5 for k in range(1, 6)])
    close(momenta[:5], [0.95, 0.9, 0.85, 0.9, 0.95])
    close(momenta[5:], [0.95] * 5)


def test_one_cycle_cycles_adam_beta1():
    opt = make_optimizer(cls=optim.Adam, betas=(0.9, 0.99))
    sched.OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.99)
    with pytest.raises(ValueError, match="must support momentum"):
        sched.OneCycleLR(make_optimizer(cls=optim.Adagrad), max_lr=0.01, total_steps=10)
    with pytest.raises(ValueError, match="total_steps OR"):
        sched.OneCycleLR(make_optimizer(), max_lr=0.01)


def test_sequential_lr():
    opt = make_optimizer((0.05,))
    warmup = sched.LinearLR(opt, start_factor=0.5, total_iters=2)
    decay = sched.ExponentialLR(opt, gamma=0.9)
    scheduler = sched.SequentialLR(opt, [warmup, decay], milestones=[2])
    close(lr_sequence(scheduler, 6), [0.025, 0.0375, 0.05, 0.045, 0.0405, 0.03645])
    state = scheduler.state_dict()
    assert "optimizer" not in state and len(state["_schedulers"]) == 2
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        sched.SequentialLR(opt, [warmup, decay], milestones=[2, 3])
    with pytest.raises(ValueError, match="same optimizer"):
        sched.SequentialLR(opt, [warmup, sched.StepLR(make_optimizer(), 2)], milestones=[2])


def plateau_lrs(scheduler, metrics):
    values = []
    for metric in metrics:
        scheduler.step(metric)
        values.append(scheduler.get_last_lr()[0])
    return values


def test_reduce_lr_on_plateau_min_with_cooldown_and_floor():
    opt = make_optimizer((1.0,))
    scheduler = sched.ReduceLROnPlateau(opt, factor=0.5, patience=1, cooldown=1, min_lr=0.2)
    # best 10; bad 1; bad 2 > patience -> 0.5, cooldown; cooldown epoch; bad 1; bad 2 -> 0.25;
    # cooldown; bad 1; bad 2 -> floor 0.2; 5 improves (best 5); then one bad epoch.
    metrics = [10, 10, 10, 10, 10, 10, 10, 10, 10, 5, 6]
    expected = [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2, 0.2]
    assert plateau_lrs(scheduler, metrics) == pytest.approx(expected)
    assert scheduler.best == 5.0 and scheduler.num_bad_epochs == 1


def test_reduce_lr_on_plateau_thresholds():
    rel = sched.ReduceLROnPlateau(make_optimizer((1.0,)), mode="max", patience=0, threshold=0.1)
    # 1.05 is not 10% better than 1.0: reduced; 1.2 is.
    assert plateau_lrs(rel, [1.0, 1.05, 1.2]) == pytest.approx([1.0, 0.1, 0.1])
    absolute = sched.ReduceLROnPlateau(make_optimizer((1.0,)), patience=0, threshold=0.5,
                                   threshold_mode="abs")
    assert plateau_lrs(absolute, [3.0, 2.6, 2.4]) == pytest.approx([1.0, 0.1, 0.1])
    assert absolute.best == 2.4
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        sched.ReduceLROnPlateau(make_optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown"):
        sched.ReduceLROnPlateau(make_optimizer(), mode="avg")


def test_reduce_lr_on_plateau_state_dict_through_save():
    scheduler = sched.ReduceLROnPlateau(make_optimizer((1.0,)), patience=2)
    plateau_lrs(scheduler, [3.0, 4.0])
    buffer = io.BytesIO()
    save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    resumed = sched.ReduceLROnPlateau(make_optimizer((1.0,)), patience=5)
    resumed.load_state_dict(load(buffer))
    assert resumed.patience == 2 and resumed.num_bad_epochs == 1 and resumed.best == 3.0
    assert resumed.mode_worse == math.inf


SCHEDULERS = [
    lambda opt: sched.StepLR(opt, step_size=2, gamma=0.5),
    lambda opt: sched.MultiStepLR(opt, milestones=[1, 3, 3], gamma=0.5),
    lambda opt: sched.CosineAnnealingLR(opt, T_max=5, eta_min=0.01),
    lambda opt: sched.LinearLR(opt, start_factor=0.1, total_iters=4),
    lambda opt: sched.OneCycleLR(opt, max_lr=1.0, total_steps=12, three_phase=True),
    lambda opt: sched.SequentialLR(opt, [sched.LinearLR(opt, 0.5, total_iters=2),
                                     sched.CosineAnnealingLR(opt, T_max=6)], milestones=[3]),
]


@pytest.mark.parametrize("factory", SCHEDULERS, ids=lambda f: str(SCHEDULERS.index(f)))
def test_resume_from_saved_state_gives_the_same_lrs(factory, tmp_path):
    opt = make_optimizer((0.1, 0.3), momentum=0.9)
    scheduler = factory(opt)
    for _ in range(4):
        opt.step()
        scheduler.step()
    save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()},
         tmp_path / "ckpt.safetensors")
    expected = lr_sequence(scheduler, 6)

    checkpoint = load(tmp_path / "ckpt.safetensors")
    resumed_opt = make_optimizer((0.1, 0.3), momentum=0.9)
    resumed = factory(resumed_opt)
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    resumed.load_state_dict(checkpoint["scheduler"])
    assert lr_sequence(resumed, 6) == expected


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(make_optimizer(), step_size=2, last_epoch=3)
    opt = make_optimizer()
    sched.StepLR(opt, step_size=2)
    resumed = sched.StepLR(opt, step_size=2, gamma=0.5, last_epoch=3)  # initial_lr now present
    assert resumed.last_epoch == 4
