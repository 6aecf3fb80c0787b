"""ember.save / ember.load: exact round trips, atomic writes, map_location and clear errors."""

import enum
import io
import json
import math
import os
import pickle
import zipfile
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import safetensors.numpy

import ember
from ember import serialization
from ember.backend import CPU, to_device
from ember.serialization import load, save

DTYPES = [ember.float16, ember.float32, ember.float64, ember.int8, ember.int16, ember.int32,
          ember.int64, ember.uint8, ember.bool]


def round_trip(obj, **load_kwargs):
    buffer = io.BytesIO()
    save(obj, buffer)
    buffer.seek(0)
    return load(buffer, **load_kwargs)


def assert_same_tensor(loaded, original):
    assert isinstance(loaded, ember.Tensor)
    assert loaded.dtype is original.dtype and loaded.shape == original.shape
    assert to_device(loaded._array, CPU).tobytes() == to_device(original._array, CPU).tobytes()
    assert not loaded.requires_grad and loaded.grad_fn is None


def sample(dtype, shape, rng):
    values = rng.standard_normal(shape) * 100
    if dtype is ember.bool:
        return values > 0
    if dtype is ember.uint8:
        return np.abs(values)
    return values


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_tensors_round_trip_bit_exactly(dtype, device):
    rng = np.random.default_rng(0)
    tensors = {f"shape{n}": ember.tensor(sample(dtype, shape, rng), dtype=dtype, device=device)
               for n, shape in enumerate([(), (0,), (2, 0, 3), (5,), (3, 4)])}
    loaded = round_trip(tensors)
    assert list(loaded) == list(tensors)
    for name, tensor in tensors.items():
        assert_same_tensor(loaded[name], tensor)
        assert loaded[name].device == CPU


def test_special_float_bits_round_trip():
    for dtype in (np.float16, np.float32, np.float64):
        info = np.finfo(dtype)
        values = [np.nan, -np.inf, np.inf, -0.0, info.smallest_subnormal, info.max, info.eps]
        tensor = ember.tensor(np.array(values, dtype=dtype))
        assert_same_tensor(round_trip(tensor), tensor)


def test_python_values_keep_their_exact_types():
    obj = {
        "ints": [0, -7, 2**100, True, False],
        "floats": (0.1, -0.0, 1e-310, math.inf, -math.inf, 1 / 3, 1.0),
        "text": "naïve ✓",
        "none": None,
        3: "int key",
        (1, "a"): "tuple key",
        2.5: "float key",
        "nested": {"list": [[], (), {}], "tuple": (1, [2, (3,)])},
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        "dtype": ember.float16,
        "device": ember.device("cuda:1"),
        "numpy": np.arange(6, dtype=np.int16).reshape(2, 3),
        "numpy scalar": np.float32(1.5),
    }
    loaded = round_trip(obj)
    numpy_array = loaded.pop("numpy")
    assert numpy_array.dtype == np.int16 and np.array_equal(numpy_array, obj.pop("numpy"))
    scalar = loaded.pop("numpy scalar")
    assert type(scalar) is np.float32 and scalar == obj.pop("numpy scalar")
    assert loaded == obj
    assert [type(v) for v in loaded["ints"]] == [int, int, int, bool, bool]
    assert type(loaded["floats"]) is tuple and all(type(v) is float for v in loaded["floats"])
    assert math.copysign(1.0, loaded["floats"][1]) == -1.0
    assert type(loaded["ordered"]) is OrderedDict and list(loaded["ordered"]) == ["b", "a"]
    assert loaded["dtype"] is ember.float16 and loaded["device"] == ember.device("cuda:1")
    assert math.isnan(round_trip(math.nan))


def test_views_and_non_contiguous_tensors():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    views = {"transposed": ember.from_numpy(base.T), "strided": ember.from_numpy(base[::2, 1::3]),
             "row": ember.from_numpy(base[1])}
    loaded = round_trip(views)
    for name, view in views.items():
        assert np.array_equal(loaded[name]._array, view._array)
        assert loaded[name].shape == view.shape


def test_shared_storage_loads_as_copies_and_one_object_stays_one():
    base = ember.from_numpy(np.zeros(4, dtype=np.float32))
    view = ember.from_numpy(base._array[1:3])
    loaded = round_trip({"base": base, "view": view, "again": base})
    loaded["base"]._array[1] = 5.0
    assert loaded["view"]._array[0] == 0.0  # independent copies: the view did not change
    assert loaded["again"] is loaded["base"]
    loaded["view"]._array[:] = 1.0  # and writable


def test_requires_grad_is_dropped():
    weight = ember.ones(2, 2, requires_grad=True)
    weight.grad = ember.ones(2, 2)
    loaded = round_trip({"weight": weight})["weight"]
    assert not loaded.requires_grad and loaded.grad is None


def test_paths_and_safetensors_interoperability(tmp_path):
    state = {"model": {"fc.weight": ember.ones(2, 3), "fc.bias": ember.zeros(2)}, "step": 4}
    save(state, str(tmp_path / "a.safetensors"))
    save(state, tmp_path / "b.safetensors")
    for name in ("a.safetensors", "b.safetensors"):
        loaded = load(tmp_path / name)
        assert loaded["step"] == 4 and loaded["model"]["fc.weight"].shape == (2, 3)
    plain = safetensors.numpy.load_file(tmp_path / "a.safetensors")  # readable by other tools
    assert sorted(plain) == ["model.fc.bias", "model.fc.weight"]


def test_rng_state_round_trips():
    ember.manual_seed(123)
    ember.rand(3)
    state = ember.get_rng_state()
    loaded = round_trip({"rng": state})["rng"]
    assert_same_tensor(loaded, state)
    expected = ember.rand(4)
    ember.set_rng_state(loaded)
    assert np.array_equal(ember.rand(4).numpy(), expected.numpy())


def test_map_location(device):
    tensor = ember.arange(4, device=device)
    location = str(tensor.device)
    assert round_trip(tensor).device == CPU
    assert round_trip(tensor, map_location=device).device == device
    assert round_trip(tensor, map_location="cpu").device == CPU
    assert round_trip(tensor, map_location={location: "cpu"}).device == CPU
    seen = []

    def record(storage, saved_location):
        seen.append((storage.device, saved_location))

    assert round_trip(tensor, map_location=record).device == CPU
    assert seen == [(CPU, location)]
    moved = round_trip(tensor, map_location=lambda storage, loc: storage.to(device))
    assert moved.device == device and np.array_equal(to_device(moved._array, CPU), np.arange(4))
    with pytest.raises(TypeError, match="expected a Tensor or None"):
        round_trip(tensor, map_location=lambda storage, loc: "cpu")
    with pytest.raises(TypeError, match="map_location must be"):
        round_trip(tensor, map_location=3)


def test_unsupported_objects_are_refused_at_save_time():
    with pytest.raises(TypeError, match=r"cannot store a object at optimizer\.state\.1"):
        save({"optimizer": {"state": [None, object()]}}, io.BytesIO())
    with pytest.raises(TypeError, match="dict key of type frozenset"):
        save({frozenset(): 1}, io.BytesIO())
    with pytest.raises(TypeError, match="dtype complex128"):
        save(np.ones(2, dtype=complex), io.BytesIO())


class Color(enum.Enum):
    RED = 1


class Level(enum.IntEnum):
    LOW = 1


Point = namedtuple("Point", "x y")


def test_enums_and_namedtuples_are_refused_at_save_time():
    # PyTorch pickles them (and imports their classes at load); an Ember checkpoint never imports
    # a class, so they would come back as something else: refused instead of silently changed.
    for value in (Color.RED, Level.LOW):
        with pytest.raises(TypeError, match=r"enum member .* at state\.mode.*\.value or \.name"):
            save({"state": {"mode": value}}, io.BytesIO())
    with pytest.raises(TypeError, match="enum member"):
        save({Level.LOW: 1}, io.BytesIO())
    with pytest.raises(TypeError, match=r"namedtuple Point at point.*_asdict"):
        save({"point": Point(1, 2)}, io.BytesIO())
    with pytest.raises(TypeError, match="namedtuple Point"):
        save({Point(1, 2): 1}, io.BytesIO())
    assert round_trip({"point": tuple(Point(1, 2))}) == {"point": (1, 2)}


def test_deep_and_self_containing_containers_are_refused_at_save_time():
    nested = [1]
    for _ in range(99):
        nested = [nested]
    assert round_trip(nested) == nested  # 100 levels: the limit itself still round-trips
    with pytest.raises(ValueError, match="nested deeper than 100 levels"):
        save([nested], io.BytesIO())
    looped = []
    looped.append(looped)
    with pytest.raises(ValueError, match="contains itself"):
        save({"loop": looped}, io.BytesIO())


def test_a_failing_map_location_reports_its_own_error():
    # As torch.load: the callable's exception reaches the caller, not a "corrupt file" error.
    def refuse(storage, location):
        raise ValueError(f"no room on {location}")

    for obj in (ember.ones(2), {"model": OrderedDict(w=ember.ones(2))}, [[ember.ones(2)]]):
        with pytest.raises(ValueError, match="no room on cpu"):
            round_trip(obj, map_location=refuse)

    def missing_key(storage, location):
        return {}["gpu"]

    with pytest.raises(KeyError, match="gpu"):
        round_trip({"a": [ember.ones(2)]}, map_location=missing_key)


# ---- atomic writes ---------------------------------------------------------------------------


def test_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.safetensors"
    save({"weight": ember.ones(1000), "epoch": 1}, target)
    before = target.read_bytes()

    def crash_midway(file, data):
        file.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(serialization._files, "write_all", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        save({"weight": ember.zeros(1000), "epoch": 2}, target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.safetensors"]
    assert load(target)["epoch"] == 1


def test_save_replaces_an_existing_file(tmp_path):
    target = tmp_path / "checkpoint.safetensors"
    save({"epoch": 1}, target)
    save({"epoch": 2}, target)
    assert load(target) == {"epoch": 2} and os.listdir(tmp_path) == [target.name]


# ---- bad files -------------------------------------------------------------------------------


def write(tmp_path, data: bytes):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(data)
    return path


def checkpoint_bytes(obj):
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()


def raises_naming_path(path, match):
    with pytest.raises(RuntimeError, match=match) as info:
        load(path)
    assert str(path) in str(info.value)


def test_truncated_files(tmp_path):
    data = checkpoint_bytes({"weight": ember.ones(64)})
    raises_naming_path(write(tmp_path, data[:-10]), "truncated or corrupt tensor data")
    raises_naming_path(write(tmp_path, data[:40]), "not a safetensors file.*or truncated")
    raises_naming_path(write(tmp_path, data[:5]), "too short")
    raises_naming_path(write(tmp_path, b""), "too short")


def test_corrupt_header(tmp_path):
    data = bytearray(checkpoint_bytes({"weight": ember.ones(4)}))
    data[8:9] = b"{"
    data[9:14] = b"@@@@@"
    raises_naming_path(write(tmp_path, bytes(data)), "corrupt safetensors header")


def test_corrupt_structure(tmp_path):
    def crafted(structure):
        metadata = {"ember.format": "ember-checkpoint", "ember.version": "1",
                    "ember.structure": structure}
        return safetensors.numpy.save({"w": np.ones(2)}, metadata=metadata)

    raises_naming_path(write(tmp_path, crafted("{not json")), "unreadable structure")
    raises_naming_path(write(tmp_path, crafted(json.dumps({"tensor": "x", "device": "cpu"}))),
                       "does not hold")
    raises_naming_path(write(tmp_path, crafted(json.dumps({"code": "os.system"}))),
                       "unknown node type 'code'")
    raises_naming_path(write(tmp_path, crafted(json.dumps({"float": "one"}))), "bad 'float'")
    # Crafted values that Python's own parsers reject with OverflowError or RecursionError.
    raises_naming_path(write(tmp_path, crafted('{"float":"0x1p99999"}')), "bad 'float'.*too large")
    raises_naming_path(write(tmp_path, crafted("[" * 100_000 + "]" * 100_000)),
                       "unreadable structure .nested too deeply")
    nested = {"list": []}
    for _ in range(150):
        nested = {"list": [nested]}
    raises_naming_path(write(tmp_path, crafted(json.dumps(nested))), "nested deeper than 100")
    raises_naming_path(write(tmp_path, crafted('{"dict":[[{"list":[]},1]]}')), "unhashable")
    raises_naming_path(write(tmp_path, crafted('{"list":{"a":1}}')), "expected a list")
    raises_naming_path(write(tmp_path, crafted('{"dict":[[1]]}')), "pairs")


def test_foreign_files(tmp_path):
    raises_naming_path(write(tmp_path, pickle.dumps({"w": [1.0, 2.0]})), "pickle")
    archive = tmp_path / "torch.pt"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    raises_naming_path(archive, "zip archive")
    raises_naming_path(write(tmp_path, b"hello, this is a text file" * 10), "not a safetensors")
