"""Bilinear maps (``linear`` itself is the fused registered op)."""

from __future__ import annotations

from ember.tensor.tensor import Tensor


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """``y_k = x1^T W_k x2 + b_k``: ``(*, in1), (*, in2), (out, in1, in2), (out,) -> (*, out)``.

    Example:
        >>> F.bilinear(ember.ones(2, 3), ember.ones(2, 4), ember.ones(5, 3, 4)).shape
        (2, 5)
    """
    if weight.dim() != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D, got shape {tuple(weight.shape)}")
    out_features, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2 or \
            tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(
            f"bilinear(): input shapes {tuple(input1.shape)} and {tuple(input2.shape)} do not "
            f"match weight {tuple(weight.shape)}: expected (*, {in1}) and (*, {in2})"
        )
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    # One matmul: (N, in1) @ (in1, out * in2), then contract in2 against x2.
    mixed = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_features * in2))
    out = (mixed.reshape(-1, out_features, in2) * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_features,))
