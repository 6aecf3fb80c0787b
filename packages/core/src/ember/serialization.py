"""``ember.save`` / ``ember.load``: checkpoints as one safetensors file, never pickle.

A checkpoint is a safetensors file whose tensors are the tensor leaves of the saved object and
whose metadata holds a JSON description of the object's structure (``ember.structure``).
Loading reads data and JSON only, so it cannot run code, unlike ``torch.load`` of a pickle.

The structure is a tree of nodes. JSON null, booleans, integers and strings stand for
themselves; everything else is an object with one tag::

    {"float": "0x1.999999999999ap-4"}     a Python float, exact (float.hex; "inf", "nan")
    {"list": [...]} / {"tuple": [...]}     sequences of nodes
    {"dict": [[key, value], ...]}          keys are nodes too, so int keys stay ints
    {"odict": [[key, value], ...]}         an OrderedDict (model state dicts)
    {"tensor": "name", "device": "cuda:0"} a tensor stored under "name", and where it was saved
    {"ndarray": "name", "scalar": false}   a numpy array (or numpy scalar)
    {"dtype": "float32"} / {"device": "cpu"}

Differences from ``torch.save`` / ``torch.load``, on purpose:

- Tensors are written from host memory and load on the CPU unless ``map_location`` says
  otherwise (PyTorch restores them to the device they were saved from).
- Tensors that share memory (views of one another) are stored as independent copies, and load
  as unrelated tensors; one tensor object appearing twice is stored once and loads as one
  object. Loaded tensors never require grad, and Parameters load as plain tensors.
- Dict subclasses other than OrderedDict (``Counter``, ``defaultdict``) load as plain dicts.
- Only the types above can be saved; anything else is a clear TypeError at save time.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import OrderedDict

import numpy as np
import safetensors
import safetensors.numpy

from ember.backend import CPU, Device, device_of, to_device
from ember.tensor import Tensor, dtypes

__all__ = ["save", "load"]

_FORMAT_KEY = "ember.format"
_FORMAT = "ember-checkpoint"
_VERSION_KEY = "ember.version"
_VERSION = "1"
_STRUCTURE_KEY = "ember.structure"
_HEADER_LIMIT = 100_000_000  # safetensors' own bound on the JSON header
_STORABLE = {"bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
             "float16", "float32", "float64"}


# ---- saving -----------------------------------------------------------------------------------


class _Encoder:
    """Walks an object into a JSON-able structure and a dict of host arrays to store."""

    def __init__(self) -> None:
        self.arrays: dict = {}
        # id(tensor) -> stored name, one entry per tensor object (the tree keeps them alive)
        self._names_by_id: dict = {}

    def encode(self, obj, path: str):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (np.ndarray, np.generic)):  # before float: np.float64 is a float
            name = self._store(np.asarray(obj), path)
            return {"ndarray": name, "scalar": isinstance(obj, np.generic)}
        if isinstance(obj, int):
            return int(obj)  # an IntEnum and other int subclasses are stored as int
        if isinstance(obj, float):
            return {"float": float(obj).hex()}
        if isinstance(obj, Tensor):
            return {"tensor": self._store_tensor(obj, path), "device": str(obj.device)}
        if isinstance(obj, dict):
            tag = "odict" if isinstance(obj, OrderedDict) else "dict"
            return {tag: [[self.encode_key(key, path), self.encode(value, _join(path, key))]
                          for key, value in obj.items()]}
        if isinstance(obj, (list, tuple)):
            tag = "list" if isinstance(obj, list) else "tuple"
            return {tag: [self.encode(item, _join(path, n)) for n, item in enumerate(obj)]}
        if isinstance(obj, dtypes.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, Device):
            return {"device": str(obj)}
        raise TypeError(
            f"ember.save: cannot store a {type(obj).__name__} at {path or 'the top level'}: "
            "Ember checkpoints hold tensors, numpy arrays, Python numbers, strings, None, and "
            "lists, tuples and dicts of these (never pickled objects)"
        )

    def encode_key(self, key, path: str):
        if isinstance(key, tuple):
            return {"tuple": [self.encode_key(item, path) for item in key]}
        if key is None or isinstance(key, (bool, int, float, str)):
            return self.encode(key, path)
        raise TypeError(
            f"ember.save: cannot store a dict key of type {type(key).__name__} at "
            f"{path or 'the top level'}: keys must be str, int, float, bool, None or tuples"
        )

    def _store_tensor(self, tensor: Tensor, path: str) -> str:
        name = self._names_by_id.get(id(tensor))
        if name is None:
            name = self._store(to_device(tensor._array, CPU), path)
            self._names_by_id[id(tensor)] = name
        return name

    def _store(self, array: np.ndarray, path: str) -> str:
        if array.dtype.name not in _STORABLE:
            raise TypeError(
                f"ember.save: cannot store an array of dtype {array.dtype} at "
                f"{path or 'the top level'}: supported dtypes are {', '.join(sorted(_STORABLE))}"
            )
        if not array.flags.c_contiguous:
            array = array.copy(order="C")  # safetensors copies raw memory: views must be dense
        name = path or "tensor"
        if name in self.arrays:
            suffix = 1
            while f"{name}#{suffix}" in self.arrays:
                suffix += 1
            name = f"{name}#{suffix}"
        self.arrays[name] = array
        return name


def _join(path: str, key) -> str:
    """The name of a child in a dotted path, as state-dict keys read (``model.fc.weight``)."""
    return f"{path}.{key}" if path else str(key)


def save(obj, f) -> None:
    """Saves ``obj`` (tensors, numbers, strings, and lists/tuples/dicts of these) to ``f``.

    Args:
        obj: the object, e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict()}``.
        f: a path (str or PathLike) or a writable binary file object. A path is written
            atomically: to a temporary file in the same directory, flushed to disk, then renamed
            onto ``f``, so a crash mid-save leaves the previous file intact.

    Raises:
        TypeError: for an object that cannot be stored (see the module docstring).

    Example:
        >>> ember.save({"weight": ember.ones(2, 3), "epoch": 3}, "checkpoint.safetensors")
        >>> ember.load("checkpoint.safetensors")["epoch"]
        3
    """
    encoder = _Encoder()
    structure = encoder.encode(obj, "")
    metadata = {
        _FORMAT_KEY: _FORMAT,
        _VERSION_KEY: _VERSION,
        _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":")),
    }
    data = safetensors.numpy.save(encoder.arrays, metadata=metadata)
    if hasattr(f, "write"):
        f.write(data)
        if hasattr(f, "flush"):
            f.flush()
    else:
        _atomic_write(os.fspath(f), data)


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(
        directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    )
    # os.open with mode 0o666 lets the umask decide permissions, as a plain open() would.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write_all(file, data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _write_all(file, data: bytes) -> None:
    """Writes ``data`` in chunks (tests interrupt it midway to check atomicity)."""
    view = memoryview(data)
    chunk = 1 << 24
    for start in range(0, len(view), chunk):
        file.write(view[start:start + chunk])


def _fsync_directory(directory: str) -> None:
    """Makes the rename itself durable; not possible (nor needed) on some platforms."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---- loading ----------------------------------------------------------------------------------


class _Decoder:
    """Rebuilds an object from its structure and the loaded arrays."""

    def __init__(self, arrays: dict, place, source: str) -> None:
        self.arrays = arrays
        self.place = place
        self.source = source
        self._tensors: dict = {}  # stored name -> loaded tensor: one object per stored tensor

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, str)):
            return node
        if not isinstance(node, dict) or len(node) not in (1, 2):
            raise self.corrupt(f"unexpected node {str(node)[:80]!r}")
        tag, value = next(iter(node.items()))
        if tag == "tensor":  # outside the try: errors of map_location are the caller's own
            return self._tensor(value, node.get("device"))
        try:
            if tag == "float":
                return float.fromhex(value)
            if tag == "list":
                return [self.decode(item) for item in value]
            if tag == "tuple":
                return tuple(self.decode(item) for item in value)
            if tag in ("dict", "odict"):
                pairs = ((self.decode(key), self.decode(item)) for key, item in value)
                return OrderedDict(pairs) if tag == "odict" else dict(pairs)
            if tag == "ndarray":
                array = self._array(value)
                return array[()] if node["scalar"] else array
            if tag == "dtype":
                return dtypes.from_name(value)
            if tag == "device":
                return Device(value)
        except (TypeError, ValueError, KeyError) as error:
            raise self.corrupt(f"bad {tag!r} node ({error})") from None
        raise self.corrupt(f"unknown node type {tag!r}")

    def _array(self, name: str) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise self.corrupt(f"the structure names a tensor {name!r} the file does not hold")
        return self.arrays[name].copy()  # safetensors hands out read-only views of its buffer

    def _tensor(self, name: str, location: str) -> Tensor:
        tensor = self._tensors.get(name)
        if tensor is None:
            if not isinstance(location, str):
                raise self.corrupt(f"tensor {name!r} has no saved location")
            tensor = self._tensors[name] = self.place(Tensor(self._array(name)), location)
        return tensor

    def corrupt(self, what: str) -> RuntimeError:
        return RuntimeError(f"ember.load({self.source}): corrupt Ember checkpoint: {what}")


def _placer(map_location):
    """A function ``(cpu_tensor, saved_location) -> tensor`` implementing ``map_location``."""
    if map_location is None:
        return lambda tensor, location: tensor
    if isinstance(map_location, (str, Device)):
        device = Device(map_location)
        return lambda tensor, location: _moved(tensor, device)
    if isinstance(map_location, dict):
        mapping = {str(Device(saved)): Device(target) for saved, target in map_location.items()}
        return lambda tensor, location: _moved(tensor, mapping.get(location, Device(location)))
    if callable(map_location):
        def place(tensor, location):
            result = map_location(tensor, location)
            if result is None:
                return tensor
            if not isinstance(result, Tensor):
                raise TypeError(
                    f"ember.load: map_location returned a {type(result).__name__}, expected a "
                    "Tensor or None"
                )
            return result

        return place
    raise TypeError(
        "ember.load: map_location must be None, a device (str or ember.device), a dict mapping "
        f"saved locations to devices, or a callable; got {type(map_location).__name__}"
    )


def _moved(tensor: Tensor, device: Device) -> Tensor:
    if device_of(tensor._array) == device:
        return tensor
    return Tensor(to_device(tensor._array, device))


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None,
         **pickle_load_args):
    """Loads an object saved by :func:`save`.

    Args:
        f: a path (str or PathLike) or a readable binary file object.
        map_location: where tensors go: None (the CPU), a device (``"cuda"``, ``ember.device``),
            a dict from saved location to device (``{"cuda:1": "cuda:0"}``; unmapped locations
            are kept), or a callable ``(cpu_tensor, saved_location)`` returning a tensor (or
            None to keep the CPU tensor).
        pickle_module, weights_only, mmap, pickle_load_args: PyTorch's arguments, accepted so
            that ported calls run. Ember never unpickles: loading is always what PyTorch calls
            ``weights_only=True``, so ``weights_only=False``, a ``pickle_module`` or pickle
            arguments raise ValueError. ``mmap`` is accepted and changes nothing.

    Returns:
        The object, with tensors that do not require grad.

    Raises:
        RuntimeError: when ``f`` is not an Ember checkpoint (truncated, corrupt, a plain
            safetensors file, a pickle or zip from ``torch.save`` ...); the message names ``f``.
    """
    _check_no_pickle(weights_only, pickle_module, pickle_load_args)
    place = _placer(map_location)
    if hasattr(f, "read"):
        source = repr(getattr(f, "name", f))
        data = f.read()
    else:
        source = repr(os.fspath(f))
        with open(f, "rb") as file:
            data = file.read()
    metadata = _read_metadata(data, source)
    try:
        arrays = safetensors.numpy.load(data)
    except (safetensors.SafetensorError, ValueError, KeyError) as error:
        raise RuntimeError(
            f"ember.load({source}): truncated or corrupt tensor data in an Ember checkpoint "
            f"({error})"
        ) from None
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
    except (KeyError, ValueError) as error:
        raise RuntimeError(
            f"ember.load({source}): corrupt Ember checkpoint: unreadable structure ({error})"
        ) from None
    return _Decoder(arrays, place, source).decode(structure)


def _check_no_pickle(weights_only, pickle_module, pickle_load_args) -> None:
    asked = []
    if weights_only is False:
        asked.append("weights_only=False")
    if pickle_module is not None:
        asked.append("pickle_module")
    asked += [f"{name}=..." for name in pickle_load_args]
    if asked:
        raise ValueError(
            f"ember.load: {', '.join(asked)} asks for unpickling, which Ember never does (a "
            "checkpoint cannot run code): Ember checkpoints hold tensors, numbers, strings, "
            "lists and dicts, and always load as with weights_only=True"
        )


def _read_metadata(data: bytes, source: str) -> dict:
    """Checks the safetensors framing and returns its metadata, or raises a clear error."""
    expected = "expected an Ember checkpoint written by ember.save (a safetensors file)"
    if len(data) < 8:
        raise RuntimeError(f"ember.load({source}): file too short ({len(data)} bytes): {expected}")
    header_size = int.from_bytes(data[:8], "little")
    if header_size > min(len(data) - 8, _HEADER_LIMIT) or data[8:9] != b"{":
        raise RuntimeError(
            f"ember.load({source}): not a safetensors file{_guess_format(data)}, or truncated "
            f"(header of {header_size} bytes in a file of {len(data)}): {expected}"
        )
    try:
        header = json.loads(data[8:8 + header_size])
        metadata = header.get("__metadata__") or {}
    except (ValueError, AttributeError) as error:
        raise RuntimeError(
            f"ember.load({source}): corrupt safetensors header ({error}): {expected}"
        ) from None
    if metadata.get(_FORMAT_KEY) != _FORMAT:
        raise RuntimeError(
            f"ember.load({source}): a safetensors file without Ember's structure header (not "
            "written by ember.save): load plain safetensors files with "
            "safetensors.numpy.load_file"
        )
    if metadata.get(_VERSION_KEY) != _VERSION:
        raise RuntimeError(
            f"ember.load({source}): Ember checkpoint format version "
            f"{metadata.get(_VERSION_KEY)!r}, this Ember reads version {_VERSION}"
        )
    return metadata


def _guess_format(data: bytes) -> str:
    if data[:4] == b"PK\x03\x04":
        return " (it is a zip archive, as torch.save writes: load it with PyTorch)"
    if data[:1] == b"\x80":
        return " (it looks like a Python pickle, which Ember never loads)"
    return ""
