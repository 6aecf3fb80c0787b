"""``normalize``: each slice along ``dim`` divided by its p-norm."""

from __future__ import annotations

from ember.tensor.tensor import Tensor


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input / max(||input||_p, eps)`` with the norm over ``dim``, as
    ``torch.nn.functional.normalize``.

    Example:
        >>> F.normalize(ember.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """
    result = input / input.norm(p, dim, keepdim=True).clamp_min(eps)
    if out is not None:
        out.copy_(result.detach())
        return out
    return result
