"""Transformers with PyTorch's submodule names (so state_dict keys match) and masks:
TransformerEncoderLayer (self-attention + feed-forward) and its stack TransformerEncoder,
TransformerDecoderLayer (self-attention + attention over the memory + feed-forward) and its
stack TransformerDecoder, and Transformer (an encoder and a decoder)."""

from __future__ import annotations

import copy
from collections.abc import Callable

from ember.nn import functional as F
from ember.nn import init
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
                     key_padding_mask: Tensor | None,
                     padding_name: str = "src_key_padding_mask") -> tuple:
    """Both masks as float masks of ``src``'s dtype (bool True: not attended)."""
    key_padding_mask = _canonical_mask(key_padding_mask, padding_name,
                                       _none_or_dtype(mask), mask_name, src.dtype)
    mask = _canonical_mask(mask, mask_name, None, "", src.dtype, check_other=False)
    return mask, key_padding_mask


def _detect_is_causal_mask(mask: Tensor | None, is_causal: bool | None, size: int) -> bool:
    """PyTorch's rule: an explicit ``is_causal`` wins; if it is None, a ``mask`` equal to the
    causal mask of ``size`` counts as causal. (A hint only: the mask is applied as given.)
    ``mask`` is a float mask (``_canonical_masks``)."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    causal = _generate_square_subsequent_mask(size, device=mask.device, dtype=mask.dtype)
    return tuple(mask.shape) == (size, size) and bool((mask == causal).all())


def _sequence_length(x: Tensor, batch_first: bool) -> int:
    return x.shape[1] if batch_first and x.dim() == 3 else x.shape[0]


class _TransformerLayer(Module):
    """What the encoder and decoder layers share: their submodules, in PyTorch's order (so the
    state_dict keys are PyTorch's), the self-attention block and the feed-forward block.

    A decoder layer (``cross_attention``) adds ``multihead_attn`` after ``self_attn`` and a
    third LayerNorm and Dropout; its feed-forward block ends with the last Dropout.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float,
                 activation: str | Callable[[Tensor], Tensor], layer_norm_eps: float,
                 batch_first: bool, norm_first: bool, bias: bool, device, dtype,
                 cross_attention: bool) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        blocks = 3 if cross_attention else 2
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **factory)
        if cross_attention:
            self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        for i in range(1, blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        for i in range(1, blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self._ff_dropout = f"dropout{blocks}"
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation = activation

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None, key_padding_mask: Tensor | None,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return getattr(self, self._ff_dropout)(x)


class TransformerEncoderLayer(_TransformerLayer):
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
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias, device, dtype, cross_attention=False)

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
        first = self.layers[0].self_attn if len(self.layers) else None
        length = _sequence_length(src, bool(first is not None and first.batch_first))
        is_causal = _detect_is_causal_mask(mask, is_causal, length)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention over ``tgt``, attention over ``memory`` (the encoder's output), then a
    feed-forward block; each with a residual connection and LayerNorm (after the residual by
    default, before each block with ``norm_first``).

    Shapes: ``tgt`` ``(T, N, d_model)``, ``memory`` ``(S, N, d_model)`` (batch first with
    ``batch_first``; unbatched ``(T, d_model)`` and ``(S, d_model)``) -> ``tgt``'s shape.
    ``tgt_mask`` ``(T, T)``, ``memory_mask`` ``(T, S)``, key padding masks ``(N, T)`` and
    ``(N, S)``: bool True / float ``-inf`` forbid attention. ``tgt_is_causal`` and
    ``memory_is_causal`` are hints that the masks are causal (the masks must be given).

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16)
        >>> layer(ember.randn(4, 3, 8), ember.randn(5, 3, 8)).shape
        (4, 3, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias, device, dtype, cross_attention=True)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        """Decodes ``tgt`` attending to ``memory``; masks as in the class docstring."""
        tgt_mask, tgt_key_padding_mask = _canonical_masks(
            tgt, tgt_mask, "tgt_mask", tgt_key_padding_mask, "tgt_key_padding_mask")
        memory_mask, memory_key_padding_mask = _canonical_masks(
            tgt, memory_mask, "memory_mask", memory_key_padding_mask, "memory_key_padding_mask")
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x))

    def _mha_block(self, x: Tensor, memory: Tensor, attn_mask: Tensor | None,
                   key_padding_mask: Tensor | None, is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)


class TransformerDecoder(Module):
    """``num_layers`` independent copies (``copy.deepcopy``) of ``decoder_layer`` applied in turn
    to ``tgt`` (each attending to the same ``memory``), then ``norm`` if given.

    ``tgt_is_causal=None`` (the default) detects whether ``tgt_mask`` is the causal mask, as
    PyTorch does.

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=8, nhead=2, dim_feedforward=16)
        >>> decoder = nn.TransformerDecoder(layer, num_layers=2)
        >>> decoder(ember.randn(4, 3, 8), ember.randn(5, 3, 8)).shape
        (4, 3, 8)
    """

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        """Decodes ``tgt`` through every layer; masks as in ``TransformerDecoderLayer``."""
        tgt_mask, tgt_key_padding_mask = _canonical_masks(
            tgt, tgt_mask, "tgt_mask", tgt_key_padding_mask, "tgt_key_padding_mask")
        first = self.layers[0].self_attn if len(self.layers) else None
        length = _sequence_length(tgt, bool(first is not None and first.batch_first))
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, length)
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """An encoder over ``src`` and a decoder over ``tgt`` attending to the encoder's output, as
    ``torch.nn.Transformer`` (Vaswani et al., 2017): same arguments, submodule names and
    initialisation (Xavier-uniform for every parameter with more than one dimension).

    Shapes: ``src`` ``(S, N, d_model)``, ``tgt`` ``(T, N, d_model)`` (batch first with
    ``batch_first``; unbatched without N) -> ``(T, N, d_model)``. Masks as in
    ``TransformerEncoderLayer`` and ``TransformerDecoderLayer``; ``memory_mask`` ``(T, S)``.

    Example:
        >>> model = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1,
        ...                        num_decoder_layers=1, dim_feedforward=16)
        >>> mask = nn.Transformer.generate_square_subsequent_mask(4)
        >>> model(ember.randn(5, 3, 8), ember.randn(4, 3, 8), tgt_mask=mask).shape
        (4, 3, 8)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = F.relu,
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        layer_options = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                         batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*layer_options, **factory), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*layer_options, **factory), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        """Encodes ``src`` and decodes ``tgt`` against it."""
        batch_dim = 0 if self.batch_first else 1
        if src.dim() == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError(f"the batch number of src and tgt must be equal, got src of "
                               f"shape {tuple(src.shape)} and tgt of shape {tuple(tgt.shape)} "
                               f"(batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"the feature number of src and tgt must be equal to d_model "
                               f"({self.d_model}), got src of shape {tuple(src.shape)} and tgt "
                               f"of shape {tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device=None, dtype=None) -> Tensor:
        """The causal float mask ``(sz, sz)``: 0 on and below the diagonal, ``-inf`` above."""
        return _generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self) -> None:
        for parameter in self.parameters():
            if parameter.dim() > 1:
                init.xavier_uniform_(parameter)
