"""``ember.optim.swa_utils``: weight averaging as ``torch.optim.swa_utils``.

``AveragedModel`` keeps a running average of a model's parameters: the equal-weight average of
Stochastic Weight Averaging (Izmailov et al., 2018) by default, or an exponential moving average
with ``multi_avg_fn=get_ema_multi_avg_fn(decay)``. ``SWALR`` anneals each group's learning rate to
a constant ``swa_lr``; ``update_bn`` recomputes batch-norm statistics for the averaged weights.

Example:
    >>> from ember.optim.swa_utils import SWALR, AveragedModel
    >>> model = ember.nn.Linear(2, 1)
    >>> optimizer = ember.optim.SGD(model.parameters(), lr=0.1)
    >>> swa_model = AveragedModel(model)
    >>> scheduler = SWALR(optimizer, swa_lr=0.05)
    >>> for epoch in range(3):  # train an epoch here, then:
    ...     swa_model.update_parameters(model)
    ...     scheduler.step()
    >>> swa_model.n_averaged.item()
    3
"""

from __future__ import annotations

import copy
import itertools
import math

from ember.autograd import no_grad
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import _BatchNorm
from ember.optim._scheduler import LRScheduler, _per_group
from ember.tensor import Tensor, tensor


def get_ema_multi_avg_fn(decay: float = 0.999):
    """An in-place EMA over lists of tensors: ``ema = decay * ema + (1 - decay) * current``."""

    def ema_update(ema_param_list, current_param_list, _num_averaged):
        for ema, current in zip(ema_param_list, current_param_list):
            _assign(ema, ema._array + (current._array - ema._array) * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """An in-place equal-weight running mean over lists of tensors."""

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        count = float(num_averaged.item() if isinstance(num_averaged, Tensor) else num_averaged)
        for averaged, current in zip(averaged_param_list, current_param_list):
            _assign(averaged, averaged._array + (current._array - averaged._array) / (count + 1))

    return swa_update


def get_ema_avg_fn(decay: float = 0.999):
    """``(ema, current, num_averaged) -> decay * ema + (1 - decay) * current``."""

    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """``(averaged, current, num_averaged) -> averaged + (current - averaged) / (n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def _assign(target: Tensor, values) -> None:
    """Writes ``values`` (an array or Tensor) into ``target`` in place, casting to its dtype."""
    array = values._array if isinstance(values, Tensor) else values
    target._array[...] = array
    target._bump_version()


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and, with ``use_buffers``, buffers) are the average
    of the values ``update_parameters`` has seen.

    Args:
        model: the model to average (deep-copied).
        device: where to keep the averaged copy (default: where ``model`` is).
        avg_fn: ``(averaged, current, num_averaged) -> new averaged`` per tensor.
        multi_avg_fn: the same on lists of tensors, in place (``get_ema_multi_avg_fn``).
            Without either, the equal-weight SWA average.
        use_buffers: average the buffers too; otherwise they are copied from ``model``. Integer
            buffers (batch-norm's ``num_batches_tracked``) are always copied, not averaged.

    Attributes:
        module: the averaged model; ``n_averaged``: an int64 buffer counting the updates.
    """

    def __init__(self, model: Module, device=None, avg_fn=None, multi_avg_fn=None,
                 use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, model: Module):
        if self.use_buffers:
            return (itertools.chain(self.module.parameters(), self.module.buffers()),
                    itertools.chain(model.parameters(), model.buffers()))
        return self.module.parameters(), model.parameters()

    @no_grad()
    def update_parameters(self, model: Module) -> None:
        """Folds ``model``'s current values into the average (the first call copies them)."""
        mine, theirs = self._averaged_tensors(model)
        averaged, current = [], []
        first = int(self.n_averaged.item()) == 0
        for p_averaged, p_model in zip(mine, theirs):
            p_model = p_model.detach().to(p_averaged.device)
            averaged.append(p_averaged.detach())
            current.append(p_model)
            if first:
                _assign(p_averaged, p_model)
        if not first:
            if self.avg_fn is not None:
                for p_averaged, p_model in zip(averaged, current):
                    _assign(p_averaged, self.avg_fn(p_averaged, p_model, self.n_averaged))
            else:
                multi_avg_fn = self.multi_avg_fn or get_swa_multi_avg_fn()
                floating = [(a, c) for a, c in zip(averaged, current)
                            if a._array.dtype.kind == "f"]
                multi_avg_fn([a for a, _ in floating], [c for _, c in floating],
                             self.n_averaged)
                for a, c in zip(averaged, current):  # integer buffers (batch counters) follow
                    if a._array.dtype.kind != "f":
                        _assign(a, c)
        if not self.use_buffers:  # keep the buffers in sync with the source model
            for b_averaged, b_model in zip(self.module.buffers(), model.buffers()):
                _assign(b_averaged, b_model.detach().to(b_averaged.device))
        _assign(self.n_averaged, self.n_averaged._array + 1)


@no_grad()
def update_bn(loader, model: Module, device=None) -> None:
    """Recomputes the running statistics of every batch-norm layer of ``model`` in one pass over
    ``loader`` (a cumulative average; inputs are a batch's first element when it is a list or
    tuple), then restores the layers' momentum and the model's training mode."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's learning rate from its current value to ``swa_lr`` over
    ``anneal_epochs`` steps (``"cos"`` or ``"linear"``), then keeps it there.

    Example:
        >>> optimizer = ember.optim.SGD([ember.zeros(2, requires_grad=True)], lr=1.0)
        >>> scheduler = SWALR(optimizer, swa_lr=0.5, anneal_epochs=2, anneal_strategy="linear")
        >>> scheduler.step()
        >>> scheduler.get_last_lr()
        [0.75]
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs: int = 10, anneal_strategy: str = "cos",
                 last_epoch: int = -1) -> None:
        for value, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must by one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t: float) -> float:
        return t

    @staticmethod
    def _cosine_anneal(t: float) -> float:
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list:
        # The lr before annealing is recovered from the current one, so that SWALR composes
        # with whatever set the lr before it (PyTorch's formulation).
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.pop("anneal_func", None)  # a function: rebuilt from the class on load
        state["anneal_strategy"] = "cos" if self.anneal_func == self._cosine_anneal else "linear"
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        strategy = state.pop("anneal_strategy", "cos")
        super().load_state_dict(state)
        self.anneal_func = self._cosine_anneal if strategy == "cos" else self._linear_anneal
