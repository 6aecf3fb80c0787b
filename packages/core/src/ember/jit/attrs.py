"""Op attributes as JSON and back, accepting only plain values.

JSON has lists, numbers, strings, booleans and null; the attributes ops take also hold tuples,
slices, Ellipsis, numpy dtypes, devices and non-finite floats. Those are written as one-key
objects (``{"tuple": [...]}``); decoding accepts exactly these forms, so a file can only ever
produce plain values, never an object of a class the file names.
"""

from __future__ import annotations

import math

import numpy as np

from ember.backend import Device

# dtypes an attribute may name (also the dtypes a graph's values may have)
DTYPES = frozenset({"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32",
                    "float64", "complex64", "complex128"})


def encode(value, where: str):
    """``value`` as JSON-ready data; ``where`` names the op and attribute for errors."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, tuple):
        return {"tuple": [encode(item, where) for item in value]}
    if isinstance(value, list):
        return [encode(item, where) for item in value]
    if isinstance(value, slice):
        return {"slice": [encode(value.start, where), encode(value.stop, where),
                          encode(value.step, where)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"dtype": np.dtype(value).name}
    if isinstance(value, Device):
        return {"device": str(value)}
    raise TypeError(f"jit.save: {where} is a {type(value).__name__}, which a graph file cannot "
                    "hold (plain numbers, strings, tuples, lists, slices and dtypes only)")


def decode(data, where: str):
    """The value ``encode`` wrote; ValueError naming ``where`` for anything else."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(item, where) for item in data]
    if isinstance(data, dict) and len(data) == 1:
        (key, body), = data.items()
        if key == "tuple" and isinstance(body, list):
            return tuple(decode(item, where) for item in body)
        if key == "slice" and isinstance(body, list) and len(body) == 3:
            parts = [decode(item, where) for item in body]
            if all(part is None or type(part) is int for part in parts):
                return slice(*parts)
        if key == "ellipsis" and body is True:
            return Ellipsis
        if key == "float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if key == "dtype" and body in DTYPES:
            return np.dtype(body)
        if key == "device" and isinstance(body, str):
            try:
                return Device(body)
            except (ValueError, RuntimeError, TypeError) as error:
                raise ValueError(f"{where}: bad device {body!r} ({error})") from None
    raise ValueError(f"{where}: {str(data)[:80]!r} is not an attribute value a graph file can "
                     "hold")
