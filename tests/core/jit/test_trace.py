"""ember.jit.trace: the recorded graph, replay equal to eager (forward and gradients), guards."""

import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.jit import TracerWarning


def to_numpy(tensor):
    return tensor.detach().cpu().numpy()


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


class _Net(nn.Module):
    """Conv, batch norm, in-place relu, pooling, flatten, dropout, a buffer and a tuple out."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 2 * 2, 5)
        self.drop = nn.Dropout(0.5)
        self.register_buffer("offset", ember.arange(5).float())

    def forward(self, x):
        h = F.relu(self.bn(self.conv(x)), inplace=True)
        h = F.max_pool2d(h, 2).flatten(1)
        logits = self.drop(self.fc(h)) + self.offset
        return logits, logits.log_softmax(dim=1)


def _grads(outputs, params):
    loss = sum((o * o).sum() for o in outputs)
    return ember.autograd.grad(loss, params)


def test_graph_records_primitives_with_named_weights():
    model = _mlp()
    traced = ember.jit.trace(model, ember.randn(2, 4))
    graph = traced.graph
    assert [node.op for node in graph.nodes] == ["linear", "tanh", "linear"]
    assert set(graph.named("parameter")) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert [v.kind for v in graph.values if v.id in graph.inputs] == ["input"]
    assert list(traced.state_dict()) == list(model.state_dict())


@pytest.mark.parametrize("training", [False, True])
def test_replay_equals_eager_forward_and_gradients(training, device):
    model = _Net().to(device).train(training)
    x = ember.randn(3, 2, 4, 4, device=device)
    traced = ember.jit.trace(model, x)
    params = list(model.parameters())
    ember.manual_seed(5)
    eager = model(x)
    ember.manual_seed(5)
    replay = traced(x)
    for a, b in zip(eager, replay):
        np.testing.assert_allclose(to_numpy(b.detach()), to_numpy(a.detach()), rtol=1e-5,
                                   atol=1e-6)
    for a, b in zip(_grads(eager, params), _grads(replay, params)):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=1e-4, atol=1e-6)


def test_replay_gradcheck_float64():
    model = _mlp().double()
    traced = ember.jit.trace(model, ember.randn(2, 4, dtype=ember.float64))
    x = ember.randn(2, 4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda inp: traced(inp), (x,))


def test_no_grad_replay_uses_array_program_and_matches():
    model = _Net().eval()
    x = ember.randn(3, 2, 4, 4)
    traced = ember.jit.trace(model, x)
    with ember.no_grad():
        eager, replay = model(x), traced(x)
    assert replay[0].grad_fn is None and not replay[0].requires_grad
    np.testing.assert_allclose(replay[1].numpy(), eager[1].numpy(), rtol=1e-5, atol=1e-6)


def test_training_loop_drop_in():
    ember.manual_seed(0)
    x = ember.randn(32, 4)
    y = (x[:, :1] - x[:, 1:2]).tanh().expand(32, 3) * ember.tensor([1.0, -1.0, 0.5])
    model = _mlp()
    traced = ember.jit.trace(model, x)
    optimizer = ember.optim.Adam(traced.parameters(), lr=0.02)
    first = None
    for _ in range(60):
        loss = F.mse_loss(traced(x), y)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.2 * first
    np.testing.assert_allclose(traced(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-6)


def test_dropout_stays_random_and_respects_eval():
    model = nn.Sequential(nn.Dropout(0.5))
    x = ember.ones(100)
    traced = ember.jit.trace(model, x)
    first, second = traced(x), traced(x)
    assert set(np.unique(first.detach().numpy())) <= {0.0, 2.0}
    assert not np.array_equal(first.detach().numpy(), second.detach().numpy())
    traced.eval()
    np.testing.assert_array_equal(traced(x).detach().numpy(), np.ones(100))
    assert len(traced.signatures) == 2


def test_signature_change_retraces_or_raises_when_strict():
    model = _mlp()
    traced = ember.jit.trace(model, ember.randn(2, 4))
    out = traced(ember.randn(5, 4))
    assert out.shape == (5, 3) and len(traced.signatures) == 2
    strict = ember.jit.trace(model, ember.randn(2, 4), strict=True)
    with pytest.raises(RuntimeError, match=r"\[5, 4\] float64 cpu.*traced for \(\[2, 4\] "
                                           r"float32 cpu\)"):
        strict(ember.randn(5, 4, dtype=ember.float64))


def test_trace_function_with_captured_weight_and_constant():
    weight = ember.randn(3, 3, requires_grad=True)
    shift = ember.tensor([1.0, 2.0, 3.0])

    def fn(x, y):
        return {"sum": (x @ weight + shift).relu(), "y": y * 2}

    x, y = ember.randn(2, 3), ember.randn(4)
    traced = ember.jit.trace(fn, (x, y))
    out = traced(x, y)
    np.testing.assert_allclose(out["sum"].detach().numpy(), fn(x, y)["sum"].detach().numpy())
    out["sum"].sum().backward()
    expected = ember.autograd.grad(fn(x, y)["sum"].sum(), [weight])[0]
    np.testing.assert_allclose(weight.grad.numpy(), expected.numpy(), rtol=1e-6)
    assert [v.kind for v in traced.graph.values].count("constant") == 1


def test_data_dependent_branch_warns_and_is_frozen():
    def fn(x):
        if x.sum() > 0:
            return x * 2
        return -x

    positive = ember.ones(3)
    with pytest.warns(TracerWarning, match="Tensor.__bool__"):
        traced = ember.jit.trace(fn, positive)
    np.testing.assert_array_equal(traced(-positive).numpy(), -2 * np.ones(3))  # the path taken


def test_no_warning_for_constants_and_shapes():
    def fn(x):
        scale = ember.tensor(2.0)
        return x.reshape(x.shape[0], -1) * float(scale)

    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        traced = ember.jit.trace(fn, ember.ones(2, 2, 2))
    assert traced(ember.ones(2, 2, 2)).shape == (2, 4)


def test_inplace_ops_are_recorded_out_of_place():
    def fn(x):
        y = x * 1.0
        y.add_(1.0)
        y[0] = 5.0
        return y.mul_(2.0)

    x = ember.randn(3, 2)
    traced = ember.jit.trace(fn, x)
    z = ember.randn(3, 2)
    np.testing.assert_allclose(traced(z).detach().numpy(), fn(z).numpy(), rtol=1e-6)
    assert "add_scalar" in [n.op for n in traced.graph.nodes]


def test_unrecordable_inplace_write_is_refused():
    def fn(x):
        index = x.argmax(dim=1)
        index.add_(1)  # no autograd history: the trace cannot see this write
        return index * 2

    with pytest.raises(RuntimeError, match="modified in place"):
        ember.jit.trace(fn, ember.randn(2, 3))


def test_lstm_language_model_matches_eager():
    model = nn.LSTM(5, 7, num_layers=2)
    x = ember.randn(4, 3, 5)
    traced = ember.jit.trace(model, x)
    (out, (h, c)), (out2, (h2, c2)) = model(x), traced(x)
    np.testing.assert_allclose(out2.detach().numpy(), out.detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    params = list(model.parameters())
    for a, b in zip(_grads((out, h, c), params), _grads((out2, h2, c2), params)):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-6)


def test_bad_example_inputs():
    with pytest.raises(TypeError, match="example input 1 must be a Tensor"):
        ember.jit.trace(lambda x, n: x * n, (ember.ones(2), 3))


def test_training_replay_updates_batch_norm_running_statistics(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).train()
    twin = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).train()
    twin.load_state_dict(model.state_dict())
    x = ember.randn(4, 1, 5, 5)
    traced = ember.jit.trace(model, x)  # the trace itself updates the statistics once
    twin(x)
    for batch in (ember.randn(4, 1, 5, 5), ember.randn(4, 1, 5, 5) * 3):
        traced(batch)
        twin(batch)
        with ember.no_grad():
            traced(batch)
            twin(batch)
    for name in ("1.running_mean", "1.running_var"):
        np.testing.assert_array_equal(traced.state_dict()[name].numpy(),
                                      twin.state_dict()[name].numpy())
    assert [name for name, _ in traced.graph.writes] == ["1.running_mean", "1.running_var"]
    ember.jit.save(traced, tmp_path / "bn.ejit")
    loaded = ember.jit.load(tmp_path / "bn.ejit")
    before = loaded.state_dict()["1.running_mean"].numpy().copy()
    loaded(x)
    assert not np.array_equal(loaded.state_dict()["1.running_mean"].numpy(), before)


class _ClippedGrad(ember.autograd.Function):
    """Identity forward, gradient clipped to [-0.1, 0.1]: not the autodiff of its forward."""

    @staticmethod
    def forward(ctx, x):
        return x * 1.0

    @staticmethod
    def backward(ctx, grad):
        return grad.clamp(-0.1, 0.1)


def test_custom_function_is_one_node_with_its_own_backward(tmp_path):
    def fn(x):
        return (_ClippedGrad.apply(x * 3) ** 2).sum()

    x = ember.randn(5, requires_grad=True)
    traced = ember.jit.trace(fn, x)
    assert [n.op for n in traced.graph.nodes] == ["mul_scalar", "_ClippedGrad", "pow_scalar",
                                                  "sum"]
    expected = ember.autograd.grad(fn(x), [x])[0]
    got = ember.autograd.grad(traced(x), [x])[0]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)
    with ember.no_grad():
        np.testing.assert_allclose(traced(x).numpy(), fn(x).numpy(), rtol=1e-6)
    with pytest.raises(TypeError, match="custom Function '_ClippedGrad'"):
        ember.jit.save(traced, tmp_path / "custom.ejit")


def test_detached_values_follow_the_inputs_and_block_gradients():
    def fn(x, w):
        h = x @ w
        shifted = h - h.max(dim=1, keepdim=True).values.detach()  # data-dependent, no gradient
        scale = h.data.abs().mean()
        return shifted.exp().sum() * scale

    x, w = ember.randn(3, 4), ember.randn(4, 5, requires_grad=True)
    traced = ember.jit.trace(fn, (x, w))
    assert "detach" in [node.op for node in traced.graph.nodes]
    assert all(v.kind != "constant" for v in traced.graph.values)
    other = ember.randn(3, 4) * 3
    expected, got = fn(other, w), traced(other, w)
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(ember.autograd.grad(got, [w])[0].numpy(),
                               ember.autograd.grad(expected, [w])[0].numpy(), rtol=1e-5)
    with ember.no_grad():
        np.testing.assert_allclose(traced(other, w).numpy(), expected.detach().numpy(),
                                   rtol=1e-5)


def test_numpy_of_a_traced_value_warns():
    def fn(x):
        values = x.detach().numpy()
        return x * float(np.abs(values).max())

    with pytest.warns(TracerWarning, match="Tensor.numpy"):
        ember.jit.trace(fn, ember.randn(3))
