"""Every layer class; ``ember.nn`` re-exports them.

Each public module here (one per family: linear, activation, conv, pooling, normalization, rnn
...) is imported, and every public ``Module`` subclass it defines is exported, as ``ember.ops``
does for ops: adding a layer family is adding a file.
"""

import importlib as _importlib
import pkgutil as _pkgutil

from ember.nn.modules.module import Module

__all__ = ["Module"]

for _info in _pkgutil.iter_modules(__path__):
    if _info.name.startswith("_"):
        continue
    _family = _importlib.import_module(f"{__name__}.{_info.name}")
    for _name, _value in vars(_family).items():
        if (not _name.startswith("_") and isinstance(_value, type) and issubclass(_value, Module)
                and _value.__module__ == _family.__name__ and _name not in __all__):
            globals()[_name] = _value
            __all__.append(_name)
__all__.sort()
