"""``ember.return_types``: the named tuple types of ops' results, as ``torch.return_types``.

Example:
    >>> isinstance(ember.tensor([3.0, 1.0]).sort(), ember.return_types.sort)
    True
"""

from __future__ import annotations

from ember.ops._results import RETURN_TYPES

globals().update(RETURN_TYPES)
__all__ = sorted(RETURN_TYPES)
