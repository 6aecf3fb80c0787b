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
    {"module": ["ember.nn.modules.linear", "Linear"], "state": [[name, node], ...]}
                                           an nn.Module: its class's import path, its state
    {"module_ref": 0}                      a module met before (shared), numbered in file order
    {"parameter": {"tensor": ...}, "requires_grad": true}   a module's Parameter
    {"global": ["ember.nn.functional", "relu"]}   a function or class of Ember's own packages

Files without these new nodes are format version 1, byte for byte as before; files holding
modules or globals are version 2, which older Embers refuse clearly instead of misreading.
Version 1 files still load.

Whole modules (``ember.save(model)``) are stored without pickle: the class's import path,
``training``, parameters (with ``requires_grad``), buffers, child modules, the names of
non-persistent buffers, and plain attributes (numbers, strings, None, dtypes, devices, tensors,
functions and classes of Ember's own packages by import path, and lists/tuples/dicts of these).
Hooks are not saved (the loaded module has none). Other attributes (lambdas, your own
functions, arbitrary objects) are a TypeError at save naming the attribute's path, as are
parametrized modules (remove the parametrizations first) and classes defined inside functions.
Loading rebuilds only classes of Ember's own packages (``ember``, ``ember_vision``,
``ember_text``, ``ember_rl``) and those allowed by :func:`add_safe_globals` or
:func:`safe_globals`, makes them with ``cls.__new__(cls)`` (``__init__`` is never called) and
restores their state; any other class is a RuntimeError naming it and saying how to allow it.
Loading never imports a module outside Ember's own packages.

Differences from ``torch.save`` / ``torch.load``, on purpose:

- Loading a module never unpickles and never runs the class's ``__init__``; a class not of
  Ember's packages must be allowed first (``torch.load(weights_only=True)`` likewise needs
  ``add_safe_globals``, but PyTorch's ``weights_only=False`` loads anything: Ember has no such
  mode).
- Tensors are written from host memory and load on the CPU unless ``map_location`` says
  otherwise (PyTorch restores them to the device they were saved from).
- Tensors that share memory (views of one another) are stored as independent copies, and load
  as unrelated tensors; one tensor object appearing twice is stored once and loads as one
  object. Loaded tensors never require grad, and Parameters load as plain tensors.
- Dict subclasses other than OrderedDict (``Counter``, ``defaultdict``) load as plain dicts.
- Only the types above can be saved; anything else is a clear TypeError at save time. Enums
  and namedtuples are refused too (they would load as plain values: loading never imports a
  class), and containers nested more than 100 levels deep.
- ``load`` of a plain safetensors file returns its tensors as a flat dict, where
  ``torch.load`` cannot read such a file at all (``safetensors.torch.load_file`` does).
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import safetensors
import safetensors.numpy

from ember.backend import Device, device_of, to_device
from ember.serialization._files import read_header, write_file
from ember.serialization._modules import (
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    safe_globals,
)
from ember.serialization._structure import Decoder, Encoder
from ember.tensor import Tensor

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals"]

_FORMAT_KEY = "ember.format"
_FORMAT = "ember-checkpoint"
_VERSION_KEY = "ember.version"
_VERSION = "1"  # files without modules, as every Ember has written them
_MODULES_VERSION = "2"  # files holding nn.Modules
_READABLE_VERSIONS = (_VERSION, _MODULES_VERSION)
_STRUCTURE_KEY = "ember.structure"


def save(obj, f) -> None:
    """Saves ``obj`` (tensors, numbers, strings, modules, and lists/tuples/dicts of these) to ``f``.

    Args:
        obj: the object, e.g. ``{"model": model.state_dict(), "optimizer": opt.state_dict()}``,
            or a whole ``nn.Module`` (see the module docstring: no pickle, hooks not saved).
        f: a path (str or PathLike) or a writable binary file object. A path is written as
            ``open(f, "wb")`` would (through symlinks, keeping an existing file's permissions,
            into a FIFO or device) but atomically where ``f`` is a regular file: to a temporary
            file in the same directory, flushed to disk, then renamed onto ``f``, so a crash
            mid-save leaves the previous file intact. Temporary files that a killed save left
            beside ``f`` are removed by the next save to ``f``.

    Raises:
        TypeError: for an object that cannot be stored (see the module docstring), enums and
            namedtuples included (they would load as something else), and modules with an
            attribute that cannot be stored (the message names its path), parametrized
            modules, or classes that no import path names.
        ValueError: for containers nested more than 100 levels deep.
        PermissionError, IsADirectoryError: where ``open(f, "wb")`` would raise them.

    Example:
        >>> ember.save({"weight": ember.ones(2, 3), "epoch": 3}, "checkpoint.safetensors")
        >>> ember.load("checkpoint.safetensors")["epoch"]
        3
    """
    encoder = Encoder()
    structure = encoder.encode(obj, "")
    metadata = {
        _FORMAT_KEY: _FORMAT,
        _VERSION_KEY: _MODULES_VERSION if encoder.needs_version_2 else _VERSION,
        _STRUCTURE_KEY: json.dumps(structure, separators=(",", ":")),
    }
    data = safetensors.numpy.save(encoder.arrays, metadata=metadata)
    if hasattr(f, "write"):
        f.write(data)
        if hasattr(f, "flush"):
            f.flush()
    else:
        write_file(os.fspath(f), data)


# ---- loading ----------------------------------------------------------------------------------


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
    """Loads an object saved by :func:`save`, or the tensors of a plain safetensors file.

    Args:
        f: a path (str or PathLike) or a readable binary file object. From a path, tensors are
            read one at a time as the structure names them, so loading needs about the file's
            size in memory; a file object is read whole first.
        map_location: where tensors go: None (the CPU), a device (``"cuda"``, ``ember.device``),
            a dict from saved location to device (``{"cuda:1": "cuda:0"}``; unmapped locations
            are kept), or a callable ``(cpu_tensor, saved_location)`` returning a tensor (or
            None to keep the CPU tensor). Errors the callable raises reach the caller unchanged.
        pickle_module, weights_only, mmap, pickle_load_args: PyTorch's arguments, accepted so
            that ported calls run. Ember never unpickles: loading is always what PyTorch calls
            ``weights_only=True``, so ``weights_only=False``, a ``pickle_module`` or pickle
            arguments raise ValueError. ``mmap`` is accepted and changes nothing.

    Returns:
        The object, with tensors that do not require grad. A safetensors file that
        :func:`save` did not write (no Ember structure header, e.g. converted torchvision
        weights) loads as a flat dict from tensor name to tensor, ready for
        ``load_state_dict``; its tensors' saved location is ``"cpu"``.

    Raises:
        RuntimeError: when ``f`` is not a safetensors file (truncated, corrupt, a pickle or zip
            from ``torch.save`` ...) or holds a corrupt Ember structure, or a module whose
            class is neither Ember's own nor allowed by :func:`add_safe_globals` (the message
            names the class and how to allow it); the message names ``f``.
    """
    _check_no_pickle(weights_only, pickle_module, pickle_load_args)
    place = _placer(map_location)
    if hasattr(f, "read"):
        source = repr(getattr(f, "name", f))
        data = f.read()
        header = read_header(data[:8], len(data), lambda size: data[8:8 + size], source)
        with _reading_bytes(data, source) as read_array:
            return _decode(header, read_array, place, source)
    source = repr(os.fspath(f))
    with open(f, "rb") as file:
        header = read_header(file.read(8), os.fstat(file.fileno()).st_size, file.read, source)
    with _reading_lazily(os.fspath(f), source) as read_array:
        return _decode(header, read_array, place, source)


def _decode(header: dict, read_array, place, source: str):
    metadata = header.get("__metadata__") or {}
    if metadata.get(_FORMAT_KEY) != _FORMAT:
        # A plain safetensors file (not written by ember.save): its tensors, by name.
        return {name: place(Tensor(read_array(name)), "cpu")
                for name in header if name != "__metadata__"}
    if metadata.get(_VERSION_KEY) not in _READABLE_VERSIONS:
        raise RuntimeError(
            f"ember.load({source}): Ember checkpoint format version "
            f"{metadata.get(_VERSION_KEY)!r}, this Ember reads versions "
            f"{', '.join(_READABLE_VERSIONS)}"
        )
    try:
        structure = json.loads(metadata[_STRUCTURE_KEY])
    except (KeyError, TypeError, ValueError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise RuntimeError(
            f"ember.load({source}): corrupt Ember checkpoint: unreadable structure ({reason})"
        ) from None
    return Decoder(read_array, place, source).decode(structure)


def _data_error(source: str, error: Exception) -> RuntimeError:
    return RuntimeError(f"ember.load({source}): truncated or corrupt tensor data ({error})")


@contextmanager
def _reading_lazily(path: str, source: str):
    """Yields ``name -> array``, reading one tensor per call through a memory map."""
    try:
        handle = safetensors.safe_open(path, framework="numpy")
    except (safetensors.SafetensorError, ValueError) as error:
        raise _data_error(source, error) from None
    with handle:
        names = set(handle.keys())

        def read_array(name):
            if name not in names:
                raise KeyError(name)
            try:
                return handle.get_tensor(name)  # a fresh writable array, not a view of the map
            except (safetensors.SafetensorError, ValueError, TypeError) as error:
                raise _data_error(source, error) from None

        yield read_array


@contextmanager
def _reading_bytes(data: bytes, source: str):
    """Yields ``name -> array`` over a whole file already in memory."""
    try:
        arrays = safetensors.numpy.load(data)
    except (safetensors.SafetensorError, ValueError, KeyError) as error:
        raise _data_error(source, error) from None

    def read_array(name):
        array = arrays[name]
        return array if array.flags.writeable else array.copy()

    yield read_array


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
            "lists, dicts and modules, and always load as with weights_only=True (allow your "
            "own nn.Module classes with ember.serialization.add_safe_globals)"
        )
