"""F.scaled_dot_product_attention and nn.MultiheadAttention against numpy references."""

import math

import attention_reference as ref
import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
from ember.nn import Module
from ember.nn.functional.attention import multi_head_attention_forward, scaled_dot_product_attention
from ember.nn.modules.attention import MultiheadAttention
from harness import OpCase, check_op

# ---- scaled_dot_product_attention --------------------------------------------------------------


def _qkv(q_shape, k_shape, v_shape, mask=None):
    """Inputs q, k, v (and a mask: a bool array of a shape, or ('float', shape))."""
    def make(rng, shapes, dtype):
        arrays = [rng.uniform(-1.5, 1.5, size=s).astype(dtype) for s in (q_shape, k_shape,
                                                                         v_shape)]
        if isinstance(mask, tuple) and mask[0] == "float":
            arrays.append(rng.uniform(-2, 2, size=mask[1]).astype(dtype))
        elif mask is not None:
            keep = rng.uniform(size=mask) < 0.6
            keep[..., 0] = True  # every query attends to something
            arrays.append(keep)
        return arrays
    return make


def _sdpa_case(case_id, q, k, v, mask=None, **kwargs):
    return OpCase("scaled_dot_product_attention", ref=ref.sdpa, fn=scaled_dot_product_attention,
                  shapes=[None], inputs=_qkv(q, k, v, mask), kwargs=kwargs, method=False,
                  id=case_id)


SDPA_CASES = [
    _sdpa_case("plain", (2, 2, 3), (2, 3, 3), (2, 3, 2)),
    _sdpa_case("2d", (3, 2), (2, 2), (2, 3)),
    _sdpa_case("heads", (1, 2, 2, 3), (1, 2, 3, 3), (1, 2, 3, 2)),
    _sdpa_case("broadcast-batch", (2, 1, 2, 2), (1, 2, 3, 2), (2, 1, 3, 2)),
    _sdpa_case("bool-mask", (2, 2, 3), (2, 4, 3), (2, 4, 2), mask=(2, 4)),
    _sdpa_case("bool-mask-4d", (2, 1, 2, 2), (2, 1, 3, 2), (2, 1, 3, 2), mask=(2, 2, 2, 3)),
    _sdpa_case("float-mask", (2, 2, 3), (2, 3, 3), (2, 3, 2), mask=("float", (2, 2, 3))),
    _sdpa_case("causal", (2, 3, 2), (2, 3, 2), (2, 3, 2), is_causal=True),
    _sdpa_case("causal-long-keys", (2, 2), (4, 2), (4, 2), is_causal=True),
    _sdpa_case("causal-short-keys", (4, 2), (2, 2), (2, 2), is_causal=True),
    _sdpa_case("scale", (2, 2, 3), (2, 3, 3), (2, 3, 2), scale=0.7),
    _sdpa_case("gqa", (1, 4, 2, 2), (1, 2, 3, 2), (1, 2, 3, 2), enable_gqa=True),
]


@pytest.mark.parametrize("case", SDPA_CASES, ids=str)
def test_sdpa(case, device):
    check_op(case, device)


def test_sdpa_fully_masked_row_gives_zeros_and_finite_gradients():
    rng = np.random.default_rng(0)
    q, k, v = (ember.tensor(rng.normal(size=(2, 3, 2)), requires_grad=True) for _ in range(3))
    keep = np.ones((3, 3), bool)
    keep[1] = False
    mask = ember.tensor(keep)
    out = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    np.testing.assert_array_equal(out.detach().numpy()[:, 1], 0.0)
    np.testing.assert_allclose(out.detach().numpy(), ref.sdpa(q.detach().numpy(),
                               k.detach().numpy(), v.detach().numpy(), keep), atol=1e-12)
    out.sum().backward()
    for t in (q, k, v):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[:, 1], 0.0)

    def attend(*qkv):
        return scaled_dot_product_attention(*qkv, attn_mask=mask)

    ember.autograd.gradgradcheck(attend, [q, k, v])


def test_sdpa_dropout_zeroes_weights_when_p_is_one():
    q = ember.randn(2, 3, 4)
    out = scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    np.testing.assert_array_equal(out.numpy(), 0.0)


def test_sdpa_float_mask_gets_gradient():
    rng = np.random.default_rng(1)
    q, k, v = (ember.tensor(rng.normal(size=(3, 4))) for _ in range(3))
    mask = ember.tensor(rng.normal(size=(3, 3)), requires_grad=True)
    ember.autograd.gradcheck(lambda m: scaled_dot_product_attention(q, k, v, attn_mask=m),
                             [mask])


@pytest.mark.parametrize("args, kwargs, match", [
    ([(2, 3, 4), (2, 5, 3), (2, 5, 4)], {}, r"query \(2, 3, 4\), key \(2, 5, 3\)"),
    ([(2, 3, 4), (2, 5, 4), (2, 4, 4)], {}, r"value \(2, 4, 4\)"),
    ([(3, 4), (3, 4), (3, 4)], {"attn_mask": "bool", "is_causal": True}, "is_causal"),
    ([(3, 4), (3, 4), (3, 4)], {"attn_mask": "float32"}, "attn_mask dtype"),
])
def test_sdpa_errors(args, kwargs, match):
    q, k, v = (ember.zeros(s, dtype=ember.float64) for s in args)
    if "attn_mask" in kwargs:
        dtype = ember.bool if kwargs["attn_mask"] == "bool" else ember.float32
        kwargs = {**kwargs, "attn_mask": ember.ones((3, 3), dtype=dtype)}
    with pytest.raises(RuntimeError, match=match):
        scaled_dot_product_attention(q, k, v, **kwargs)


def test_sdpa_dtype_mismatch():
    with pytest.raises(RuntimeError, match="same dtype"):
        scaled_dot_product_attention(ember.zeros(2, 3), ember.zeros(2, 3, dtype=ember.float64),
                                     ember.zeros(2, 3))


# ---- MultiheadAttention: the module harness ----------------------------------------------------


class SelfAttention(Module):
    """``attention(x, x, x)``: exercises the fused (one matmul) input projection."""

    def __init__(self, attention: MultiheadAttention, **kwargs) -> None:
        super().__init__()
        self.attention = attention
        self.kwargs = kwargs

    def forward(self, x, *masks):
        names = ("key_padding_mask", "attn_mask")
        return self.attention(x, x, x, **dict(zip(names, masks)), **self.kwargs)


def _with_padding(shapes, batch, length):
    """Random q/k/v of ``shapes`` plus a bool key_padding_mask (N, S), some keys padded."""
    def make(rng, dtype):
        arrays = [rng.uniform(-2, 2, size=s).astype(dtype) for s in shapes]
        padding = np.zeros((batch, length), bool)
        padding[0, -1] = padding[-1, 1:3] = True
        return [*arrays, padding]
    return make


MHA_CASES = [
    ModuleCase("MHA", lambda: MultiheadAttention(4, 2), shapes=[(2, 2, 4), (3, 2, 4), (3, 2, 4)]),
    ModuleCase("MHA-gradgrad", lambda: MultiheadAttention(2, 2),
               shapes=[(2, 1, 2), (3, 1, 2), (3, 1, 2)], gradgrad=True),
    ModuleCase("MHA-self", lambda: SelfAttention(MultiheadAttention(4, 2, batch_first=True)),
               shapes=[(2, 3, 4)]),
    ModuleCase("MHA-kdim-vdim", lambda: MultiheadAttention(4, 2, kdim=3, vdim=5, batch_first=True),
               shapes=[(2, 2, 4), (2, 3, 3), (2, 3, 5)]),
    ModuleCase("MHA-unbatched", lambda: MultiheadAttention(4, 1), shapes=[(3, 4), (2, 4), (2, 4)]),
    ModuleCase("MHA-bias-kv-zero-attn",
               lambda: MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True, bias=False),
               shapes=[(2, 2, 4), (3, 2, 4), (3, 2, 4)], output_shape=(2, 2, 4)),
    ModuleCase("MHA-padding", lambda: MultiheadAttention(4, 2),
               inputs=_with_padding([(2, 2, 4), (3, 2, 4), (3, 2, 4)], 2, 3),
               output_shape=(2, 2, 4)),
    ModuleCase("MHA-dropout", lambda: MultiheadAttention(4, 2, dropout=0.5),
               shapes=[(2, 2, 4), (3, 2, 4), (3, 2, 4)], stochastic=True),
]


@pytest.mark.parametrize("case", MHA_CASES, ids=str)
def test_multihead_attention_module(case, device):
    check_module(case, device)


# ---- MultiheadAttention against numpy ----------------------------------------------------------


def _random(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, size=shape)


def _bool_mask(shape, seed, rate=0.3):
    masked = np.random.default_rng(seed).uniform(size=shape) < rate
    masked[..., 0] = False  # no query loses every key
    return masked


def _compare(module, query, key, value, **kwargs):
    module = module.double().eval()
    tensors = {name: ember.tensor(a) for name, a in kwargs.items()
               if isinstance(a, np.ndarray)}
    flags = {name: a for name, a in kwargs.items() if not isinstance(a, np.ndarray)}
    output, weights = module(ember.tensor(query), ember.tensor(key), ember.tensor(value),
                             **tensors, **flags)
    expected_output, expected_weights = ref.mha(
        module, query, key, value, kwargs.get("key_padding_mask"), kwargs.get("attn_mask"),
        kwargs.get("average_attn_weights", True))
    np.testing.assert_allclose(output.detach().numpy(), expected_output, atol=1e-10)
    if kwargs.get("need_weights", True):
        np.testing.assert_allclose(weights.detach().numpy(), expected_weights, atol=1e-12)
    else:
        assert weights is None


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("average", [True, False])
def test_mha_matches_numpy(batch_first, average):
    module = MultiheadAttention(6, 3, batch_first=batch_first)
    shape = (2, 4, 6) if batch_first else (4, 2, 6)
    key_shape = (2, 5, 6) if batch_first else (5, 2, 6)
    _compare(module, _random(*shape), _random(*key_shape, seed=1), _random(*key_shape, seed=2),
             average_attn_weights=average)


@pytest.mark.parametrize("mask_kind", ["bool-2d", "float-2d", "bool-3d", "float-3d"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_attn_mask_matches_numpy(mask_kind, need_weights):
    kind, dims = mask_kind.split("-")
    shape = (4, 5) if dims == "2d" else (2 * 2, 4, 5)  # (L, S) or (N * heads, L, S)
    padding = _bool_mask((2, 5), 4)
    if kind == "bool":
        mask = _bool_mask(shape, 3)
    else:  # float masks, the padding as its additive form
        mask, padding = _random(*shape, seed=3), np.where(padding, -np.inf, 0.0)
    _compare(MultiheadAttention(4, 2), _random(4, 2, 4), _random(5, 2, 4, seed=1),
             _random(5, 2, 4, seed=2), attn_mask=mask, key_padding_mask=padding,
             need_weights=need_weights)


def test_mha_kdim_vdim_self_and_unbatched_match_numpy():
    module = MultiheadAttention(4, 2, kdim=3, vdim=5)
    assert module.in_proj_weight is None
    assert tuple(module.k_proj_weight.shape) == (4, 3)
    _compare(module, _random(3, 2, 4), _random(6, 2, 3, seed=1), _random(6, 2, 5, seed=2))
    x = _random(2, 3, 4)
    _compare(MultiheadAttention(4, 2, batch_first=True), x, x, x)
    _compare(MultiheadAttention(4, 2, add_bias_kv=True, add_zero_attn=True), _random(3, 2, 4),
             _random(5, 2, 4, seed=1), _random(5, 2, 4, seed=2),
             key_padding_mask=_bool_mask((2, 5), 4))
    _compare(MultiheadAttention(4, 2), _random(3, 4), _random(5, 4, seed=1),
             _random(5, 4, seed=2), key_padding_mask=_bool_mask((5,), 4),
             attn_mask=_bool_mask((2, 3, 5), 5), average_attn_weights=False)


def test_mha_shared_inputs_match_separate_copies():
    """The fused projections (query is key is value; key is value) equal three projections."""
    module = MultiheadAttention(4, 2).double()
    x = ember.tensor(_random(3, 2, 4))
    memory = ember.tensor(_random(5, 2, 4, seed=1))
    pairs = [(module(x, x, x), module(x, x.clone(), x.clone())),
             (module(x, memory, memory), module(x, memory, memory.clone()))]
    for (fused, fused_weights), (separate, separate_weights) in pairs:
        np.testing.assert_allclose(fused.detach().numpy(), separate.detach().numpy(),
                                   atol=1e-12)
        np.testing.assert_allclose(fused_weights.detach().numpy(),
                                   separate_weights.detach().numpy(), atol=1e-12)


def test_mha_padded_keys_are_irrelevant():
    module = MultiheadAttention(4, 2).double().eval()
    query = ember.tensor(_random(3, 2, 4))
    key, value = _random(5, 2, 4, seed=1), _random(5, 2, 4, seed=2)
    padding = np.zeros((2, 5), bool)
    padding[0, 3:] = padding[1, 1] = True
    outputs, weights = [], []
    for seed in (10, 11):
        noise = np.random.default_rng(seed).normal(scale=50, size=key.shape)
        changed = np.where(padding.T[..., None], noise, 0.0)
        out, w = module(query, ember.tensor(key + changed), ember.tensor(value - changed),
                        key_padding_mask=ember.tensor(padding))
        outputs.append(out.detach().numpy())
        weights.append(w.detach().numpy())
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-12)
    np.testing.assert_array_equal(weights[0][..., padding[0]][0], 0.0)


def test_mha_fully_padded_sequence_gives_output_bias():
    module = MultiheadAttention(4, 2).eval()
    ember.nn.init.uniform_(module.out_proj.bias)
    x = ember.randn(3, 2, 4)
    padding = ember.tensor([[False, False, False], [True, True, True]])
    out, weights = module(x, x, x, key_padding_mask=padding)
    np.testing.assert_allclose(out.detach().numpy()[:, 1],
                               np.broadcast_to(module.out_proj.bias.detach().numpy(), (3, 4)))
    np.testing.assert_array_equal(weights.detach().numpy()[1], 0.0)


def test_mha_parameters_and_init_follow_pytorch():
    module = MultiheadAttention(8, 2, add_bias_kv=True)
    assert [name for name, _ in module.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "bias_k", "bias_v", "out_proj.weight",
        "out_proj.bias"]
    bound = math.sqrt(6 / (8 + 24))
    weight = module.in_proj_weight.detach().numpy()
    assert weight.shape == (24, 8) and np.abs(weight).max() <= bound
    assert np.abs(weight).max() > bound / 2
    np.testing.assert_array_equal(module.in_proj_bias.detach().numpy(), 0.0)
    np.testing.assert_array_equal(module.out_proj.bias.detach().numpy(), 0.0)
    assert module.head_dim == 4
    separate = MultiheadAttention(4, 2, vdim=3, bias=False)
    assert [name for name, _ in separate.named_parameters()] == [
        "q_proj_weight", "k_proj_weight", "v_proj_weight", "out_proj.weight"]


def test_mha_dropout_applies_in_training_only():
    module = MultiheadAttention(4, 1, dropout=1.0)
    x = ember.randn(3, 2, 4)
    _, weights = module(x, x, x)
    np.testing.assert_array_equal(weights.detach().numpy(), 0.0)
    _, weights = module.eval()(x, x, x)
    np.testing.assert_allclose(weights.detach().numpy().sum(-1), 1.0, rtol=1e-6)


def test_mha_is_causal_needs_mask():
    module = MultiheadAttention(4, 2)
    x = ember.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        module(x, x, x, is_causal=True)


@pytest.mark.parametrize("make, shapes, kwargs, error, match", [
    (lambda: MultiheadAttention(8, 2), [(3, 2, 6), (3, 2, 6), (3, 2, 6)], {}, AssertionError,
     r"embedding dimension of 8, but got 6"),
    (lambda: MultiheadAttention(8, 2), [(3, 2, 8), (4, 2, 6), (4, 2, 6)], {}, RuntimeError,
     r"\(4, 2, 6\)"),
    (lambda: MultiheadAttention(8, 2), [(3, 2, 8), (4, 2, 8), (5, 2, 8)], {}, AssertionError,
     r"key shape \(4, 2, 8\) does not match value shape \(5, 2, 8\)"),
    (lambda: MultiheadAttention(8, 2, kdim=4), [(3, 2, 8), (4, 2, 5), (4, 2, 8)], {},
     AssertionError, r"key weights shape of \(8, 5\), but got \(8, 4\)"),
    (lambda: MultiheadAttention(8, 2), [(3, 2, 8), (4, 2, 8), (4, 2, 8)],
     {"attn_mask": (3, 3)}, RuntimeError, r"2D attn_mask is \(3, 3\), but should be \(3, 4\)"),
    (lambda: MultiheadAttention(8, 2), [(3, 2, 8), (4, 2, 8), (4, 2, 8)],
     {"key_padding_mask": (2, 3)}, AssertionError, r"key_padding_mask shape of \(2, 4\)"),
    (lambda: MultiheadAttention(8, 2), [(3, 2, 8), (4, 8), (4, 8)], {}, AssertionError,
     "expected `key` and `value` to be 3-D"),
])
def test_mha_shape_errors(make, shapes, kwargs, error, match):
    tensors = [ember.zeros(s) for s in shapes]
    masks = {name: ember.zeros(s, dtype=ember.bool) for name, s in kwargs.items()}
    with pytest.raises(error, match=match):
        make()(*tensors, **masks)


def test_mha_constructor_errors():
    with pytest.raises(AssertionError, match="divisible"):
        MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="greater than 0"):
        MultiheadAttention(0, 1)


def test_multi_head_attention_forward_static_kv():
    """Precomputed per-head keys/values replace the projected ones."""
    module = MultiheadAttention(4, 2).double().eval()
    query = ember.tensor(_random(3, 2, 4))
    key = ember.tensor(_random(5, 2, 4, seed=1))
    reference, _ = module(query, key, key)
    # the per-head projection of key, laid out (N * heads, S, head_dim)
    w_k, w_v = module.in_proj_weight.detach().numpy().reshape(3, 4, 4)[1:]
    b_k, b_v = module.in_proj_bias.detach().numpy().reshape(3, 4)[1:]

    def heads(w, b):
        projected = key.numpy() @ w.T + b  # (S, N, E)
        return ember.tensor(projected.reshape(5, 4, 2).transpose(1, 0, 2))

    out, _ = multi_head_attention_forward(
        query, key, key, 4, 2, module.in_proj_weight, module.in_proj_bias, None, None, False,
        0.0, module.out_proj.weight, module.out_proj.bias, training=False,
        static_k=heads(w_k, b_k), static_v=heads(w_v, b_v))
    np.testing.assert_allclose(out.detach().numpy(), reference.detach().numpy(), atol=1e-12)
