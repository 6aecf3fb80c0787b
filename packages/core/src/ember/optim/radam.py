"""RAdam."""

from __future__ import annotations

from ember.backend import multi_tensor, xp_of
from ember.optim import _functional
from ember.optim.adam import adam_kernel_options, check_adam_options
from ember.optim.optimizer import Optimizer, advance_step, init_state
from ember.tensor import Tensor


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020): Adam with a rectified adaptive learning rate.

    PyTorch's algorithm at step ``t``: weight decay as Adam (L2) or AdamW
    (``decoupled_weight_decay``); Adam's moments ``m``, ``v``; ``rho_inf = 2 / (1 - beta2) - 1``,
    ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``; when ``rho_t > 5``
    ``p -= lr * r_t * m / (1 - beta1^t) * sqrt(1 - beta2^t) / (sqrt(v) + eps)`` with the
    rectification ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2)
    rho_t))``, else ``p -= lr * m / (1 - beta1^t)``.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``. ``foreach`` as in :class:`SGD`.

    Example:
        >>> opt = ember.optim.RAdam([ember.zeros(3, requires_grad=True)], lr=1e-3)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False):
        check_adam_options(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    _host_scalars = ("step",)

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        init_state(state, param, "exp_avg", "exp_avg_sq")
        beta1, beta2 = group["betas"]
        _functional.radam(
            xp_of(param._array), param._array, grad, state["exp_avg"]._array,
            state["exp_avg_sq"]._array, advance_step(state["step"]),
            lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"],
        )

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel,
        once the state exists (the first step takes the flat path)."""
        if not state:
            return False
        beta1, beta2 = group["betas"]
        rectified, step_size = _functional.radam_scalars(
            advance_step(state["step"]), lr=group["lr"], beta1=beta1, beta2=beta2)
        multi_tensor.fused_update(
            "radam", params, grads, {n: state[n]._array for n in ("exp_avg", "exp_avg_sq")},
            step_size=step_size, rectified=rectified, **adam_kernel_options(group))
        return True
