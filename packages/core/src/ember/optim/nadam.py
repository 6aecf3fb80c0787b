"""NAdam."""

from __future__ import annotations

import numpy as np

from ember.backend import multi_tensor, xp_of
from ember.optim import _functional
from ember.optim.adam import adam_kernel_options, check_adam_options
from ember.optim.optimizer import Optimizer, advance_step, check_option, init_state
from ember.tensor import Tensor


class NAdam(Optimizer):
    """NAdam (Dozat, 2016): Adam with Nesterov momentum, on PyTorch's momentum schedule.

    PyTorch's algorithm at step ``t``: ``g = ±grad + weight_decay * p`` (or, with
    ``decoupled_weight_decay``, ``p *= 1 - lr * weight_decay``);
    ``mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))``; Adam's moments ``m``, ``v``;
    ``p -= lr * (1 - mu_t) / (1 - prod_{i<=t} mu_i) * g / (sqrt(v / (1 - beta2^t)) + eps)``
    ``+ lr * mu_{t+1} / (1 - prod_{i<=t+1} mu_i) * m / (sqrt(v / (1 - beta2^t)) + eps)``.

    State per parameter: ``step``, ``mu_product`` (0-d host float32 tensors), ``exp_avg``,
    ``exp_avg_sq``. ``foreach`` as in :class:`SGD`.

    Example:
        >>> opt = ember.optim.NAdam([ember.zeros(3, requires_grad=True)], momentum_decay=4e-3)
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False):
        check_adam_options(lr, betas, eps, weight_decay)
        check_option(momentum_decay, "momentum_decay value")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    _host_scalars = ("step", "mu_product")

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        if not state:
            init_state(state, param, "exp_avg", "exp_avg_sq")
            state["mu_product"] = Tensor(np.ones((), dtype=np.float32))
        beta1, beta2 = group["betas"]
        _functional.nadam(
            xp_of(param._array), param._array, grad, state["exp_avg"]._array,
            state["exp_avg_sq"]._array, advance_step(state["step"]), state["mu_product"]._array,
            lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"],
        )

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel,
        once the state exists (the first step takes the flat path)."""
        if not state:
            return False
        beta1, beta2 = group["betas"]
        bias_correction2, grad_step, momentum_step = _functional.nadam_scalars(
            advance_step(state["step"]), state["mu_product"]._array, lr=group["lr"],
            beta1=beta1, beta2=beta2, momentum_decay=group["momentum_decay"])
        multi_tensor.fused_update(
            "nadam", params, grads, {n: state[n]._array for n in ("exp_avg", "exp_avg_sq")},
            bias_correction2=bias_correction2, grad_step=grad_step, momentum_step=momentum_step,
            **adam_kernel_options(group))
        return True
