"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

Both are composed of differentiable ops (matmul, softmax, where, dropout), so they are twice
differentiable. Masks are constants prepared on raw arrays; a float mask that requires grad is
added to the scores and gets its gradient.

Two mask conventions coexist, as in PyTorch: in ``scaled_dot_product_attention`` a bool mask is
True where a query *may* attend; in ``multi_head_attention_forward`` (and ``nn.MultiheadAttention``,
``nn.TransformerEncoderLayer``) a bool ``attn_mask`` or ``key_padding_mask`` is True where it
*may not*. Float masks are added to the scores in both.

A query row whose every key is masked attends to nothing: its weights are 0 (its output 0), as in
PyTorch's ``scaled_dot_product_attention``, rather than NaN. PyTorch's ``need_weights=True`` path
of multi-head attention would give NaN there; Ember gives the same zeros on both paths.
"""

from __future__ import annotations

import math
import warnings

from ember.backend import reading_waits, xp_of
from ember.nn.functional.dropout import dropout
from ember.tensor.registry import OPS
from ember.tensor.tensor import Tensor

_NEG_INF = float("-inf")


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dim, with weights 0 (not NaN) on rows that are all ``-inf``."""
    data = scores._array
    xp = xp_of(data)
    dead = xp.isneginf(data).all(axis=-1, keepdims=True)
    # on a GPU whether any row is dead is not read (a host synchronisation): masked as if some were
    if not reading_waits(data) and not dead.any():
        return scores.softmax(-1)
    # Scores of dead rows are replaced before the softmax so that no NaN reaches the backward.
    dead = Tensor(dead)
    return OPS["where"](dead, 0.0, OPS["where"](dead, 0.0, scores).softmax(-1))


def _attend(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, dropout_p: float,
            scale: float, may_block_rows: bool = True) -> tuple[Tensor, Tensor]:
    """``softmax(Q K^T * scale + mask) V`` and the attention weights.

    ``mask`` is None, a bool mask (True: attend) or a float mask added to the scores; it
    broadcasts against the scores ``(..., L, S)``. ``may_block_rows`` False skips the search
    for rows the mask blocks entirely (the causal mask never does).
    """
    scores = (query * scale).matmul(key.transpose(-2, -1))
    if mask is None:
        weights = scores.softmax(-1)
    else:
        if mask._array.dtype.kind == "b":
            scores = OPS["where"](mask, scores, _NEG_INF)
        else:
            scores = scores + mask
        weights = _safe_softmax(scores) if may_block_rows else scores.softmax(-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights.matmul(value), weights


def _check_qkv(query: Tensor, key: Tensor, value: Tensor, enable_gqa: bool) -> None:
    name = "scaled_dot_product_attention"
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(
            f"{name}: Expected query, key, and value to have the same dtype, but got "
            f"query.dtype: {query.dtype}, key.dtype: {key.dtype} and value.dtype: {value.dtype}"
        )
    if not query.device == key.device == value.device:
        raise RuntimeError(
            f"{name}: Expected query, key, and value to be on the same device, but got "
            f"{query.device}, {key.device} and {value.device}"
        )
    shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
    if min(query.dim(), key.dim(), value.dim()) < 2:
        raise RuntimeError(f"{name}: expected query, key and value of at least 2 dims "
                           f"(..., L or S, E), got {shapes}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"{name}: expected query (..., L, E), key (..., S, E) and value "
                           f"(..., S, Ev), got {shapes}")
    if enable_gqa and (query.dim() < 3 or query.shape[-3] % key.shape[-3]
                       or key.shape[-3] != value.shape[-3]):
        raise RuntimeError(f"{name}: with enable_gqa, the heads (dim -3) of query must be a "
                           f"multiple of those of key and value, got {shapes}")


def _repeat_heads(tensor: Tensor, heads: int) -> Tensor:
    """``(..., Hk, S, E) -> (..., heads, S, E)``, each head repeated in place (as
    ``repeat_interleave`` would)."""
    *lead, kv_heads, length, features = tensor.shape
    groups = heads // kv_heads
    if groups == 1:
        return tensor
    expanded = tensor.unsqueeze(-3).expand(*lead, kv_heads, groups, length, features)
    return expanded.reshape(*lead, heads, length, features)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(Q K^T * scale + mask) V``.

    Shapes: query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)`` -> ``(..., L, Ev)``;
    the leading dims broadcast.

    Args:
        attn_mask: broadcastable to ``(..., L, S)``; bool: True where a query may attend (False
            gives ``-inf``), float: added to the scores. Not allowed together with ``is_causal``.
        dropout_p: dropout on the attention weights (always applied when > 0, as in PyTorch:
            pass 0 in evaluation).
        is_causal: query ``i`` attends to keys ``j <= i`` (top-left aligned when L != S).
        scale: defaults to ``1 / sqrt(E)``.
        enable_gqa: key and value may have fewer heads (dim -3) than query; each is repeated.

    Example:
        >>> q = ember.randn(2, 4, 3, 8)
        >>> F.scaled_dot_product_attention(q, q, q, is_causal=True).shape
        (2, 4, 3, 8)
    """
    _check_qkv(query, key, value, enable_gqa)
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        xp = xp_of(query._array)
        attn_mask = Tensor(xp.tri(query.shape[-2], key.shape[-2], dtype=bool))
    elif attn_mask is not None and attn_mask._array.dtype.kind != "b" \
            and attn_mask.dtype != query.dtype:
        raise RuntimeError(
            "scaled_dot_product_attention: Expected attn_mask dtype to be bool or to match query "
            f"dtype, but got attn_mask.dtype: {attn_mask.dtype} and query.dtype: {query.dtype}"
        )
    if enable_gqa:
        key = _repeat_heads(key, query.shape[-3])
        value = _repeat_heads(value, query.shape[-3])
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    return _attend(query, key, value, attn_mask, dropout_p, scale, not is_causal)[0]


# ---- multi-head attention -------------------------------------------------------------------


def _canonical_mask(mask: Tensor | None, mask_name: str, other_type, other_name: str,
                    target_type, check_other: bool = True) -> Tensor | None:
    """A bool mask (True: masked out) as a float mask of ``target_type`` (``-inf`` / 0).

    Float masks pass as they are; mixing a bool and a float mask warns, as in PyTorch.
    """
    if mask is None:
        return None
    kind = mask._array.dtype.kind
    if kind != "b" and kind != "f":
        raise AssertionError(f"only bool and floating types of {mask_name} are supported, "
                             f"got {mask.dtype}")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. "
                      "Use same type for both instead.", stacklevel=4)
    if kind == "f":
        if mask.dtype != target_type:
            raise RuntimeError(f"Expected {mask_name} dtype to be bool or to match the input "
                               f"dtype {target_type}, but got {mask.dtype}")
        return mask
    data = mask._array
    dtype = target_type.numpy
    return Tensor(xp_of(data).where(data, dtype.type(_NEG_INF), dtype.type(0)))


def _none_or_dtype(mask: Tensor | None):
    return None if mask is None else mask.dtype


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask, attn_mask,
                     num_heads: int) -> bool:
    """Whether the input is batched (3-D query); AssertionErrors as in PyTorch otherwise."""
    batched = query.dim() == 3
    if query.dim() not in (2, 3):
        raise AssertionError("query should be unbatched 2D or batched 3D tensor but received "
                             f"{query.dim()}-D query tensor of shape {tuple(query.shape)}")
    ndim = query.dim()
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.dim() != ndim or value.dim() != ndim:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {ndim}-D but "
                             f"found {key.dim()}-D and {value.dim()}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != ndim - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
                             f"{ndim - 1}-D but found {key_padding_mask.dim()}-D tensor instead")
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or "
                                 f"3-D but found {attn_mask.dim()}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.dim() == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{tuple(attn_mask.shape)}")
    return batched


def _in_projection(query: Tensor, key: Tensor, value: Tensor, packed: Tensor | None,
                   separate: tuple, bias: Tensor | None) -> tuple:
    """q, k, v projections: with the packed (3E, E) weight, one matmul for self-attention and
    two for a shared key/value; else one per input with the ``separate`` weights."""
    linear = OPS["linear"]
    if packed is not None:
        if key is value:
            if query is key:
                return linear(query, packed, bias).chunk(3, -1)
            embed_dim = query.shape[-1]
            bias_q, bias_kv = (None, None) if bias is None else \
                (bias[:embed_dim], bias[embed_dim:])
            kv = linear(key, packed[embed_dim:], bias_kv).chunk(2, -1)
            return (linear(query, packed[:embed_dim], bias_q), *kv)
        separate = packed.chunk(3)
    biases = (None,) * 3 if bias is None else bias.chunk(3)
    return tuple(linear(x, w, b) for x, w, b in zip((query, key, value), separate, biases))


def _check_projection(name: str, weight: Tensor, expected: tuple) -> None:
    if tuple(weight.shape) != expected:
        raise AssertionError(f"expecting {name} weights shape of {expected}, but got "
                             f"{tuple(weight.shape)}")


def _append_zero_column(mask: Tensor | None) -> Tensor | None:
    return None if mask is None else OPS["pad"](mask, (0, 1))


def multi_head_attention_forward(
    query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
    in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
    bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
    out_proj_bias: Tensor | None, training: bool = True, key_padding_mask: Tensor | None = None,
    need_weights: bool = True, attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None, static_v: Tensor | None = None,
    average_attn_weights: bool = True, is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention over sequence-first inputs (what ``nn.MultiheadAttention`` runs).

    Shapes: query ``(L, N, E)`` or ``(L, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)``;
    ``key_padding_mask`` ``(N, S)`` / ``(S,)``; ``attn_mask`` ``(L, S)`` or
    ``(N * num_heads, L, S)``.
    Bool masks are True where attention is NOT allowed; float masks are added to the scores.
    ``is_causal`` is a hint that ``attn_mask`` is the causal mask (which is then used as given).

    Returns:
        ``attn_output`` ``(L, N, E)`` and, with ``need_weights``, the attention weights
        ``(N, L, S)`` averaged over heads (``(N, num_heads, L, S)`` if not
        ``average_attn_weights``); unbatched inputs drop the N dim.
    """
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, batch, embed_dim = query.shape
    src_len = key.shape[0] if static_k is None else static_k.shape[1]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)

    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim} (query of shape {tuple(query.shape)})")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
        _check_projection("query", q_proj_weight, (embed_dim, embed_dim))
        _check_projection("key", k_proj_weight, (embed_dim, key.shape[-1]))
        _check_projection("value", v_proj_weight, (embed_dim, value.shape[-1]))
        separate, packed = (q_proj_weight, k_proj_weight, v_proj_weight), None
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)}")
        if key.shape[-1] != embed_dim:
            raise RuntimeError(f"expecting key and value of embedding dimension {embed_dim} "
                               f"(as query {tuple(query.shape)}), but got {tuple(key.shape)}")
        separate, packed = (), in_proj_weight
    if attn_mask is not None:
        expected = (tgt_len, src_len) if attn_mask.dim() == 2 else \
            (batch * num_heads, tgt_len, src_len)
        if tuple(attn_mask.shape) != expected:
            raise RuntimeError(f"The shape of the {attn_mask.dim()}D attn_mask is "
                               f"{tuple(attn_mask.shape)}, but should be {expected}.")
        if attn_mask.dim() == 2:
            attn_mask = attn_mask.unsqueeze(0)
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (batch, src_len):
        raise AssertionError(f"expecting key_padding_mask shape of {(batch, src_len)}, but got "
                             f"{tuple(key_padding_mask.shape)}")
    q, k, v = _in_projection(query, key, value, packed, separate, in_proj_bias)


    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key or value.")
        k = OPS["cat"]([k, bias_k.expand(1, batch, embed_dim)])
        v = OPS["cat"]([v, bias_v.expand(1, batch, embed_dim)])
        attn_mask = _append_zero_column(attn_mask)
        key_padding_mask = _append_zero_column(key_padding_mask)
    elif (bias_k is None) != (bias_v is None):
        raise AssertionError("bias_k and bias_v must be given together")

    # (len, N, E) -> (N * heads, len, head_dim): batch-major, as the 3-D attn_mask is laid out.
    heads = batch * num_heads
    q = q.reshape(tgt_len, heads, head_dim).transpose(0, 1)
    k = _static_or(static_k, "static_k", k, heads, head_dim)
    v = _static_or(static_v, "static_v", v, heads, head_dim)
    if add_zero_attn:
        zeros = q.new_zeros((heads, 1, head_dim))
        k = OPS["cat"]([k, zeros], 1)
        v = OPS["cat"]([v, zeros], 1)
        attn_mask = _append_zero_column(attn_mask)
        key_padding_mask = _append_zero_column(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        padding = key_padding_mask.reshape(batch, 1, 1, src_len)
        padding = padding.expand(batch, num_heads, 1, src_len).reshape(heads, 1, src_len)
        attn_mask = padding if attn_mask is None else attn_mask + padding

    output, weights = _attend(q, k, v, attn_mask, dropout_p if training else 0.0,
                              1.0 / math.sqrt(head_dim))
    output = output.transpose(0, 1).reshape(tgt_len, batch, embed_dim)
    output = OPS["linear"](output, out_proj_weight, out_proj_bias)
    if not batched:
        output = output.squeeze(1)
    if not need_weights:
        return output, None
    weights = weights.reshape(batch, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.mean(1)
    return output, weights if batched else weights.squeeze(0)


def _static_or(static: Tensor | None, name: str, projected: Tensor, heads: int,
               head_dim: int) -> Tensor:
    """The given per-head keys/values ``(N * heads, S, head_dim)``, or the projected ones."""
    if static is None:
        return projected.reshape(projected.shape[0], heads, head_dim).transpose(0, 1)
    if static.dim() != 3 or static.shape[0] != heads or static.shape[2] != head_dim:
        raise AssertionError(f"expecting {name} of shape ({heads}, S, {head_dim}), but got "
                             f"{tuple(static.shape)}")
    return static
