"""The Optimizer base: parameter groups, per-parameter state, and PyTorch-format state dicts.

Subclasses keep the bookkeeping (which state a parameter has, reading a group's options) and call
the update math in ``ember.optim._functional``, which works on raw numpy/cupy arrays in place.

With ``foreach`` (PyTorch's option; None by default: on the GPU, and on the CPU where measured
faster) the parameters of a group are updated together through flat state buffers, one kernel
per group on the GPU; ``state[p]`` then holds views of those buffers (``ember.optim._flat``).

Every optimizer's step counter (``state[p]["step"]``) is, as in PyTorch, a 0-d float32 tensor.
Ember keeps it in host memory whatever the parameter's device, so reading it for the bias
corrections never waits on the GPU; ``load_state_dict`` moves it back to the host.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from itertools import chain

import numpy as np

from ember.autograd import enable_grad
from ember.backend import CPU, Device, array_module, device_context, device_of, to_device
from ember.optim._flat import GroupLayout
from ember.tensor import Tensor


class _RequiredParameter:
    """The default of an option every group must set (SGD's ``lr`` in PyTorch)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each with a ``"params"``
            entry and per-group options overriding ``defaults``.
        defaults: the options a group gets when it does not set them.

    Example:
        >>> w = ember.zeros(3, requires_grad=True)
        >>> opt = ember.optim.SGD([{"params": [w], "lr": 0.1}], lr=0.01)
        >>> opt.param_groups[0]["lr"]
        0.1
    """

    # The names of the 0-d host state entries (``step`` ...) of an optimizer whose update is
    # elementwise, so that it may run on flattened parameters (``foreach``); None (custom
    # optimizers): always one parameter at a time.
    _host_scalars: tuple | None = None
    # On the CPU with foreach=None, the mean parameter size (elements) up to which flattening a
    # bucket was measured faster (``ember.optim._flat``).
    _cpu_flat_mean = 1024

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._layouts: dict = {}  # id(group) -> GroupLayout of its flat buckets
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---- parameter groups -----------------------------------------------------------------

    def add_param_group(self, param_group: dict) -> None:
        """Adds a group of parameters (with its own options) to optimize.

        Raises:
            TypeError: when ``params`` is a set or holds something other than leaf tensors.
            ValueError: when a required option is missing or a parameter is already in a group.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{type(param).__name__}"
                )
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization parameter "
                    f"{name}"
                )
            group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn(  # PyTorch warns (and updates such a parameter twice per step)
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will cause an error",
                stacklevel=3,
            )
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ---- stepping -------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears every parameter's gradient: drops it (default) or fills it with zeros."""
        for group in self.param_groups:
            for param in group["params"]:
                grad = param.grad
                if grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    grad.detach_()
                    grad._array.fill(0)
                    grad._bump_version()

    def step(self, closure=None):
        """Performs one update of every parameter that has a gradient.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss; it runs
                with gradients enabled.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            if self._host_scalars is None or group.get("foreach") is False:
                self._step_each(group["params"], group)
            else:
                self._step_foreach(group)
        return loss

    def _step_each(self, params: list, group: dict) -> None:
        """The per-parameter path: each parameter that has a gradient, one after the other."""
        for param in params:
            grad = param.grad
            if grad is None:
                continue
            with device_context(device_of(param._array)):
                self._update(param, grad._array, self.state[param], group)
            param._bump_version()

    def _step_foreach(self, group: dict) -> None:
        """The multi-tensor path (``ember.optim._flat``): flat buckets, the rest one by one."""
        params = [p for p in group["params"] if p.grad is not None]
        layout = self._layouts.get(id(group))
        if layout is None or not layout.matches(group, params, self.state):
            layout = GroupLayout(group, params, self.state, self._host_scalars,
                                 self._cpu_flat_mean)
            live = {id(g) for g in self.param_groups}
            self._layouts = {key: value for key, value in self._layouts.items() if key in live}
            self._layouts[id(group)] = layout
        for bucket in layout.buckets:
            bucket.step(self, group)
        self._step_each(layout.single, group)

    def _update(self, param: Tensor, grad, state: dict, group: dict) -> None:
        """Updates ``param``'s array in place from the ``grad`` array; each optimizer defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    # ---- state dicts ----------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The optimizer's state in PyTorch's layout.

        Returns:
            ``{"state": {index: {name: value}}, "param_groups": [{option: value, "params":
            [index, ...]}]}``, parameters numbered in group order. The state tensors are the live
            ones (as in PyTorch): save or copy them before stepping again if a snapshot is wanted.
        """
        index: dict = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            for param in group["params"]:
                index.setdefault(id(param), len(index))
            packed["params"] = [index[id(param)] for param in group["params"]]
            groups.append(packed)
        state = {
            (index[id(key)] if isinstance(key, Tensor) else key): dict(value)
            for key, value in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Loads a state from :meth:`state_dict`, mapped onto this optimizer's parameters in order.

        The state is copied: floating state tensors take their parameter's dtype and device,
        others only its device; ``step`` stays a host float32 tensor. Group options come from
        ``state_dict``; options it lacks keep this optimizer's defaults.

        Raises:
            ValueError: when the number of groups or of parameters in a group differs.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(
                "load_state_dict: expected a dict with 'state' and 'param_groups' (as returned "
                f"by Optimizer.state_dict()), got {_describe(state_dict)}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)}) than the optimizer ({len(self.param_groups)})"
            )
        for number, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group: group {number} has {len(saved['params'])} parameters "
                    f"in the state dict and {len(group['params'])} in the optimizer"
                )
        params_by_index = dict(
            zip(
                chain.from_iterable(saved["params"] for saved in saved_groups),
                chain.from_iterable(group["params"] for group in self.param_groups),
            )
        )
        state: defaultdict = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = params_by_index.get(key)
            if param is None:
                state[key] = value
            else:
                state[param] = {
                    name: _cast_state(name, item, param) for name, item in value.items()
                }
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            loaded = {**self.defaults, **saved, "params": group["params"]}
            groups.append(loaded)
        self.state = state
        self.param_groups = groups
        self._layouts = {}

    def __getstate__(self) -> dict:
        """A copy (``copy.deepcopy``) rebuilds its flat buffers: views do not survive copying."""
        return {key: value for key, value in self.__dict__.items() if key != "_layouts"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._layouts = {}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {number}")
            lines.extend(
                f"    {key}: {group[key]}" for key in sorted(group) if key != "params"
            )
        lines.append(")")
        return "\n".join(lines)


def _describe(value) -> str:
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return f"a {type(value).__name__}"


def _cast_state(name: str, value, param: Tensor):
    """A copy of one saved state value placed like ``param`` (PyTorch's rules, host ``step``)."""
    if name == "step":  # a tensor or, from other writers, a Python number
        number = to_device(value._array, CPU) if isinstance(value, Tensor) else value
        return Tensor(np.array(number, dtype=np.float32))
    if isinstance(value, Tensor):
        dtype = value._array.dtype
        if dtype.kind == "f" and param._array.dtype.kind == "f":
            dtype = param._array.dtype
        return Tensor(_copy_to(value._array, device_of(param._array), dtype))
    if isinstance(value, dict):
        return {key: _cast_state(key, item, param) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(name, item, param) for item in value)
    return value


def _copy_to(array, device: Device, dtype):
    """A fresh array on ``device`` with ``dtype`` (always a copy, never an alias of ``array``)."""
    moved = to_device(array, device)
    with device_context(device):
        return array_module(device).array(moved, dtype=dtype, copy=True)


def new_step() -> Tensor:
    """A fresh step counter: a 0-d host float32 tensor, as PyTorch's ``state["step"]``."""
    return Tensor(np.zeros((), dtype=np.float32))


def advance_step(step: Tensor) -> float:
    """Increments a step counter in place and returns its new value as a Python float."""
    step._array[()] = step._array.item() + 1.0  # item/setitem: cheaper than 0-d ufuncs
    return step._array.item()


def zeros_state(param: Tensor, fill: float = 0.0) -> Tensor:
    """A state buffer shaped, typed and placed like ``param``, filled with ``fill``."""
    device = device_of(param._array)
    with device_context(device):
        return Tensor(array_module(device).full_like(param._array, fill))


def check_option(value, what: str, low: float = 0.0, high: float | None = None) -> None:
    """PyTorch's constructor checks: ``ValueError("Invalid <what>: <value>")`` out of range."""
    if not low <= value or (high is not None and not value < high):
        raise ValueError(f"Invalid {what}: {value}")



def init_state(state: dict, param: Tensor, *buffers: str) -> dict:
    """On a parameter's first update: a ``step`` counter and a zero buffer per name in
    ``buffers``. Returns ``state``."""
    if not state:
        state["step"] = new_step()
        for name in buffers:
            state[name] = zeros_state(param)
    return state
