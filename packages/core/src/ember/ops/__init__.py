"""Every differentiable op; importing this package fills the registry and binds Tensor methods.

Modules register themselves with ``@op``; ``ember`` re-exports every public op by name.
"""

from ember.ops import (  # noqa: F401  (imported for their registrations)
    arithmetic,
    conversion,
    elementwise,
    reduction,
    shape,
)
from ember.tensor.registry import OPS

__all__ = sorted(name for name in OPS if not name.startswith("_"))
globals().update({name: OPS[name] for name in __all__})
