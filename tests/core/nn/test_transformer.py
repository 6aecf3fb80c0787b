"""nn.TransformerEncoderLayer and nn.TransformerEncoder against numpy references."""

import attention_reference as ref
import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
from ember import nn
from ember.nn.modules.transformer import (
    TransformerEncoder,
    TransformerEncoderLayer,
    _generate_square_subsequent_mask,
)


def _layer(**kwargs):
    options = {"d_model": 4, "nhead": 2, "dim_feedforward": 6, "dropout": 0.0, **kwargs}
    return lambda: TransformerEncoderLayer(**options)


def _src_and_masks(shape, batch_first=False):
    """src plus a float src_mask (S, S) and a float src_key_padding_mask (N, S)."""
    def make(rng, dtype):
        length, batch = (shape[1], shape[0]) if batch_first else shape[:2]
        src = rng.uniform(-2, 2, size=shape).astype(dtype)
        mask = rng.uniform(-1, 1, size=(length, length)).astype(dtype)
        padding = np.zeros((batch, length), dtype)
        padding[-1, -1] = -np.inf
        return [src, mask, padding]
    return make


CASES = [
    ModuleCase("EncoderLayer", _layer(), shapes=[(2, 2, 4)]),
    ModuleCase("EncoderLayer-norm-first-gelu-masks",
               _layer(norm_first=True, activation="gelu", batch_first=True),
               inputs=_src_and_masks((2, 2, 4), batch_first=True), output_shape=(2, 2, 4)),
    ModuleCase("EncoderLayer-unbatched-nobias", _layer(bias=False), shapes=[(2, 4)]),
    ModuleCase("EncoderLayer-dropout", _layer(dropout=0.3), shapes=[(2, 2, 4)], stochastic=True),
    ModuleCase("Encoder", lambda: TransformerEncoder(_layer()(), 2, norm=nn.LayerNorm(4)),
               inputs=_src_and_masks((3, 2, 4)), output_shape=(3, 2, 4)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_transformer_module(case, device):
    check_module(case, device)


def _random(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, size=shape)


def _run(module, src, **kwargs):
    """``module`` in float64 eval mode; numpy arrays among ``kwargs`` are passed as tensors."""
    kwargs = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return module.double().eval()(ember.tensor(src), **kwargs).detach().numpy()


def _padding(batch, length):
    padding = np.zeros((batch, length), bool)
    padding[0, -2:] = padding[-1, 1] = True
    return padding


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_numpy(norm_first, activation, batch_first):
    layer = TransformerEncoderLayer(6, 3, dim_feedforward=10, activation=activation,
                                    norm_first=norm_first, batch_first=batch_first,
                                    layer_norm_eps=1e-3)
    for parameter in layer.parameters():  # LayerNorm's ones/zeros would hide a swapped affine
        ember.nn.init.uniform_(parameter, -0.8, 0.8)
    src = _random(2, 4, 6) if batch_first else _random(4, 2, 6)
    mask = _random(4, 4, seed=1)
    padding = np.where(_padding(2, 4), -np.inf, 0.0)  # a float mask, as src_mask
    layer = layer.double().eval()
    expected = ref.encoder_layer(layer, src, mask, padding, activation)
    got = _run(layer, src, src_mask=mask, src_key_padding_mask=padding)
    np.testing.assert_allclose(got, expected, atol=1e-10)
    np.testing.assert_allclose(_run(layer, src), ref.encoder_layer(layer, src, None, None,
                                                                   activation), atol=1e-10)


def test_encoder_matches_chained_layers_and_norm():
    layer = TransformerEncoderLayer(4, 2, dim_feedforward=8)
    encoder = TransformerEncoder(layer, num_layers=3, norm=nn.LayerNorm(4)).double().eval()
    for parameter in encoder.parameters():
        ember.nn.init.uniform_(parameter, -0.8, 0.8)
    src, mask, padding = _random(5, 2, 4), _random(5, 5, seed=1) < -1.5, _padding(2, 5)
    expected = src
    for sub in encoder.layers:
        expected = ref.encoder_layer(sub, expected, mask, padding)
    norm = {name: p.detach().numpy() for name, p in encoder.norm.named_parameters()}
    expected = ref.layer_norm(expected, norm["weight"], norm["bias"], 1e-5)
    got = _run(encoder, src, mask=mask, src_key_padding_mask=padding)
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_encoder_layers_are_independent_deep_copies():
    layer = TransformerEncoderLayer(4, 2, dim_feedforward=8)
    encoder = TransformerEncoder(layer, num_layers=2)
    first, second = encoder.layers
    assert first is not layer and second is not first
    assert len(list(encoder.parameters())) == 2 * len(list(layer.parameters()))
    for (name, a), b, original in zip(first.named_parameters(), second.parameters(),
                                      layer.parameters()):
        assert a is not b and a is not original, name
        np.testing.assert_array_equal(a.detach().numpy(), original.detach().numpy())
    with ember.no_grad():
        first.linear1.weight.add_(1.0)
    assert not np.array_equal(first.linear1.weight.detach().numpy(),
                              second.linear1.weight.detach().numpy())
    assert [name for name, _ in first.named_children()] == [
        "self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"]


def test_padded_positions_do_not_change_the_rest():
    encoder = TransformerEncoder(TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0,
                                                         batch_first=True), num_layers=2)
    src = _random(2, 5, 4)
    padding = np.zeros((2, 5), bool)
    padding[0, 3:] = padding[1, 0] = True
    changed = np.where(padding[..., None], _random(2, 5, 4, seed=7) * 30, src)
    kept = ~padding
    first = _run(encoder, src, src_key_padding_mask=padding)
    second = _run(encoder, changed, src_key_padding_mask=padding)
    np.testing.assert_allclose(first[kept], second[kept], atol=1e-10)
    assert not np.allclose(first[padding], second[padding])


def test_causal_mask_hides_the_future():
    encoder = TransformerEncoder(TransformerEncoderLayer(4, 2, dim_feedforward=8), num_layers=2)
    mask = _generate_square_subsequent_mask(5, dtype=ember.float64)
    np.testing.assert_array_equal(mask.numpy(), np.triu(np.full((5, 5), -np.inf), 1))
    src = _random(5, 2, 4)
    future_changed = src.copy()
    future_changed[3:] += 5.0
    hinted = _run(encoder, src, mask=mask.numpy(), is_causal=True)
    np.testing.assert_allclose(hinted, _run(encoder, src, mask=mask.numpy()), atol=1e-12)
    np.testing.assert_allclose(_run(encoder, future_changed, mask=mask.numpy())[:3],
                               hinted[:3], atol=1e-10)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        encoder(ember.tensor(src), is_causal=True)


def test_activation_options():
    assert TransformerEncoderLayer(4, 2, activation="gelu").activation is nn.functional.gelu
    assert TransformerEncoderLayer(4, 2).activation is nn.functional.relu
    module_activation = TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0,
                                                activation=nn.GELU())
    assert "activation" in dict(module_activation.named_children())
    same = TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, activation="gelu")
    same.load_state_dict(module_activation.state_dict())
    src = _random(3, 2, 4)
    np.testing.assert_allclose(_run(module_activation, src), _run(same, src), atol=1e-12)
    with pytest.raises(RuntimeError, match="relu/gelu, not tanh"):
        TransformerEncoderLayer(4, 2, activation="tanh")


def test_bias_false_drops_every_bias():
    layer = TransformerEncoderLayer(4, 2, dim_feedforward=6, bias=False)
    assert not [name for name, _ in layer.named_parameters() if "bias" in name]


def test_wrong_width_names_the_shapes():
    layer = TransformerEncoderLayer(4, 2, dim_feedforward=6)
    with pytest.raises(AssertionError, match=r"dimension of 4, but got 5 .*\(3, 2, 5\)"):
        layer(ember.zeros(3, 2, 5))
