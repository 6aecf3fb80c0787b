"""The structure tree of a checkpoint: objects to JSON-able nodes and back (see the package doc)."""

from __future__ import annotations

import enum
from collections import OrderedDict

import numpy as np

from ember.backend import CPU, Device, to_device
from ember.nn import Module, Parameter
from ember.serialization import _modules
from ember.tensor import Tensor, dtypes

# Containers nested deeper than this are refused at save and reported as corrupt at load: each
# level is three JSON levels, and JSON's own parser and encoder recurse on the Python stack.
MAX_DEPTH = 100
_STORABLE = {"bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
             "float16", "float32", "float64"}


def _where(path: str) -> str:
    return path or "the top level"


class Encoder:
    """Walks an object into a JSON-able structure and a dict of host arrays to store."""

    def __init__(self) -> None:
        self.arrays: dict = {}
        # id(tensor) -> stored name, one entry per tensor object (the tree keeps them alive)
        self._names_by_id: dict = {}
        # id(module) -> its number, in the order module nodes are written (for "module_ref")
        self._module_numbers: dict = {}
        # whether a node kind of format version 2 was written ("module", "global" ...)
        self.needs_version_2 = False

    def encode(self, obj, path: str, depth: int = 0):
        if isinstance(obj, enum.Enum):  # before str and int: StrEnum and IntEnum are both
            raise TypeError(
                f"ember.save: cannot store the enum member {obj!r} at {_where(path)}: loading "
                "would need to import its class, which Ember checkpoints never do; store its "
                ".value or .name instead"
            )
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (np.ndarray, np.generic)):  # before float: np.float64 is a float
            name = self._store(np.asarray(obj), path)
            return {"ndarray": name, "scalar": isinstance(obj, np.generic)}
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return {"float": float(obj).hex()}
        if isinstance(obj, Tensor):
            return {"tensor": self._store_tensor(obj, path), "device": str(obj.device)}
        if isinstance(obj, (dict, list, tuple)):
            return self._encode_container(obj, path, depth)
        if isinstance(obj, Module):
            return self._encode_module(obj, path, depth)
        if isinstance(obj, dtypes.dtype):
            return {"dtype": obj.name}
        if isinstance(obj, Device):
            return {"device": str(obj)}
        path_of_global = _modules.global_path(obj)
        if path_of_global is not None:
            self.needs_version_2 = True
            return {"global": path_of_global}
        if callable(obj):
            raise TypeError(
                f"ember.save: cannot store the {type(obj).__name__} "
                f"{getattr(obj, '__qualname__', type(obj).__qualname__)} at {_where(path)}: "
                "only Ember's own functions and classes are stored (by import path); lambdas, "
                "your own functions and other callables cannot be (loading never runs code "
                "from the file): set it after loading instead"
            )
        raise TypeError(
            f"ember.save: cannot store a {type(obj).__name__} at {_where(path)}: Ember "
            "checkpoints hold tensors, numpy arrays, Python numbers, strings, None, dtypes, "
            "devices, nn.Modules, and lists, tuples and dicts of these (never pickled objects)"
        )

    def _encode_module(self, module: Module, path: str, depth: int):
        """``{"module": [module, qualname], "state": [[name, node], ...]}``; a module met
        before (shared, or containing itself) is ``{"module_ref": n}``, n counting from 0."""
        number = self._module_numbers.get(id(module))
        if number is not None:
            return {"module_ref": number}
        if depth + 3 >= MAX_DEPTH:  # as the decoder counts: state, registry, parameter, tensor
            raise ValueError(f"ember.save: modules nested deeper than {MAX_DEPTH} levels at "
                             f"{_where(path)}")
        cls = _modules.class_path(module, _where(path))
        self._module_numbers[id(module)] = len(self._module_numbers)
        self.needs_version_2 = True
        state = []
        for name, value in _modules.module_state(module):
            if name == "_parameters":
                node = {"odict": [[key, self._encode_parameter(param, _join(path, key))]
                                  for key, param in value.items()]}
            elif name in ("_buffers", "_modules"):
                node = {"odict": [[key, self.encode(item, _join(path, key), depth + 2)]
                                  for key, item in value.items()]}
            else:
                node = self.encode(value, _join(path, name), depth + 1)
            state.append([name, node])
        return {"module": cls, "state": state}

    def _encode_parameter(self, param, path: str):
        if param is None:
            return None
        return {"parameter": self.encode(param, path), "requires_grad": param.requires_grad}

    def _encode_container(self, obj, path: str, depth: int):
        if depth >= MAX_DEPTH:
            raise ValueError(
                f"ember.save: containers nested deeper than {MAX_DEPTH} levels at "
                f"{_where(path)} (a list or dict that contains itself?)"
            )
        _refuse_tuple_subclass(obj, path)
        if isinstance(obj, dict):
            tag = "odict" if isinstance(obj, OrderedDict) else "dict"
            return {tag: [[self.encode_key(key, path, depth),
                           self.encode(value, _join(path, key), depth + 1)]
                          for key, value in obj.items()]}
        tag = "list" if isinstance(obj, list) else "tuple"
        return {tag: [self.encode(item, _join(path, n), depth + 1) for n, item in enumerate(obj)]}

    def encode_key(self, key, path: str, depth: int):
        if isinstance(key, tuple):
            _refuse_tuple_subclass(key, path)
            return {"tuple": [self.encode_key(item, path, depth + 1) for item in key]}
        if key is None or isinstance(key, (bool, int, float, str)):
            return self.encode(key, path, depth)
        raise TypeError(
            f"ember.save: cannot store a dict key of type {type(key).__name__} at "
            f"{_where(path)}: keys must be str, int, float, bool, None or tuples"
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
                f"ember.save: cannot store an array of dtype {array.dtype} at {_where(path)}: "
                f"supported dtypes are {', '.join(sorted(_STORABLE))}"
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


def _refuse_tuple_subclass(obj, path: str) -> None:
    """A namedtuple would load as a plain tuple (its class is never imported): refuse it."""
    if isinstance(obj, tuple) and type(obj) is not tuple:
        kind = "namedtuple" if hasattr(obj, "_fields") else "tuple subclass"
        raise TypeError(
            f"ember.save: cannot store the {kind} {type(obj).__name__} at {_where(path)}: it "
            "would load as a plain tuple, since loading never imports classes; store "
            "tuple(value) or value._asdict() instead"
        )


def _join(path: str, key) -> str:
    """The name of a child in a dotted path, as state-dict keys read (``model.fc.weight``)."""
    return f"{path}.{key}" if path else str(key)


class Decoder:
    """Rebuilds an object from its structure, reading each stored array when a node names it.

    Args:
        read_array: ``name -> writable numpy array``, or KeyError for a name the file lacks.
        place: ``(cpu_tensor, saved_location) -> tensor`` (``map_location``).
        source: how error messages name the file.
    """

    def __init__(self, read_array, place, source: str) -> None:
        self.read_array = read_array
        self.place = place
        self.source = source
        self._tensors: dict = {}  # stored name -> loaded tensor: one object per stored tensor
        self._parameters: dict = {}  # stored name -> Parameter, so tied weights stay tied
        self._modules: list = []  # modules in the order their nodes are read ("module_ref")

    def decode(self, node, depth: int = 0):
        if node is None or isinstance(node, (bool, int, str)):
            return node
        if not isinstance(node, dict) or len(node) not in (1, 2):
            raise self.corrupt(f"unexpected node {str(node)[:80]!r}")
        if depth >= MAX_DEPTH:
            raise self.corrupt(f"containers nested deeper than {MAX_DEPTH} levels")
        tag, value = next(iter(node.items()))
        # Children are decoded outside any try: an error of map_location (called for each tensor)
        # is the caller's own and must reach them unchanged.
        if tag == "tensor":
            return self._tensor(value, node.get("device"))
        if tag == "module":
            return self._module(value, node.get("state"), depth)
        if tag == "parameter":
            return self._parameter(value, node.get("requires_grad"), depth)
        if tag in ("list", "tuple"):
            items = [self.decode(item, depth + 1) for item in self._items(tag, value)]
            return items if tag == "list" else tuple(items)
        if tag in ("dict", "odict"):
            pairs = [(self.decode(key, depth + 1), self.decode(item, depth + 1))
                     for key, item in self._pairs(tag, value)]
            try:
                return OrderedDict(pairs) if tag == "odict" else dict(pairs)
            except TypeError as error:  # a crafted unhashable key
                raise self.corrupt(f"bad {tag!r} node ({error})") from None
        try:
            return self._leaf(tag, value, node)
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise self.corrupt(f"bad {tag!r} node ({error})") from None

    def _module(self, path, state, depth: int) -> Module:
        cls = _modules.resolve_class(path, self.source)
        module = _modules.new_instance(cls)
        self._modules.append(module)
        pairs = [(name, self.decode(item, depth + 1)) for name, item in self._pairs("state", state)]
        if not all(isinstance(name, str) for name, _ in pairs):
            raise self.corrupt(f"bad module state for {cls.__name__} (names must be strings)")
        _modules.restore(module, pairs, self.corrupt)
        return module

    def _parameter(self, tensor_node, requires_grad, depth: int) -> Parameter:
        if not isinstance(tensor_node, dict) or not isinstance(requires_grad, bool):
            raise self.corrupt("bad 'parameter' node")
        name = tensor_node.get("tensor")
        param = self._parameters.get(name) if isinstance(name, str) else None
        if param is None:
            tensor = self.decode(tensor_node, depth + 1)
            if not isinstance(tensor, Tensor):
                raise self.corrupt("bad 'parameter' node (not a tensor)")
            param = Parameter(tensor, requires_grad)
            if isinstance(name, str):
                self._parameters[name] = param
        return param

    def _items(self, tag: str, value) -> list:
        if not isinstance(value, list):
            raise self.corrupt(f"bad {tag!r} node (expected a list, got {type(value).__name__})")
        return value

    def _pairs(self, tag: str, value) -> list:
        for pair in self._items(tag, value):
            if not isinstance(pair, list) or len(pair) != 2:
                raise self.corrupt(f"bad {tag!r} node (entries must be [key, value] pairs)")
        return value

    def _leaf(self, tag: str, value, node: dict):
        if tag == "float":
            return float.fromhex(value)
        if tag == "ndarray":
            array = self._array(value)
            return array[()] if node["scalar"] else array
        if tag == "dtype":
            return dtypes.from_name(value)
        if tag == "device":
            return Device(value)
        if tag == "global":
            return _modules.resolve_global(value, self.source)
        if tag == "module_ref":
            if isinstance(value, bool) or not 0 <= value < len(self._modules):
                raise self.corrupt(f"'module_ref' {value!r} names no module read before")
            return self._modules[value]
        raise self.corrupt(f"unknown node type {tag!r}")

    def _array(self, name) -> np.ndarray:
        try:
            return self.read_array(name)
        except (KeyError, TypeError):
            raise self.corrupt(
                f"the structure names a tensor {str(name)[:80]!r} the file does not hold"
            ) from None

    def _tensor(self, name, location) -> Tensor:
        tensor = self._tensors.get(name) if isinstance(name, str) else None
        if tensor is None:
            if not isinstance(location, str):
                raise self.corrupt(f"tensor {str(name)[:80]!r} has no saved location")
            tensor = self._tensors[name] = self.place(Tensor(self._array(name)), location)
        return tensor

    def corrupt(self, what: str) -> RuntimeError:
        return RuntimeError(f"ember.load({self.source}): corrupt Ember checkpoint: {what}")
