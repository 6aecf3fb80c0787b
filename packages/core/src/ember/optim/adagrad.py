"""Adagrad."""

from __future__ import annotations

from ember.backend import multi_tensor, xp_of
from ember.optim import _functional
from ember.optim.optimizer import Optimizer, advance_step, check_option, new_step, zeros_state
from ember.tensor import Tensor


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011).

    PyTorch's algorithm at step ``t``: ``g = ±grad + weight_decay * p``;
    ``lr_t = lr / (1 + (t - 1) * lr_decay)``; ``s += g^2``; ``p -= lr_t * g / (sqrt(s) + eps)``.

    State per parameter, created with the optimizer (as PyTorch does): ``step`` and ``sum``
    (filled with ``initial_accumulator_value``). ``foreach`` as in :class:`SGD`.

    Example:
        >>> model = ember.nn.Linear(4, 2)
        >>> opt = ember.optim.Adagrad(model.parameters(), lr=1e-2)
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False):
        check_option(lr, "learning rate")
        check_option(lr_decay, "lr_decay value")
        check_option(weight_decay, "weight_decay value")
        check_option(initial_accumulator_value, "initial_accumulator_value value")
        check_option(eps, "epsilon value")
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    _host_scalars = ("step",)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for param in group["params"]:
            state = self.state[param]
            state["step"] = new_step()
            state["sum"] = zeros_state(param, group["initial_accumulator_value"])

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        _functional.adagrad(
            xp_of(param._array), param._array, grad, state["sum"]._array,
            advance_step(state["step"]),
            lr=group["lr"], lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
            eps=group["eps"], maximize=group["maximize"],
        )

    def _fused_update(self, params, grads: list, state: dict, group: dict) -> bool:
        """The update of flattened ``params`` (a ``multi_tensor.PointerTable``) as one kernel."""
        weight_decay = group["weight_decay"]
        multi_tensor.fused_update(
            "adagrad", params, grads, {"state_sum": state["sum"]._array},
            clr=_functional.adagrad_lr(group["lr"], group["lr_decay"], advance_step(state["step"])),
            eps=group["eps"], weight_decay=weight_decay, maximize=group["maximize"],
            decay=bool(weight_decay))
        return True
