"""The op registry: every op by its stable name, and the Tensor methods bound to them.

``tensor`` finds ops here by name and never imports an op module; ``ember.ops`` fills the
registry at import. ``jit`` records and ``onnx`` exports primitives by the names kept here.
"""

from __future__ import annotations

from collections.abc import Callable

#: public callables by name: ``ember.<name>`` (and ``Tensor.<name>`` where bound as a method)
OPS: dict[str, Callable] = {}
#: autograd primitives (Function subclasses) by the name jit records and onnx exports
PRIMITIVES: dict[str, type] = {}


def _method_names(name: str, method) -> tuple:
    if method is True:
        return (name,)
    if not method:
        return ()
    if isinstance(method, str):
        return (method,)
    return tuple(method)


def register_op(name: str, fn: Callable, method=False, function: bool = True, prop: bool = False):
    """Publishes ``fn`` as op ``name``; binds it on Tensor under ``method`` name(s)."""
    from ember.tensor.tensor import Tensor

    if function:
        if name in OPS and OPS[name] is not fn:
            raise ValueError(f"op {name!r} registered twice")
        OPS[name] = fn
    for method_name in _method_names(name, method):
        setattr(Tensor, method_name, property(fn) if prop else fn)
    return fn


def register_primitive(name: str, cls: type) -> type:
    if name in PRIMITIVES and PRIMITIVES[name] is not cls:
        raise ValueError(f"primitive {name!r} registered twice")
    PRIMITIVES[name] = cls
    return cls


def lookup(name: str) -> Callable:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} is registered") from None
