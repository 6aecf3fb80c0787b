"""Stochastic gradient descent."""

from __future__ import annotations

from ember.backend import multi_tensor, xp_of
from ember.optim import _functional
from ember.optim.optimizer import Optimizer, check_option
from ember.tensor import Tensor


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    PyTorch's algorithm: ``g = ±grad + weight_decay * p``; with momentum
    ``b = momentum * b + (1 - dampening) * g`` (``b = g`` on the first step) and
    ``g = g + momentum * b`` (Nesterov) or ``g = b``; then ``p -= lr * g``.

    State per parameter: ``momentum_buffer`` (only with ``momentum != 0``).

    ``foreach`` as PyTorch's: None picks the multi-tensor path on the GPU (one kernel per group
    there) and, on the CPU, for parameters small enough that it is faster (see
    ``ember.optim._flat``); True and False force it on or off. The results are the same.

    Example:
        >>> model = ember.nn.Linear(4, 2)
        >>> opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> x, y = ember.randn(8, 4), ember.randn(8, 2)
        >>> loss_fn = ember.nn.MSELoss()
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None):
        check_option(lr, "learning rate")
        check_option(momentum, "momentum value")
        check_option(weight_decay, "weight_decay value")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach)
        super().__init__(params, defaults)

    _host_scalars = ()
    _cpu_flat_mean = 256  # one or two array passes per parameter: less to save than Adam's

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        buffer = state.get("momentum_buffer")
        new_buffer = _functional.sgd(
            xp_of(param._array), param._array, grad, None if buffer is None else buffer._array,
            lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
            maximize=group["maximize"],
        )
        if buffer is None and new_buffer is not None:
            state["momentum_buffer"] = Tensor(new_buffer)

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel."""
        momentum, dampening = group["momentum"], group["dampening"]
        first_step = bool(momentum) and "momentum_buffer" not in state
        if first_step:
            state["momentum_buffer"] = Tensor(
                xp_of(params.arrays[0]).empty(params.total, params.dtype))
        buffers = {"momentum_buffer": state["momentum_buffer"]._array} if momentum else {}
        multi_tensor.fused_update(
            "sgd", params, grads, buffers, lr=group["lr"], weight_decay=group["weight_decay"],
            momentum=momentum, one_minus_dampening=1 - dampening, maximize=group["maximize"],
            decay=bool(group["weight_decay"]), has_momentum=bool(momentum),
            first_step=first_step, dampened=bool(dampening), nesterov=group["nesterov"])
        return True
