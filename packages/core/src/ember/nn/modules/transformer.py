"""Transformer encoder: TransformerEncoderLayer (self-attention + feed-forward) and a stack of
them, TransformerEncoder, with PyTorch's submodule names and masks."""

from __future__ import annotations

import copy
from collections.abc import Callable

from ember.nn import functional as F
from ember.nn.functional.attention import _canonical_mask, _none_or_dtype
from ember.nn.modules.attention import MultiheadAttention
from ember.nn.modules.container import ModuleList
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import LayerNorm
from ember.tensor.creation import full
from ember.tensor.tensor import Tensor


def _generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
    """The causal float mask ``(sz, sz)``: 0 on and below the diagonal, ``-inf`` above."""
    return full((sz, sz), float("-inf"), device=device, dtype=dtype).triu(diagonal=1)


def _get_activation_fn(activation: str) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _canonical_masks(src: Tensor, mask: Tensor | None, mask_name: str,
                     key_padding_mask: Tensor | None) -> tuple:
    """Both masks as float masks of ``src``'s dtype (bool True: not attended)."""
    key_padding_mask = _canonical_mask(key_padding_mask, "src_key_padding_mask",
                                       _none_or_dtype(mask), mask_name, src.dtype)
    mask = _canonical_mask(mask, mask_name, None, "", src.dtype, check_other=False)
    return mask, key_padding_mask


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and LayerNorm
    (after the residual by default, before the block with ``norm_first``).

    Shapes: ``src`` ``(S, N, d_model)`` (``(N, S, d_model)`` with ``batch_first``, or
    ``(S, d_model)`` unbatched) -> the same shape. ``src_mask`` ``(S, S)`` or
    ``(N * nhead, S, S)``, ``src_key_padding_mask`` ``(N, S)``: bool True / float ``-inf``
    forbid attention.

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)
        >>> layer(ember.randn(5, 3, 8)).shape
        (5, 3, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation = activation

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """Encodes ``src``; ``is_causal`` is a hint that ``src_mask`` is the causal mask."""
        src_mask, src_key_padding_mask = _canonical_masks(src, src_mask, "src_mask",
                                                          src_key_padding_mask)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerEncoder(Module):
    """``num_layers`` independent copies (``copy.deepcopy``) of ``encoder_layer`` applied in turn,
    then ``norm`` if given.

    ``enable_nested_tensor`` and ``mask_check`` are accepted for PyTorch compatibility; Ember has
    no nested tensors, so padded positions are computed and masked rather than skipped.

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)
        >>> nn.TransformerEncoder(layer, num_layers=2)(ember.randn(5, 3, 8)).shape
        (5, 3, 8)
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        """Encodes ``src`` through every layer; masks as in ``TransformerEncoderLayer``."""
        # Converted once here rather than in every layer.
        mask, src_key_padding_mask = _canonical_masks(src, mask, "mask", src_key_padding_mask)
        is_causal = bool(is_causal)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output
