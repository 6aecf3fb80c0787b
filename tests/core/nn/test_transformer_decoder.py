"""nn.TransformerDecoderLayer, nn.TransformerDecoder and nn.Transformer against numpy
references built from the modules' own parameters, with PyTorch's state_dict keys."""

import attention_reference as ref
import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
from ember import nn


def _random(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, size=shape)


def _run(module, *inputs, **kwargs):
    """``module`` in float64 eval mode; numpy arrays among ``kwargs`` are passed as tensors."""
    kwargs = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    out = module.double().eval()(*(ember.tensor(x) for x in inputs), **kwargs)
    return out.detach().numpy()


def _scramble(module):
    """Random parameters: LayerNorm's ones/zeros would hide a swapped affine."""
    for parameter in module.parameters():
        ember.nn.init.uniform_(parameter, -0.8, 0.8)
    return module


def _layer(**kwargs):
    options = {"d_model": 4, "nhead": 2, "dim_feedforward": 6, "dropout": 0.0, **kwargs}
    return lambda: nn.TransformerDecoderLayer(**options)


CASES = [
    ModuleCase("DecoderLayer", _layer(), shapes=[(3, 2, 4), (2, 2, 4)], output_shape=(3, 2, 4)),
    ModuleCase("DecoderLayer-norm-first-gelu-batch-first",
               _layer(norm_first=True, activation="gelu", batch_first=True),
               shapes=[(2, 3, 4), (2, 2, 4)], output_shape=(2, 3, 4)),
    ModuleCase("DecoderLayer-unbatched", _layer(bias=False), shapes=[(3, 4), (2, 4)],
               output_shape=(3, 4)),
    ModuleCase("DecoderLayer-dropout", _layer(dropout=0.3), shapes=[(3, 2, 4), (2, 2, 4)],
               output_shape=(3, 2, 4), stochastic=True),
    ModuleCase("Decoder", lambda: nn.TransformerDecoder(_layer()(), 2, norm=nn.LayerNorm(4)),
               shapes=[(3, 2, 4), (2, 2, 4)], output_shape=(3, 2, 4)),
    ModuleCase("Transformer", lambda: nn.Transformer(4, 2, 1, 1, 6, dropout=0.0),
               shapes=[(2, 2, 4), (3, 2, 4)], output_shape=(3, 2, 4)),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_decoder_modules(case, device):
    check_module(case, device)


def _padding(batch, length):
    padding = np.zeros((batch, length), bool)
    padding[0, -1] = padding[-1, 0] = True
    return padding


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_layer_matches_numpy(norm_first, batch_first, activation):
    layer = _scramble(nn.TransformerDecoderLayer(6, 3, dim_feedforward=10, norm_first=norm_first,
                                                 batch_first=batch_first, activation=activation,
                                                 layer_norm_eps=1e-3)).double().eval()
    tgt = _random(2, 4, 6) if batch_first else _random(4, 2, 6)
    memory = _random(2, 5, 6, seed=1) if batch_first else _random(5, 2, 6, seed=1)
    masks = {"tgt_mask": _random(4, 4, seed=2), "memory_mask": _random(4, 5, seed=3) < -1.5,
             "tgt_key_padding_mask": np.where(_padding(2, 4), -np.inf, 0.0),
             "memory_key_padding_mask": _padding(2, 5)}
    expected = ref.decoder_layer(layer, tgt, memory, *masks.values(), activation=activation)
    np.testing.assert_allclose(_run(layer, tgt, memory, **masks), expected, atol=1e-10)
    np.testing.assert_allclose(_run(layer, tgt, memory),
                               ref.decoder_layer(layer, tgt, memory, activation=activation),
                               atol=1e-10)


def test_transformer_is_the_encoder_then_the_decoder_with_final_norms():
    model = _scramble(nn.Transformer(4, 2, num_encoder_layers=2, num_decoder_layers=2,
                                     dim_feedforward=8)).double().eval()
    src, tgt = _random(5, 2, 4), _random(3, 2, 4, seed=1)
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=ember.float64).numpy()
    src_padding, memory_padding = _padding(2, 5), _padding(2, 5)

    def norm(module, x):
        p = ref.params_of(module)
        return ref.layer_norm(x, p["weight"], p["bias"], 1e-5)

    memory = src
    for layer in model.encoder.layers:
        memory = ref.encoder_layer(layer, memory, None, src_padding)
    memory = norm(model.encoder.norm, memory)
    expected = tgt
    for layer in model.decoder.layers:
        expected = ref.decoder_layer(layer, expected, memory, tgt_mask, None, None,
                                     memory_padding)
    expected = norm(model.decoder.norm, expected)
    got = _run(model, src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=src_padding,
               memory_key_padding_mask=memory_padding)
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_state_dict_keys_are_pytorchs():
    model = nn.Transformer(4, 2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=6)
    attention = ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    feed_forward = [f"linear{i}.{p}" for i in (1, 2) for p in ("weight", "bias")]
    norms = [f"norm{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]
    encoder = [f"encoder.layers.0.self_attn.{k}" for k in attention] + \
        [f"encoder.layers.0.{k}" for k in feed_forward + norms[:4]] + \
        ["encoder.norm.weight", "encoder.norm.bias"]
    decoder = [f"decoder.layers.0.{a}.{k}" for a in ("self_attn", "multihead_attn")
               for k in attention] + [f"decoder.layers.0.{k}" for k in feed_forward + norms] + \
        ["decoder.norm.weight", "decoder.norm.bias"]
    assert list(model.state_dict()) == encoder + decoder


def test_xavier_initialisation_and_custom_parts():
    model = nn.Transformer(16, 2, 1, 1, 32)
    weight = model.decoder.layers[0].linear1.weight.detach().numpy()  # (32, 16)
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.8 * bound
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32), 1)
    custom = nn.Transformer(16, 2, custom_encoder=encoder, num_decoder_layers=1)
    assert custom.encoder is encoder and len(custom.decoder.layers) == 1


def test_causal_target_mask_hides_the_future():
    model = nn.Transformer(4, 2, 1, 2, 8, batch_first=True)
    src, tgt = _random(2, 5, 4), _random(2, 4, 4, seed=1)
    changed = tgt.copy()
    changed[:, 2:] += 3.0
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=ember.float64).numpy()
    first = _run(model, src, tgt, tgt_mask=mask)
    np.testing.assert_allclose(_run(model, src, changed, tgt_mask=mask)[:, :2], first[:, :2],
                               atol=1e-10)
    hinted = _run(model, src, tgt, tgt_mask=mask, tgt_is_causal=True)
    np.testing.assert_allclose(hinted, first, atol=1e-12)
    assert not np.allclose(_run(model, src, changed)[:, :2], first[:, :2])


def test_is_causal_detection_as_pytorch():
    from ember.nn.modules.transformer import _detect_is_causal_mask

    causal = nn.Transformer.generate_square_subsequent_mask(3)
    assert _detect_is_causal_mask(causal, None, 3)
    assert not _detect_is_causal_mask(causal, False, 3)
    assert not _detect_is_causal_mask(ember.zeros(3, 3), None, 3)
    assert not _detect_is_causal_mask(None, None, 3)


def test_errors_name_the_shapes():
    model = nn.Transformer(4, 2, 1, 1, 8)
    with pytest.raises(RuntimeError, match=r"src and tgt must be equal.*\(5, 2, 4\)"):
        model(ember.zeros(5, 2, 4), ember.zeros(3, 3, 4))
    with pytest.raises(RuntimeError, match="must be equal to d_model \\(4\\)"):
        model(ember.zeros(5, 2, 4), ember.zeros(3, 2, 6))
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        model.decoder.layers[0](ember.zeros(3, 2, 4), ember.zeros(5, 2, 4), tgt_is_causal=True)


def test_word_language_model_pattern_subclass_with_its_own_decoder_learns():
    """The PyTorch word-language-model example subclasses nn.Transformer, replaces
    ``self.decoder`` by a Linear head and uses only ``self.encoder`` with a causal mask."""

    class TransformerModel(nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                             num_encoder_layers=nlayers, dropout=0.0)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.decoder = nn.Linear(ninp, ntoken)

        def forward(self, src):
            mask = self.generate_square_subsequent_mask(len(src))
            output = self.encoder(self.input_emb(src), mask=mask)
            return nn.functional.log_softmax(self.decoder(output), dim=-1)

    ember.manual_seed(0)
    model = TransformerModel(ntoken=20, ninp=8, nhead=2, nhid=16, nlayers=1)
    assert not [key for key in model.state_dict() if key.startswith("decoder.layers")]
    data = ember.randint(0, 20, (6, 3))
    target = ember.randint(0, 20, (18,))
    optimizer = ember.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = nn.functional.nll_loss(model(data).view(-1, 20), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
