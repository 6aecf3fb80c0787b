"""The fused LSTM / GRU cell steps against their equations, with gradients."""

import numpy as np
import pytest

import ember


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_lstm_cell_step_matches_equations(device):
    rng = np.random.default_rng(0)
    gates, c = rng.standard_normal((3, 8)) * 2, rng.standard_normal((3, 2))
    h1, c1 = ember.lstm_cell_step(ember.tensor(gates, device=device),
                                  ember.tensor(c, device=device))
    i, f, g, o = np.split(gates, 4, axis=1)
    c_ref = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    np.testing.assert_allclose(c1.cpu().numpy(), c_ref, rtol=1e-12)
    np.testing.assert_allclose(h1.cpu().numpy(), sigmoid(o) * np.tanh(c_ref), rtol=1e-12)
    args = [ember.tensor(a, device=device, requires_grad=True) for a in (gates[:2], c[:2])]
    ember.autograd.gradcheck(ember.lstm_cell_step, args)
    ember.autograd.gradgradcheck(ember.lstm_cell_step, args)
    only_h = lambda a, b: ember.lstm_cell_step(a, b)[0]  # noqa: E731  (c' gets no gradient)
    ember.autograd.gradcheck(only_h, args)


def test_gru_cell_step_matches_equations(device):
    rng = np.random.default_rng(1)
    gx, gh = rng.standard_normal((3, 6)), rng.standard_normal((3, 6))
    h = rng.standard_normal((3, 2))
    out = ember.gru_cell_step(*(ember.tensor(a, device=device) for a in (gx, gh, h)))
    r = sigmoid(gx[:, :2] + gh[:, :2])
    z = sigmoid(gx[:, 2:4] + gh[:, 2:4])
    n = np.tanh(gx[:, 4:] + r * gh[:, 4:])
    np.testing.assert_allclose(out.cpu().numpy(), (1 - z) * n + z * h, rtol=1e-12)
    args = [ember.tensor(a[:2], device=device, requires_grad=True) for a in (gx, gh, h)]
    ember.autograd.gradcheck(ember.gru_cell_step, args)
    ember.autograd.gradgradcheck(ember.gru_cell_step, args)


def _lstm_steps(gates, h, c, w, reverse):
    outs = [None] * gates.shape[0]
    order = range(gates.shape[0] - 1, -1, -1) if reverse else range(gates.shape[0])
    for t in order:
        z = gates[t] + h @ w.T
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outs[t] = h
    return np.stack(outs), h, c


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer_matches_the_step_equations(reverse, device):
    rng = np.random.default_rng(2)
    gates, h0, c0 = rng.standard_normal((4, 3, 8)), rng.standard_normal((3, 2)), \
        rng.standard_normal((3, 2))
    w = rng.standard_normal((8, 2))
    got = ember.lstm_layer(*(ember.tensor(a, device=device) for a in (gates, h0, c0, w)),
                           reverse=reverse)
    for out, ref in zip(got, _lstm_steps(gates, h0, c0, w, reverse)):
        np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-12, atol=1e-12)
    args = [ember.tensor(a[..., :2, :] if a.ndim == 3 else a[:2] if a is not w else a,
                         device=device, requires_grad=True) for a in (gates, h0, c0, w)]

    def fn(*tensors):
        return ember.lstm_layer(*tensors, reverse=reverse)

    ember.autograd.gradcheck(fn, args)
    ember.autograd.gradgradcheck(fn, args)
    only_outputs = lambda *t: fn(*t)[0]  # noqa: E731  (h_T and c_T get no gradient)
    ember.autograd.gradcheck(only_outputs, args)


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer_array_backward_matches_its_tensor_backward_for_one_sequence(reverse):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in ((5, 1, 12), (1, 3), (1, 3), (12, 3))]
    grads = []
    for create_graph in (False, True):  # the array backward, then the replayed Tensor one
        inputs = [ember.tensor(a, requires_grad=True) for a in arrays]
        out, h, c = ember.lstm_layer(*inputs, reverse=reverse)
        loss = (out * 2).sum() + h.sum() + c.sum()  # broadcast (read-only) incoming gradients
        grads.append(ember.autograd.grad(loss, inputs, create_graph=create_graph))
    for fast, replayed in zip(*grads):
        np.testing.assert_allclose(fast.detach().numpy(), replayed.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
