"""Numpy references for the attention tests: SDPA, multi-head attention, an encoder layer.

Written from the definitions (per-head loops spelled out with (N, H, L, S) arrays), independent
of how Ember lays the heads out.
"""

from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis; rows that are all -inf give 0 (PyTorch's SDPA)."""
    top = scores.max(-1, keepdims=True)
    exp = np.exp(scores - np.where(np.isfinite(top), top, 0))
    total = exp.sum(-1, keepdims=True)
    return np.where(total > 0, exp / np.where(total > 0, total, 1), 0)


def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """``F.scaled_dot_product_attention`` (no dropout); bool masks are True where attended."""
    assert dropout_p == 0.0
    if enable_gqa:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    if is_causal:
        keep = np.tril(np.ones((q.shape[-2], k.shape[-2]), bool))
        scores = np.where(keep, scores, -np.inf)
    if attn_mask is not None:
        if attn_mask.dtype == bool:
            scores = np.where(attn_mask, scores, -np.inf)
        else:
            scores = scores + attn_mask
    return (softmax(scores) @ v).astype(q.dtype)


def params_of(module) -> dict:
    return {name: p.detach().numpy().astype(np.float64) for name, p in module.named_parameters()}


def _additive(mask, dtype=np.float64):
    """A PyTorch MHA mask (bool True: masked out) as an additive float mask."""
    if mask is None:
        return 0.0
    mask = np.asarray(mask)
    return np.where(mask, -np.inf, 0.0) if mask.dtype == bool else mask.astype(dtype)


def mha(module, query, key, value, key_padding_mask=None, attn_mask=None,
        average_attn_weights=True):
    """``nn.MultiheadAttention`` in numpy from the module's own parameters (eval, no dropout).

    Returns (output, weights) in the module's layout (batch_first or not, batched or not).
    """
    p = params_of(module)
    E, H = module.embed_dim, module.num_heads
    hd = E // H
    query, key, value = (np.asarray(x, np.float64) for x in (query, key, value))
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        if key_padding_mask is not None:
            key_padding_mask = np.asarray(key_padding_mask)[None]
    elif module.batch_first:
        query, key, value = (x.swapaxes(0, 1) for x in (query, key, value))
    if "in_proj_weight" in p:
        w_q, w_k, w_v = np.split(p["in_proj_weight"], 3)
    else:
        w_q, w_k, w_v = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    b_q, b_k, b_v = np.split(p["in_proj_bias"], 3) if "in_proj_bias" in p else (0.0,) * 3
    q = query @ w_q.T + b_q  # (L, N, E)
    k = key @ w_k.T + b_k  # (S, N, E)
    v = value @ w_v.T + b_v
    L, N, _ = q.shape
    S = k.shape[0]
    # (N, H, L, S) additive bias from both masks
    bias = np.zeros((N, H, L, S))
    if attn_mask is not None:
        mask = _additive(attn_mask)
        bias = bias + (mask if mask.ndim == 2 else mask.reshape(N, H, L, S))
    if key_padding_mask is not None:
        bias = bias + _additive(key_padding_mask)[:, None, None, :]
    if "bias_k" in p:
        k = np.concatenate([k, np.broadcast_to(p["bias_k"], (1, N, E))])
        v = np.concatenate([v, np.broadcast_to(p["bias_v"], (1, N, E))])
        bias = np.concatenate([bias, np.zeros((N, H, L, 1))], axis=-1)
    heads_q = q.reshape(L, N, H, hd).transpose(1, 2, 0, 3)  # (N, H, L, hd)
    heads_k = k.reshape(-1, N, H, hd).transpose(1, 2, 0, 3)
    heads_v = v.reshape(-1, N, H, hd).transpose(1, 2, 0, 3)
    if module.add_zero_attn:
        zeros = np.zeros((N, H, 1, hd))
        heads_k = np.concatenate([heads_k, zeros], axis=2)
        heads_v = np.concatenate([heads_v, zeros], axis=2)
        bias = np.concatenate([bias, np.zeros((N, H, L, 1))], axis=-1)
    weights = softmax(heads_q @ heads_k.swapaxes(-1, -2) / math.sqrt(hd) + bias)
    out = (weights @ heads_v).transpose(2, 0, 1, 3).reshape(L, N, E)
    out = out @ p["out_proj.weight"].T + p.get("out_proj.bias", 0.0)
    if average_attn_weights:
        weights = weights.mean(1)
    if unbatched:
        return out[:, 0], weights[0]
    if module.batch_first:
        out = out.swapaxes(0, 1)
    return out, weights


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _feed_forward_and_norm(layer, activation):
    """The feed-forward block and the i-th LayerNorm of a Transformer layer, in numpy."""
    p = params_of(layer)
    act = (lambda x: np.maximum(x, 0)) if activation == "relu" else \
        (lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))))

    def feed_forward(x):
        hidden = act(x @ p["linear1.weight"].T + p.get("linear1.bias", 0.0))
        return hidden @ p["linear2.weight"].T + p.get("linear2.bias", 0.0)

    def norm(x, i):
        return layer_norm(x, p[f"norm{i}.weight"], p.get(f"norm{i}.bias", 0.0), layer.norm1.eps)

    return feed_forward, norm


def encoder_layer(layer, src, src_mask=None, src_key_padding_mask=None, activation="relu"):
    """``nn.TransformerEncoderLayer`` in numpy (eval mode), from its own parameters."""
    feed_forward, norm = _feed_forward_and_norm(layer, activation)

    def attend(x):
        return mha(layer.self_attn, x, x, x, src_key_padding_mask, src_mask)[0]

    x = np.asarray(src, np.float64)
    if layer.norm_first:
        x = x + attend(norm(x, 1))
        return x + feed_forward(norm(x, 2))
    x = norm(x + attend(x), 1)
    return norm(x + feed_forward(x), 2)


def decoder_layer(layer, tgt, memory, tgt_mask=None, memory_mask=None,
                  tgt_key_padding_mask=None, memory_key_padding_mask=None, activation="relu"):
    """``nn.TransformerDecoderLayer`` in numpy (eval mode), from its own parameters."""
    feed_forward, norm = _feed_forward_and_norm(layer, activation)
    memory = np.asarray(memory, np.float64)

    def self_attend(x):
        return mha(layer.self_attn, x, x, x, tgt_key_padding_mask, tgt_mask)[0]

    def cross_attend(x):
        return mha(layer.multihead_attn, x, memory, memory, memory_key_padding_mask,
                   memory_mask)[0]

    x = np.asarray(tgt, np.float64)
    if layer.norm_first:
        x = x + self_attend(norm(x, 1))
        x = x + cross_attend(norm(x, 2))
        return x + feed_forward(norm(x, 3))
    x = norm(x + self_attend(x), 1)
    x = norm(x + cross_attend(x), 2)
    return norm(x + feed_forward(x), 3)
