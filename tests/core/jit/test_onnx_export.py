"""ember.onnx.export: the zoo, text and RL models pass onnx.checker and run in onnxruntime with
Ember's outputs; dynamic batch axes; unsupported ops named."""

import io

import gymnasium as gym
import numpy as np
import onnx
import onnxruntime
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember_rl.policies import ActorCriticCnnPolicy, ActorCriticPolicy
from ember_text.nn import RNNLanguageModel
from ember_vision import models


def _flat(output):
    if isinstance(output, ember.Tensor):
        return [output]
    return [t for item in output for t in _flat(item)]


def _export(model, x, **kwargs):
    buffer = io.BytesIO()
    ember.onnx.export(model, x, buffer, input_names=["x"], **kwargs)
    onnx.checker.check_model(onnx.load_from_string(buffer.getvalue()))
    return onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])


def _check(model, x, session, atol=1e-4):
    with ember.no_grad():
        expected = _flat(model(x))
    got = session.run(None, {"x": x.numpy()})
    assert len(got) == len(expected)
    for ours, theirs in zip(expected, got):
        assert theirs.shape == ours.shape
        np.testing.assert_allclose(theirs, ours.numpy(), rtol=1e-4, atol=atol)


ZOO = [("lenet5", (1, 28, 28)), ("small_cnn", (1, 28, 28)), ("resnet20", (3, 32, 32)),
       ("mobilenet_v2", (3, 32, 32))]
# VGG (its ops are all among these) is left out: its 25088 x 4096 classifier takes most of a
# minute to initialise.


@pytest.mark.parametrize("name, shape", ZOO, ids=[name for name, _ in ZOO])
def test_zoo_models_with_dynamic_batch(name, shape):
    kwargs = {"num_classes": 10} if name in ("vgg11_bn", "mobilenet_v2") else {}
    model = models.get_model(name, **kwargs).eval()
    session = _export(model, ember.randn(2, *shape), dynamic_axes={"x": {0: "batch"}})
    _check(model, ember.randn(2, *shape), session)
    _check(model, ember.randn(5, *shape), session)


def test_export_leaves_the_model_in_training_mode_and_exports_eval():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)).train()
    model(ember.randn(8, 4))  # running statistics away from their initial values
    session = _export(model, ember.randn(3, 4))
    assert model.training
    model.eval()
    _check(model, ember.randn(3, 4), session)


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_language_models(rnn_type):
    model = RNNLanguageModel(30, 8, 12, num_layers=2, rnn_type=rnn_type).eval()
    tokens = ember.randint(0, 30, (6, 3))
    session = _export(model, tokens)
    _check(model, tokens, session)


def test_lstm_dynamic_batch_and_bidirectional():
    model = nn.LSTM(5, 7, num_layers=2, bidirectional=True)
    session = _export(model, ember.randn(4, 2, 5), dynamic_axes={"x": {1: "batch"}})
    _check(model, ember.randn(4, 6, 5), session)


def _policy_heads(policy):
    """What a deployed actor-critic computes: action logits (or means) and values."""
    def heads(obs):
        pi, vf = policy._features(obs)
        latent_pi = policy.mlp_extractor.forward_actor(pi)
        values = policy.value_net(policy.mlp_extractor.forward_critic(vf))
        return policy.action_net(latent_pi), values

    return heads


@pytest.mark.parametrize("action_space", [gym.spaces.Discrete(3), gym.spaces.Box(-1, 1, (2,))],
                         ids=["discrete", "box"])
def test_mlp_policy(action_space):
    policy = ActorCriticPolicy(gym.spaces.Box(-1, 1, (4,)), action_space, lambda _: 1e-3)
    heads = _policy_heads(policy)
    session = _export(heads, ember.randn(2, 4), dynamic_axes={"x": [0]})
    _check(heads, ember.randn(7, 4), session)


def test_policy_forward_with_log_probs():
    policy = ActorCriticPolicy(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(3),
                               lambda _: 1e-3)
    obs = ember.randn(3, 4)

    def act(o):
        return policy(o, deterministic=True)

    _check(act, obs, _export(act, obs))


def test_cnn_policy():
    space = gym.spaces.Box(0, 255, (36, 36, 1), dtype=np.uint8)
    policy = ActorCriticCnnPolicy(space, gym.spaces.Discrete(4), lambda _: 1e-3)
    heads = _policy_heads(policy)
    obs = ember.rand(2, 36, 36, 1) * 255
    _check(heads, obs, _export(heads, obs))


def test_functional_ops():
    def fn(x):
        y = F.gelu(x) + F.softplus(x, beta=2.0) + F.leaky_relu(x, 0.1) + F.elu(x) + F.silu(x)
        y = y.permute(0, 2, 1).softmax(dim=-1) + x.transpose(1, 2).sigmoid()
        pooled = F.avg_pool2d(x.unsqueeze(1), 2) + F.max_pool2d(x.unsqueeze(1), 2, ceil_mode=True)
        parts = ember.cat([y[:, :1], y[:, 1:, ::2].flip(2).repeat(1, 1, 2)], dim=1)
        return (parts.amax(dim=1), x.max(dim=-1).values, x.argmax(dim=1), pooled.exp().sum(),
                ember.where(x > 0, x, x * 0.5).clamp(-0.2, 0.3), x.split([1, 3], dim=2)[1])

    x = ember.randn(2, 4, 4)
    _check(fn, x, _export(fn, x))


def test_conv_bias_is_the_conv_node_b_input():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(3, 2, 1, bias=False))
    x = ember.randn(2, 2, 5, 5)
    buffer = io.BytesIO()
    ember.onnx.export(model, x, buffer, input_names=["x"])
    proto = onnx.load_from_string(buffer.getvalue())
    assert [(node.op_type, len(node.input)) for node in proto.graph.node] == [
        ("Conv", 3), ("Conv", 2)]
    _check(model, x, _export(model, x))


def test_unsupported_op_names_op_and_node():
    def fn(x):
        return ember.linalg.inv(x @ x.mT + ember.eye(3)) * 2

    with pytest.raises(ember.onnx.UnsupportedOperatorError,
                       match=r"node \d+ \(op 'linalg_inv'.*unsupported operator"):
        _export(fn, ember.randn(3, 3))


def test_bad_arguments():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="dynamic_axes names 'y'"):
        _export(model, ember.randn(1, 2), dynamic_axes={"y": [0]})
    with pytest.raises(ValueError, match="opset_version 11"):
        ember.onnx.export(model, ember.randn(1, 2), io.BytesIO(), opset_version=11)


def test_writes_a_file_with_names(tmp_path):
    model = nn.Linear(3, 2)
    path = tmp_path / "linear.onnx"
    ember.onnx.export(model, ember.randn(1, 3), path, input_names=["features"],
                      output_names=["scores"])
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["features"]
    assert [o.name for o in proto.graph.output] == ["scores"]
    assert proto.opset_import[0].version == 17


def test_dynamic_batch_flows_to_outputs_and_unused_constants_go():
    model = nn.LSTM(3, 4)  # its zero initial states are left out of the ONNX graph
    buffer = io.BytesIO()
    ember.onnx.export(model, ember.randn(5, 2, 3), buffer, input_names=["x"],
                      dynamic_axes={"x": {1: "batch"}})
    proto = onnx.load_from_string(buffer.getvalue())
    dims = [[d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
            for o in proto.graph.output]
    assert dims == [[5, "batch", 4], [1, "batch", 4], [1, "batch", 4]]
    used = {name for node in proto.graph.node for name in node.input}
    assert all(init.name in used for init in proto.graph.initializer)


class _Cells(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTMCell(4, 5)
        self.gru = nn.GRUCell(4, 5)
        self.embed = nn.Embedding(7, 4)

    def forward(self, x):
        h, c = self.lstm(x)
        g = self.gru(x, h)
        tokens = (x.abs() * 3).to(ember.int64).clamp(0, 6)
        looked_up = self.embed(tokens).sum(dim=1)
        picked = x.index_select(1, ember.tensor([3, 0])).narrow(1, 1, 1)
        masked = x.masked_fill(x < 0, -1.0)
        return (h + c, g, looked_up, picked, masked.logsumexp(dim=1), x.prod(dim=0),
                x.float().double())


def test_cells_embedding_and_more_ops():
    model = _Cells()
    x = ember.randn(3, 4)
    _check(model, x, _export(model, x))


@pytest.mark.parametrize("shape, target", [
    ((4, 5), np.array([0, 4, 1, 1], dtype=np.int64)),
    ((2, 5, 3), np.array([[0, 4, 1], [2, 2, 3]], dtype=np.uint8)),
], ids=["rows", "spatial-uint8"])
def test_cross_entropy_of_class_indices(shape, target):
    target = ember.tensor(target)

    def fn(x):
        F = ember.nn.functional
        return (F.cross_entropy(x, target), F.cross_entropy(x, target, reduction="none"),
                F.cross_entropy(x, target, weight=ember.arange(1.0, 6.0), ignore_index=1))

    x = ember.randn(*shape)
    _check(fn, x, _export(fn, x))


@pytest.mark.parametrize("opset", [17, 18, 21])
def test_opsets(opset):
    def fn(x):
        return x.amax(dim=1), x.max(dim=-1).values, x.logsumexp(dim=0), x.sum(dim=(0, 1))

    x = ember.randn(2, 3, 4)
    _check(fn, x, _export(fn, x, opset_version=opset))
