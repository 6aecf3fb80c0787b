"""Losses (functional and module) against numpy references, with gradcheck/gradgradcheck."""

import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import functional as F

REDUCTIONS = ["none", "mean", "sum"]
rng = np.random.default_rng(0)


def _reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def _log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _tensor(array, device, grad=False):
    return ember.tensor(array, device=device, requires_grad=grad and array.dtype.kind == "f")


def _check(fn, arrays, reference, device, grad_mask=None, gradgrad=True):
    """fn on tensors vs reference on arrays in float32/float64; gradcheck in float64."""
    for dtype in ("float32", "float64"):
        cast = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
        out = fn(*[_tensor(a, device) for a in cast])
        expected = np.asarray(reference(*[a.astype(np.float64) if a.dtype.kind == "f" else a
                                          for a in arrays]))
        assert out.dtype.name == dtype and tuple(out.shape) == expected.shape
        np.testing.assert_allclose(out.detach().cpu().numpy(), expected, rtol=1e-5, atol=1e-6)
    grad_mask = grad_mask or [a.dtype.kind == "f" for a in arrays]
    tensors = [ember.tensor(a, device=device, requires_grad=g) for a, g in zip(arrays, grad_mask)]
    ember.autograd.gradcheck(fn, tensors)
    if gradgrad:
        ember.autograd.gradgradcheck(fn, tensors)


# ---- regression ----------------------------------------------------------------------------

X = rng.uniform(-2, 2, (3, 4))
Y = rng.uniform(-2, 2, (3, 4))


def _huber(x, y, delta):
    d = np.abs(x - y)
    return np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, fn, ref", [
    ("mse", F.mse_loss, lambda x, y: (x - y) ** 2),
    ("l1", F.l1_loss, lambda x, y: np.abs(x - y)),
    ("smooth_l1", lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.7, **k),
     lambda x, y: _huber(x, y, 0.7) / 0.7),
    ("huber", lambda x, y, **k: F.huber_loss(x, y, delta=0.7, **k),
     lambda x, y: _huber(x, y, 0.7)),
])
def test_regression_losses(name, fn, ref, reduction, device):
    _check(lambda x, y: fn(x, y, reduction=reduction), [X, Y],
           lambda x, y: _reduce(ref(x, y), reduction), device)


def test_mse_weight_and_smooth_l1_beta_zero(device):
    w = rng.uniform(0, 1, (3, 4))
    _check(lambda x, y, w: F.mse_loss(x, y, weight=w), [X, Y, w],
           lambda x, y, w: (w * (x - y) ** 2).mean(), device, grad_mask=[True, True, False])
    out = F.smooth_l1_loss(ember.tensor(X), ember.tensor(Y), beta=0.0)
    np.testing.assert_allclose(out.item(), np.abs(X - Y).mean(), rtol=1e-6)


def test_regression_size_mismatch_warns():
    with pytest.warns(UserWarning, match="target size"):
        F.mse_loss(ember.zeros(3, 1), ember.zeros(3))


# ---- cross entropy and nll -----------------------------------------------------------------


def _ce_reference(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  smoothing=0.0):
    """Per-sample loop, the textbook way; the class dim is 1 (or 0 for 1-D input)."""
    class_dim = 0 if logits.ndim == 1 else 1
    logp = _log_softmax(logits, class_dim)
    logp = np.moveaxis(logp, class_dim, -1).reshape(-1, logits.shape[class_dim])
    flat = np.asarray(target).reshape(-1)
    classes = logp.shape[1]
    weight = np.ones(classes) if weight is None else weight
    losses, weights = [], []
    for row, t in zip(logp, flat):
        if t == ignore_index:
            losses.append(0.0)
            weights.append(0.0)
            continue
        nll = -weight[t] * row[t]
        smooth = -(weight * row).sum()
        losses.append((1 - smoothing) * nll + smoothing / classes * smooth)
        weights.append(weight[t])
    losses = np.array(losses).reshape(np.shape(target))
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / np.sum(weights)


CE_SHAPES = [((4, 5), (4,)), ((5,), ()), ((2, 3, 2, 2), (2, 2, 2))]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shapes", CE_SHAPES, ids=str)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("ignore", [False, True], ids=["all", "ignore"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices(shapes, reduction, weighted, ignore, smoothing, device):
    input_shape, target_shape = shapes
    classes = input_shape[0 if len(input_shape) == 1 else 1]
    logits = rng.uniform(-2, 2, input_shape)
    target = rng.integers(0, classes, target_shape)
    ignore_index = -100
    if ignore and target.ndim:
        ignore_index = int(target.reshape(-1)[0])  # a real class index, ignored
    weight = rng.uniform(0.5, 2.0, classes) if weighted else None
    arrays = [logits, target] + ([weight] if weighted else [])

    def fn(x, t, w=None):
        return F.cross_entropy(x, t, weight=w, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=smoothing)

    def ref(x, t, w=None):
        return _ce_reference(x, t, w, ignore_index, reduction, smoothing)

    _check(fn, arrays, ref, device, grad_mask=[True, False, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probabilities(reduction, smoothing, device):
    logits = rng.uniform(-2, 2, (3, 4, 2))
    probs = rng.uniform(0.1, 1.0, (3, 4, 2))
    probs /= probs.sum(1, keepdims=True)
    weight = rng.uniform(0.5, 2.0, 4)

    def ref(x, p, w):
        p = p * (1 - smoothing) + smoothing / 4
        loss = -(_log_softmax(x, 1) * p * w[None, :, None]).sum(1)
        return loss.sum() / (loss.size) if reduction == "mean" else _reduce(loss, reduction)

    _check(lambda x, p, w: F.cross_entropy(x, p, weight=w, reduction=reduction,
                                           label_smoothing=smoothing),
           [logits, probs, weight], ref, device, grad_mask=[True, True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction, device):
    logp = _log_softmax(rng.uniform(-2, 2, (5, 3)), 1)
    target = np.array([0, 2, 1, 2, 1])
    weight = np.array([0.5, 1.0, 2.0])

    def ref(x, t, w):
        losses = np.array([-w[c] * x[i, c] if c != 1 else 0.0 for i, c in enumerate(t)])
        total = sum(w[c] for c in t if c != 1)
        return losses if reduction == "none" else losses.sum() / (
            total if reduction == "mean" else 1)

    _check(lambda x, t, w: F.nll_loss(x, t, weight=w, ignore_index=1, reduction=reduction),
           [logp, target, weight], ref, device, grad_mask=[True, False, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 5), (60, 10_000)], ids=str)  # one block, several blocks
def test_cross_entropy_matches_log_softmax_then_nll_loss_exactly(shape, reduction, device):
    logits = (rng.standard_normal(shape) * 4).astype(np.float32)
    logits[0, :3] = [80.0, -np.inf, 79.0]  # a large logit and an impossible class
    target = rng.integers(0, shape[1], shape[0])
    target[0] = 2
    results = []
    for fn in (lambda x, t: F.cross_entropy(x, t, reduction=reduction),
               lambda x, t: F.nll_loss(x.log_softmax(1), t, reduction=reduction)):
        x = ember.tensor(logits, device=device, requires_grad=True)
        loss = fn(x, ember.tensor(target, device=device))
        loss.backward(ember.ones_like(loss))
        results.append((loss.detach().cpu().numpy(), x.grad.cpu().numpy()))
    (fused, fused_grad), (composed, composed_grad) = results
    np.testing.assert_array_equal(fused, composed)
    np.testing.assert_array_equal(fused_grad, composed_grad)
    assert np.isfinite(fused).all() and fused_grad[0, 1] == 0


def test_cross_entropy_of_integer_logits_is_an_error():
    with pytest.raises(NotImplementedError, match=r"cross_entropy\(\): expected a floating"):
        F.cross_entropy(ember.tensor([[1, 2]]), ember.tensor([0]))


def test_cross_entropy_errors():
    logits = ember.zeros(3, 4)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        F.cross_entropy(logits, ember.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target "
                                         r"batch_size \(2\)"):
        F.cross_entropy(logits, ember.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(logits, ember.tensor([0, 1, 2]), weight=ember.ones(3))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(logits, ember.tensor([0, 1, 2]), reduction="avg")


def test_cross_entropy_all_ignored_is_nan():
    logits = ember.zeros(2, 3, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # numpy's 0 / 0 warning is not to surface
        out = F.cross_entropy(logits, ember.tensor([-100, -100]))
        out.backward()
    assert np.isnan(out.item())
    assert np.isnan(logits.grad.numpy()).all()
    assert [str(w.message) for w in caught] == []


# ---- binary ---------------------------------------------------------------------------------

P = rng.uniform(0.05, 0.95, (3, 4))
T = rng.uniform(0, 1, (3, 4))
W = rng.uniform(0.5, 1.5, (3, 4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction, device):
    def ref(p, t, w):
        return _reduce(-w * (t * np.log(p) + (1 - t) * np.log(1 - p)), reduction)

    _check(lambda p, t, w: F.binary_cross_entropy(p, t, weight=w, reduction=reduction),
           [P, T, W], ref, device, grad_mask=[True, True, False])


def test_binary_cross_entropy_clamps_log():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # numpy's log(0) warning is not to surface
        out = F.binary_cross_entropy(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 0.0]),
                                     reduction="none")
    assert [str(w.message) for w in caught] == []
    np.testing.assert_array_equal(out.numpy(), [100.0, 100.0])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0]))


def test_binary_cross_entropy_gradient_at_the_ends_is_finite_as_pytorchs():
    # PyTorch: d/dx = (x - t) / max(x (1 - x), 1e-12); nan here would poison the whole batch.
    x = ember.tensor([0.0, 1.0, 0.0, 0.25], dtype=ember.float64, requires_grad=True)
    t = ember.tensor([1.0, 0.0, 0.0, 0.5], dtype=ember.float64, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.binary_cross_entropy(x, t, reduction="sum").backward()
    assert [str(w.message) for w in caught] == []
    np.testing.assert_allclose(x.grad.numpy(), [-1e12, 1e12, 0.0, -0.25 / 0.1875])
    # d/dt is the difference of the clamped logs the forward used (PyTorch's is +-inf there).
    np.testing.assert_allclose(t.grad.numpy(), [100.0, -100.0, 100.0, np.log(3.0)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction, device):
    logits = rng.uniform(-3, 3, (3, 4))
    pos_weight = rng.uniform(0.5, 3.0, 4)

    def ref(x, t, w, pw):
        s = 1 / (1 + np.exp(-x))
        return _reduce(-w * (pw * t * np.log(s) + (1 - t) * np.log(1 - s)), reduction)

    _check(lambda x, t, w, pw: F.binary_cross_entropy_with_logits(
        x, t, weight=w, pos_weight=pw, reduction=reduction),
        [logits, T, W, pos_weight], ref, device, grad_mask=[True, True, False, False])


def test_binary_cross_entropy_with_logits_is_stable():
    x = ember.tensor([200.0, -200.0, 0.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, ember.tensor([1.0, 0.0, 1.0]),
                                              reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [0.0, 0.0, np.log(2)], atol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, -0.5], atol=1e-6)


# ---- kl, cosine embedding, margin ranking ---------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, device):
    logq = _log_softmax(rng.uniform(-2, 2, (3, 4)), 1)
    p = rng.uniform(0.0, 1.0, (3, 4))
    p[0, 0] = 0.0  # 0 log 0 = 0
    target = np.log(p + 0.1) if log_target else p

    def ref(x, t):
        loss = np.exp(t) * (t - x) if log_target else np.where(
            t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x
        return loss.sum() / 3 if reduction == "batchmean" else _reduce(loss, reduction)

    def fn(x, t):
        return F.kl_div(x, t, reduction=reduction, log_target=log_target)

    with pytest.warns(UserWarning) if reduction == "mean" else _NoWarning():
        _check(fn, [logq, target], ref, device, grad_mask=[True, log_target])


class _NoWarning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_loss(reduction, device):
    a, b = rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (4, 3))
    target = np.array([1, -1, 1, -1])

    def ref(a, b, t):
        cos = (a * b).sum(1) / np.sqrt(((a * a).sum(1) + 1e-12) * ((b * b).sum(1) + 1e-12))
        return _reduce(np.where(t == 1, 1 - cos, np.maximum(cos - 0.1, 0)), reduction)

    _check(lambda a, b, t: F.cosine_embedding_loss(a, b, t, margin=0.1, reduction=reduction),
           [a, b, target], ref, device, grad_mask=[True, True, False], gradgrad=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss(reduction, device):
    a, b = rng.uniform(-1, 1, 5), rng.uniform(-1, 1, 5)
    target = np.array([1.0, -1.0, 1.0, 1.0, -1.0])
    _check(lambda a, b, t: F.margin_ranking_loss(a, b, t, margin=0.2, reduction=reduction),
           [a, b, target],
           lambda a, b, t: _reduce(np.maximum(-t * (a - b) + 0.2, 0), reduction), device,
           grad_mask=[True, True, False])


# ---- modules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("module, functional, args", [
    (nn.MSELoss(reduction="sum"), lambda x, y: F.mse_loss(x, y, reduction="sum"), "xy"),
    (nn.L1Loss(), F.l1_loss, "xy"),
    (nn.SmoothL1Loss(beta=0.5), lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), "xy"),
    (nn.HuberLoss(delta=0.5), lambda x, y: F.huber_loss(x, y, delta=0.5), "xy"),
    (nn.CrossEntropyLoss(weight=ember.tensor([1.0, 2.0, 3.0, 4.0]), label_smoothing=0.1),
     lambda x, t: F.cross_entropy(x, t, weight=ember.tensor([1.0, 2.0, 3.0, 4.0]),
                                  label_smoothing=0.1), "xc"),
    (nn.NLLLoss(ignore_index=2), lambda x, t: F.nll_loss(x, t, ignore_index=2), "xc"),
    (nn.BCELoss(), F.binary_cross_entropy, "pt"),
    (nn.BCEWithLogitsLoss(pos_weight=ember.full((4,), 2.0)),
     lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=ember.full((4,), 2.0)),
     "xt"),
    (nn.KLDivLoss(reduction="batchmean"), lambda x, t: F.kl_div(x, t, reduction="batchmean"),
     "xt"),
    (nn.CosineEmbeddingLoss(margin=0.2),
     lambda a, b, t: F.cosine_embedding_loss(a, b, t, margin=0.2), "xys"),
    (nn.MarginRankingLoss(margin=0.3),
     lambda a, b, t: F.margin_ranking_loss(a, b, t, margin=0.3), "abs"),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "")
def test_loss_modules_match_functional(module, functional, args):
    values = {"x": ember.tensor(X), "y": ember.tensor(Y), "p": ember.tensor(P),
              "t": ember.tensor(T), "c": ember.tensor([0, 3, 2]),
              "s": ember.tensor([1.0, -1.0, 1.0]), "a": ember.tensor(X[:, 0]),
              "b": ember.tensor(Y[:, 0])}
    inputs = [values[key] for key in args]
    np.testing.assert_array_equal(module(*inputs).numpy(), functional(*inputs).numpy())
    assert "weight" not in dict(module.named_parameters())


def test_loss_module_weight_is_a_buffer_that_moves(device):
    loss = nn.CrossEntropyLoss(weight=ember.ones(3)).to(device)
    assert loss.weight.device == device and "weight" in loss.state_dict()
    assert nn.CrossEntropyLoss().weight is None


def test_legacy_reduction_flags():
    with pytest.warns(UserWarning, match="deprecated"):
        loss = nn.MSELoss(size_average=False)
    assert loss.reduction == "sum"


def test_binary_cross_entropy_gradcheck_in_input_and_target():
    x = ember.tensor([0.2, 0.5, 0.9], dtype=ember.float64, requires_grad=True)
    t = ember.tensor([0.0, 0.7, 1.0], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda a, b: F.binary_cross_entropy(a, b), (x, t))
    assert ember.autograd.gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b), (x, t))
