"""``ember.nn.utils.parametrizations``: ``weight_norm`` and ``spectral_norm`` as
parametrizations, as ``torch.nn.utils.parametrizations`` (same state_dict keys:
``parametrizations.weight.original0`` / ``original1`` for weight norm, and
``parametrizations.weight.original`` with ``parametrizations.weight.0._u`` / ``_v`` for
spectral norm)."""

from __future__ import annotations

from ember.autograd.grad_mode import no_grad
from ember.nn.functional import normalize
from ember.nn.modules.conv import ConvTranspose1d, ConvTranspose2d
from ember.nn.modules.module import Module
from ember.nn.utils import parametrize
from ember.nn.utils.spectral_norm import weight_matrix
from ember.nn.utils.weight_norm import norm_except_dim
from ember.tensor.tensor import Tensor

__all__ = ["spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    """``weight = g * v / ||v||`` with the norm over every dimension but ``dim``."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple:
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrizes ``module.<name>`` as magnitude ``original0`` (g) times direction
    ``original1`` (v) over its norm (Salimans and Kingma, 2016).

    ``dim`` is the dimension kept by the norm (0: one magnitude per output unit); ``None``
    one magnitude for the whole tensor.

    Example:
        >>> from ember.nn.utils import parametrizations
        >>> layer = parametrizations.weight_norm(nn.Linear(4, 3))
        >>> layer.parametrizations.weight.original0.shape
        (3, 1)
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """``weight / sigma`` with ``sigma`` the largest singular value of the weight (as a matrix
    with ``dim`` as rows), estimated by power iteration on the buffers ``_u`` and ``_v``: one
    or more steps per forward in training mode, none in eval mode."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"spectral_norm: Dimension out of range (expected to be in range "
                             f"of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            matrix = weight_matrix(weight, self.dim)
            h, w = matrix.shape
            u = weight.new_empty(h).normal_(0, 1)
            v = weight.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", normalize(v, dim=0, eps=self.eps))
            self._power_method(matrix, 15)

    def _power_method(self, matrix: Tensor, n_power_iterations: int) -> None:
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(normalize(matrix @ self._v, dim=0, eps=self.eps))
                self._v.copy_(normalize(matrix.mT @ self._u, dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.dim() == 1:
            return normalize(weight, dim=0, eps=self.eps)
        matrix = weight_matrix(weight, self.dim)
        if self.training:
            self._power_method(matrix.detach(), self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = (u * (matrix @ v)).sum()
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None) -> Module:
    """Divides ``module.<name>`` by its spectral norm (Miyato et al., 2018), estimated by
    ``n_power_iterations`` steps of power iteration per training forward.

    ``dim`` (default 0, or 1 for transposed convolutions) is the output dimension.

    Example:
        >>> from ember.nn.utils import parametrizations
        >>> layer = parametrizations.spectral_norm(nn.Linear(5, 4))
        >>> sorted(layer.state_dict())[:3]
        ['bias', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v']
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with "
                         f"name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
