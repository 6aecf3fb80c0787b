"""Fold and Unfold: ``F.fold`` / ``F.unfold`` as layers."""

from __future__ import annotations

from ember.nn import functional as F
from ember.nn.modules.module import Module
from ember.tensor.tensor import Tensor


class _Blocks(Module):
    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Unfold(_Blocks):
    """Sliding blocks as columns: ``(N, C, H, W)`` -> ``(N, C * kh * kw, L)``.

    Example:
        >>> nn.Unfold(kernel_size=(2, 3))(ember.zeros(2, 5, 3, 4)).shape
        (2, 30, 4)
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(_Blocks):
    """Sums columns of sliding blocks into an image: ``(N, C * kh * kw, L)`` ->
    ``(N, C, *output_size)``.

    Example:
        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(ember.zeros(1, 12, 12)).shape
        (1, 3, 4, 5)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, " + super().extra_repr()
