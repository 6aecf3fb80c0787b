"""The ``op`` and ``primitive`` decorators that put ops into the registry."""

from __future__ import annotations

from ember.tensor.registry import register_op, register_primitive


def op(name: str, method=False, function: bool = True, prop: bool = False):
    """Registers an op under ``name``: ``ember.<name>`` and, with ``method``, ``Tensor.<name>``.

    ``method`` is True (same name), a name, or a tuple of names (``"__mul__"``). Decorating a
    Function subclass publishes its ``apply`` and makes it a primitive of the same name.
    """

    def decorate(target):
        if isinstance(target, type):
            primitive(name)(target)
            apply = target.apply
            register_op(name, apply, False, function)
            if method:
                # a plain function, so that Tensor binds ``self`` (apply is a bound classmethod)
                def as_method(self, *args, **kwargs):
                    return apply(self, *args, **kwargs)

                as_method.__name__, as_method.__doc__ = name, target.__doc__
                register_op(name, as_method, method, function=False, prop=prop)
        else:
            register_op(name, target, method, function, prop)
        return target

    return decorate


def primitive(name: str):
    """Names a Function subclass and registers it as a primitive (what jit and onnx see)."""

    def decorate(cls):
        cls.name = name
        register_primitive(name, cls)
        return cls

    return decorate
