"""``Module``: the base of every layer, with PyTorch's registration, state_dict and hooks.

Parameters, buffers and submodules live in ``_parameters`` / ``_buffers`` / ``_modules`` (as in
PyTorch) and are mirrored into the instance ``__dict__``, so that ``self.weight`` in a forward is
a plain attribute hit rather than a ``__getattr__`` fallback (about 1 us each in CPython).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from ember.autograd.graph import RemovableHandle
from ember.backend import Device, to_device
from ember.nn.modules import _hooks
from ember.nn.modules._module_support import (
    IncompatibleKeys,
    Registry,
    addindent,
    copy_into,
    parse_to_args,
    plain_tensor,
)
from ember.nn.parameter import Buffer, Parameter
from ember.tensor import dtypes, legacy
from ember.tensor.tensor import Tensor

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


class Module:
    """Base class of all layers: subclasses set attributes in ``__init__`` and define ``forward``.

    Example:
        >>> class TwoLayer(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = nn.Linear(4, 8)
        ...         self.out = nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.out(self.hidden(x).relu())
        >>> [name for name, _ in TwoLayer().named_parameters()]
        ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool
    call_super_init: bool = False
    dump_patches: bool = False
    _version: int = 1

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments {args} {kwargs}"
            )
        state = self.__dict__
        state["training"] = True
        state["_parameters"] = Registry(state)
        state["_buffers"] = Registry(state)
        state["_non_persistent_buffers_set"] = set()
        state["_modules"] = Registry(state)
        state["_forward_pre_hooks"] = _hooks.HookDict()
        state["_forward_hooks"] = _hooks.HookDict()
        state["_backward_pre_hooks"] = _hooks.HookDict()
        state["_backward_hooks"] = _hooks.HookDict()
        state["_hooked"] = False  # any hook registered: __call__ takes the slow path

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        if self._hooked:
            return _hooks.call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ---- copying --------------------------------------------------------------------------

    def __setstate__(self, state: dict) -> None:
        # copy.copy / copy.deepcopy: fresh registries mirroring into this instance's __dict__
        # (a shallow copy must not redirect the original's registries).
        self.__dict__.update(state)
        for name in ("_parameters", "_buffers", "_modules"):
            registry = Registry(self.__dict__)
            registry.update(state[name])
            self.__dict__[name] = registry

    # ---- registration ---------------------------------------------------------------------

    def _check_new_name(self, kind: str, name, registry: dict) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in registry:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Adds ``param`` (or None, a declared but absent parameter) under ``name``."""
        self._check_new_name("parameter", name, self.__dict__.get("_parameters", {}))
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(ember.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Adds a tensor that is state but not learned (running statistics, masks).

        Persistent buffers are part of ``state_dict``; non-persistent ones are not.
        """
        self._check_new_name("buffer", name, self.__dict__.get("_buffers", {}))
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or "
                "None required)"
            )
        if isinstance(tensor, Buffer):
            persistent = tensor.persistent
            tensor = plain_tensor(tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Adds a child module, reachable as ``self.<name>``."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_new_name("module", name, self.__dict__.get("_modules", {}))
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value) -> None:
        state = self.__dict__
        params = state.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(ember.nn.Parameter or None expected)"
                )
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            state["_modules"][name] = value
        elif params is not None and name in state["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(ember.nn.Module or None expected)"
                )
            state["_modules"][name] = value
        elif isinstance(value, Buffer) or (params is not None and name in state["_buffers"]):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None "
                    "expected)"
                )
            if isinstance(value, Buffer):
                self._forget(name, keep="_buffers")
                self.register_buffer(name, value)
            else:
                state["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Removes ``name`` from every registry but ``keep`` (and from plain attributes)."""
        state = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                state[registry].pop(name, None)
        state["_non_persistent_buffers_set"].discard(name)
        if name not in state[keep]:
            state.pop(name, None)

    def __getattr__(self, name: str):
        # Reached only for names missing from __dict__ (registered ones are mirrored there).
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        state = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if name in state.get(registry, ()):
                del state[registry][name]
                state["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()))

    # ---- iteration ------------------------------------------------------------------------

    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in memo:
                        continue
                    memo.add(id(value))
                yield (module_prefix + ("." if module_prefix else "") + name), value

    def parameters(self, recurse: bool = True):
        """Yields every parameter (of submodules too when ``recurse``), each once."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """Yields ``(dotted_name, parameter)`` pairs, shared parameters once by default."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_children(self):
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True):
        """Yields ``(dotted_name, module)`` for this module and all below it, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                            remove_duplicate)

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``""`` is this module)."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def _get_member(self, target: str, kind, kind_name: str):
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        value = getattr(module, name)
        if not isinstance(value, kind):
            raise AttributeError(f"`{name}` is not {kind_name}")
        return value

    def get_parameter(self, target: str) -> Parameter:
        return self._get_member(target, Parameter, "an nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        module_path, _, name = target.rpartition(".")
        if name not in self.get_submodule(module_path)._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return self._get_member(target, Tensor, "a buffer")

    # ---- modes and gradients --------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Sets training mode (dropout active, batch statistics) on this module and below."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Resets the gradients of all parameters: to None by default, else to zeros in place."""
        for param in self.parameters():
            grad = param.grad
            if grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                if grad.grad_fn is not None:
                    grad = param.grad = grad.detach()
                grad.requires_grad_(False)
                grad._array.fill(0)
                grad._bump_version()

    def apply(self, fn) -> Module:
        """Calls ``fn(module)`` on every submodule (children first) and on this module."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- devices and dtypes ---------------------------------------------------------------

    def _apply(self, convert) -> Module:
        """Converts every parameter, gradient and buffer array with ``convert(array) -> array``.

        Parameters keep their identity (their array is replaced, like PyTorch's
        ``param.data = ...``), so optimizers holding them stay valid.
        """
        for module in self.modules():
            for param in module._parameters.values():
                if param is None:
                    continue
                param._array = convert(param._array)
                if param.grad is not None:
                    param.grad._array = convert(param.grad._array)
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    converted = Tensor(convert(buffer._array), buffer._rg)
                    if converted._array is buffer._array:
                        continue
                    module._buffers[name] = converted
        return self

    def to(self, *args, **kwargs) -> Module:
        """Moves and/or casts parameters and buffers: ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(tensor)``; only floating point values change dtype."""
        device, dtype = parse_to_args(args, kwargs)
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(
                f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}"
            )
        target = dtype.numpy if dtype is not None else None

        def convert(array):
            if device is not None:
                array = to_device(array, device)
            if target is not None and array.dtype.kind == "f" and array.dtype != target:
                array = array.astype(target)
            return array

        return self._apply(convert)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self, device=None) -> Module:
        return self.to(device if isinstance(device, (str, Device)) else
                       "cuda" if device is None else f"cuda:{device}")

    def float(self) -> Module:  # noqa: A003
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def half(self) -> Module:
        return self.to(dtypes.float16)

    def type(self, dst_type) -> Module:  # noqa: A003
        """Casts every parameter and buffer, integer ones included, to ``dst_type`` (a dtype, or
        a legacy type such as ``ember.DoubleTensor`` / ``'torch.cuda.FloatTensor'``, which also
        names the device)."""
        dtype, device = legacy.cast_target(dst_type)
        if device is not None:
            return self.to(device).type(dtype)
        target = dtypes.to_dtype(dtype).numpy
        return self._apply(lambda array: array.astype(target, copy=False))

    def share_memory(self) -> Module:
        """Moves every parameter and buffer to shared memory (``Tensor.share_memory_()``), so
        that processes of ``ember.multiprocessing`` given this module train the same weights
        (Hogwild). Gradients are allocated later and stay per process."""
        for tensor in (*self.parameters(), *self.buffers()):
            tensor.share_memory_()
        return self

    # ---- state_dict -----------------------------------------------------------------------

    def get_extra_state(self):
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called."
        )

    def set_extra_state(self, state) -> None:
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called."
        )

    def _has_extra_state(self) -> bool:
        return type(self).get_extra_state is not Module.get_extra_state

    def _local_state(self):
        """``(name, tensor)`` of the parameters and persistent buffers of this module alone."""
        for name, param in self._parameters.items():
            if param is not None:
                yield name, param
        for name, buffer in self._buffers.items():
            if buffer is not None and name not in self._non_persistent_buffers_set:
                yield name, buffer

    def _save_to_state_dict(self, destination, prefix: str, keep_vars: bool) -> None:
        for name, value in self._local_state():
            destination[prefix + name] = value if keep_vars else value.detach()
        if self._has_extra_state():
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False):
        """Every parameter and persistent buffer by dotted name (detached unless ``keep_vars``).

        Example:
            >>> list(nn.Linear(2, 3).state_dict())
            ['weight', 'bias']
        """
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs, assign=False) -> None:
        local_state = dict(self._local_state())
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected Tensor or Tensor-like '
                    f"object from checkpoint but received {type(value)}"
                )
                continue
            if tuple(value.shape) != tuple(param.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} "
                    f"from checkpoint, the shape in current model is {tuple(param.shape)}."
                )
                continue
            if assign:
                self._assign_loaded(name, param, value)
            else:
                copy_into(param, value)
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if self._has_extra_state():
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if not key.startswith(prefix) or key == extra_key:
                    continue
                head, dot, _ = key[len(prefix):].partition(".")
                if (dot and head not in self._modules) or (not dot and head not in local_state):
                    unexpected_keys.append(key)

    def _assign_loaded(self, name: str, current: Tensor, value: Tensor) -> None:
        """``load_state_dict(assign=True)``: keeps ``value`` itself (as a Parameter if needed)."""
        if name in self._parameters:
            if not isinstance(value, Parameter):
                value = Parameter(value, requires_grad=current.requires_grad)
            self._parameters[name] = value
        else:
            self._buffers[name] = value

    def load_state_dict(self, state_dict: Mapping, strict: bool = True, assign: bool = False):
        """Copies values from ``state_dict`` into this module's parameters and buffers.

        With ``strict``, every key must match (RuntimeError listing the missing and unexpected
        keys otherwise); shapes must always match. ``assign`` keeps the given tensors instead of
        copying into the existing ones. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys: list = []
        unexpected_keys: list = []
        error_msgs: list = []
        metadata = getattr(state_dict, "_metadata", None) or {}
        for prefix, module in self.named_modules(prefix="", remove_duplicate=False):
            prefix = prefix + "." if prefix else ""
            module._load_from_state_dict(state_dict, prefix, metadata.get(prefix[:-1], {}),
                                         True, missing_keys, unexpected_keys, error_msgs,
                                         assign)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: "
                                  + ", ".join(f'"{k}"' for k in unexpected_keys) + ". ")
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: "
                                  + ", ".join(f'"{k}"' for k in missing_keys) + ". ")
        if error_msgs:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(error_msgs)
            )
        return IncompatibleKeys(missing_keys, unexpected_keys)

    # ---- hooks ----------------------------------------------------------------------------

    def _add_hook(self, hooks: _hooks.HookDict, entry, prepend: bool) -> RemovableHandle:
        handle = RemovableHandle(hooks)
        hooks.add(handle.id, entry, prepend)
        self.__dict__["_hooked"] = True
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (or ``hook(module, args, kwargs)`` with ``with_kwargs``) runs
        before ``forward``; it may return replacement args (or ``(args, kwargs)``)."""
        return self._add_hook(self._forward_pre_hooks, (hook, with_kwargs), prepend)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``) runs after
        ``forward``; a returned value replaces the output."""
        return self._add_hook(self._forward_hooks, (hook, with_kwargs), prepend)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` runs when the gradients of the module's outputs are
        known; it may return replacement ``grad_output``."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs when the gradients with respect to the
        module's positional tensor inputs are known; it may return replacement ``grad_input``."""
        return self._add_hook(self._backward_hooks, hook, prepend)

    # ---- printing -------------------------------------------------------------------------

    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The layer's own settings, shown inside its ``repr``; override in layers."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"
