"""Adam and AdamW."""

from __future__ import annotations

from ember.backend import multi_tensor, xp_of
from ember.optim import _functional
from ember.optim.optimizer import Optimizer, advance_step, check_option, init_state, zeros_state
from ember.tensor import Tensor


def adam_kernel_options(group: dict) -> dict:
    """The options the Adam family's kernels share (``multi_tensor``'s ``_ADAM_SCALARS``)."""
    lr, weight_decay = group["lr"], group["weight_decay"]
    beta1, beta2 = group["betas"]
    return dict(weight_decay=weight_decay, decay_factor=1 - lr * weight_decay,
                one_minus_beta1=1 - beta1, beta2=beta2, one_minus_beta2=1 - beta2,
                eps=group["eps"], maximize=group["maximize"], decay=bool(weight_decay),
                decoupled=group["decoupled_weight_decay"])


def check_adam_options(lr, betas, eps, weight_decay) -> None:
    """PyTorch's checks of the options the Adam family shares."""
    check_option(lr, "learning rate")
    check_option(eps, "epsilon value")
    check_option(betas[0], "beta parameter at index 0", high=1.0)
    check_option(betas[1], "beta parameter at index 1", high=1.0)
    check_option(weight_decay, "weight_decay value")


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with optional AMSGrad and L2 or decoupled weight decay.

    PyTorch's algorithm at step ``t``: ``g = ±grad (+ weight_decay * p)``;
    ``m = beta1 * m + (1 - beta1) * g``; ``v = beta2 * v + (1 - beta2) * g^2``;
    with AMSGrad ``v_max = max(v_max, v)`` is used for ``v``;
    ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``.
    With ``decoupled_weight_decay`` (AdamW) the decay is ``p *= 1 - lr * weight_decay`` instead.

    State per parameter: ``step`` (0-d host float32 tensor), ``exp_avg``, ``exp_avg_sq`` and,
    with AMSGrad, ``max_exp_avg_sq``. ``foreach`` as in :class:`SGD`.

    Example:
        >>> model = ember.nn.Linear(4, 2)
        >>> opt = ember.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, decoupled_weight_decay: bool = False):
        check_adam_options(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    _host_scalars = ("step",)

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        init_state(state, param, "exp_avg", "exp_avg_sq")
        max_exp_avg_sq = None
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = zeros_state(param)
            max_exp_avg_sq = state["max_exp_avg_sq"]._array
        beta1, beta2 = group["betas"]
        _functional.adam(
            xp_of(param._array), param._array, grad, state["exp_avg"]._array,
            state["exp_avg_sq"]._array, max_exp_avg_sq, advance_step(state["step"]),
            lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"],
        )

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel,
        once the state exists (the first step takes the flat path)."""
        amsgrad = group["amsgrad"]
        if "exp_avg" not in state or (amsgrad and "max_exp_avg_sq" not in state):
            return False
        beta1, beta2 = group["betas"]
        bias_correction2_sqrt, step_size = _functional.adam_scalars(
            advance_step(state["step"]), lr=group["lr"], beta1=beta1, beta2=beta2)
        buffers = {name: state[name]._array for name in ("exp_avg", "exp_avg_sq")}
        if amsgrad:
            buffers["max_exp_avg_sq"] = state["max_exp_avg_sq"]._array
        multi_tensor.fused_update(
            "adam", params, grads, buffers, bias_correction2_sqrt=bias_correction2_sqrt,
            step_size=step_size, amsgrad=amsgrad, **adam_kernel_options(group))
        return True


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): ``p *= 1 - lr * wd``.

    The same as ``Adam(..., decoupled_weight_decay=True)``, with ``weight_decay=1e-2`` by default.

    Example:
        >>> model = ember.nn.Linear(4, 2)
        >>> opt = ember.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         decoupled_weight_decay=True)
