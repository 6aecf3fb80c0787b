"""ASGD."""

from __future__ import annotations

import numpy as np

from ember.backend import multi_tensor, xp_of
from ember.optim import _functional
from ember.optim.optimizer import Optimizer, advance_step, check_option, new_step, zeros_state
from ember.tensor import Tensor


def _host_scalar(value: float) -> Tensor:
    return Tensor(np.array(value, dtype=np.float32))


class ASGD(Optimizer):
    """Averaged stochastic gradient descent (Polyak & Juditsky, 1992).

    PyTorch's algorithm at step ``t``: ``g = ±grad + weight_decay * p``;
    ``p *= 1 - lambd * eta``; ``p -= eta * g``; ``ax += mu * (p - ax)`` (``ax = p`` while
    ``mu == 1``); then ``eta = lr / (1 + lambd * lr * t)^alpha`` and ``mu = 1 / max(1, t - t0)``.
    The averaged parameters are ``state["ax"]``.

    State per parameter: ``step``, ``eta``, ``mu`` (0-d host float32 tensors) and ``ax``.
    ``foreach`` as in :class:`SGD`.

    Example:
        >>> opt = ember.optim.ASGD([ember.zeros(3, requires_grad=True)], lr=1e-2, t0=100)
    """

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, foreach: bool | None = None, *,
                 maximize: bool = False):
        check_option(lr, "learning rate")
        check_option(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    _host_scalars = ("step", "eta", "mu")

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        if not state:
            state["step"] = new_step()
            state["eta"] = _host_scalar(group["lr"])
            state["mu"] = _host_scalar(1.0)
            state["ax"] = zeros_state(param)
        eta, mu = state["eta"]._array, state["mu"]._array
        eta[()], mu[()] = _functional.asgd(
            xp_of(param._array), param._array, grad, state["ax"]._array,
            advance_step(state["step"]), eta.item(), mu.item(),
            lr=group["lr"], lambd=group["lambd"], alpha=group["alpha"], t0=group["t0"],
            weight_decay=group["weight_decay"], maximize=group["maximize"],
        )

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel,
        once the state exists (the first step takes the flat path)."""
        if not state:
            return False
        step = advance_step(state["step"])
        eta, mu = state["eta"]._array, state["mu"]._array
        weight_decay = group["weight_decay"]
        multi_tensor.fused_update(
            "asgd", params, grads, {"ax": state["ax"]._array}, weight_decay=weight_decay,
            shrink=1 - group["lambd"] * eta.item(), eta=eta.item(), mu=mu.item(),
            maximize=group["maximize"], decay=bool(weight_decay), averaging=mu.item() != 1)
        eta[()], mu[()] = _functional.asgd_next(step, lr=group["lr"], lambd=group["lambd"],
                                                alpha=group["alpha"], t0=group["t0"])
        return True
