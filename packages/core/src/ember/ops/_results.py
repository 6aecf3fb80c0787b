"""The named tuples that ops return, ``(values, indices)`` and friends, as
``torch.return_types``; ``ember.return_types`` publishes every one made here."""

from __future__ import annotations

from collections import namedtuple

#: every result type by name (``ember.return_types.<name>``)
RETURN_TYPES: dict = {}


def return_type(name: str, fields=("values", "indices")):
    """A named tuple class ``ember.return_types.<name>`` (picklable, like PyTorch's)."""
    cls = namedtuple(name, fields, module="ember.return_types")
    RETURN_TYPES[name] = cls
    return cls
