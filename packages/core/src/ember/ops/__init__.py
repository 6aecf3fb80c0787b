"""Every differentiable op; importing this package fills the registry and binds Tensor methods.

Each module here registers its ops with ``@op``; all of them are imported, and ``ember``
re-exports every public op by name.
"""

import importlib
import pkgutil

from ember.tensor.registry import OPS

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# linalg_* ops are published as ember.linalg.<name>, as PyTorch has them
__all__ = sorted(name for name in OPS if not name.startswith(("_", "linalg_")))
globals().update({name: OPS[name] for name in __all__})
