"""ember.save / ember.load of whole nn.Modules: no pickle, an allow-list for foreign classes."""

import io
import json
from collections import OrderedDict

import numpy as np
import pytest
import safetensors

import ember
import ember.nn as nn
from ember import serialization
from ember.nn.utils import parametrize
from ember.serialization import load, save


class TwoLayer(nn.Module):
    """A user-defined module: not Ember's own, so it needs allow-listing."""

    def __init__(self, hidden=5):
        super().__init__()
        self.hidden = nn.Linear(3, hidden)
        self.out = nn.Linear(hidden, 2)
        self.scale = 0.5
        self.config = {"name": "two", "sizes": (3, hidden, 2), "dtype": ember.float32}

    def forward(self, x):
        return self.out(self.hidden(x).relu()) * self.scale


class WithFunction(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.fc.act = lambda x: x


@pytest.fixture(autouse=True)
def no_safe_globals():
    serialization.clear_safe_globals()
    yield
    serialization.clear_safe_globals()


def to_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()


def round_trip(obj, **load_kwargs):
    return load(io.BytesIO(to_bytes(obj)), **load_kwargs)


def header(data: bytes) -> dict:
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + size])["__metadata__"]


def assert_same_outputs(model, loaded, *inputs):
    model.eval()
    loaded.eval()
    with ember.no_grad():
        expected, got = model(*inputs), loaded(*inputs)
    for a, b in zip(_leaves(expected), _leaves(got), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def _leaves(value):
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def assert_same_state(model, loaded):
    assert type(loaded) is type(model)
    expected, got = model.state_dict(), loaded.state_dict()
    assert list(got) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(got[key].numpy(), expected[key].numpy())
        assert got[key].dtype == expected[key].dtype
    for (name, param), (_, new) in zip(model.named_parameters(), loaded.named_parameters()):
        assert isinstance(new, nn.Parameter), name
        assert new.requires_grad == param.requires_grad


def test_sequential_mlp_round_trip():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))
    model[3].bias.requires_grad_(False)
    loaded = round_trip(model)
    assert_same_state(model, loaded)
    assert loaded[2].p == 0.2 and loaded.training
    assert_same_outputs(model, loaded, ember.randn(5, 4))
    assert header(to_bytes(model))["ember.version"] == "2"


def test_small_cnn_with_batchnorm_buffers():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    model.train()
    model(ember.randn(6, 1, 8, 8))  # moves the running statistics
    loaded = round_trip(model)
    assert_same_state(model, loaded)
    np.testing.assert_array_equal(loaded[1].running_mean.numpy(), model[1].running_mean.numpy())
    assert int(loaded[1].num_batches_tracked.item()) == 1
    assert loaded[0].kernel_size == (3, 3) and loaded[0].padding_mode == "zeros"
    assert_same_outputs(model, loaded, ember.randn(2, 1, 8, 8))


def test_lstm_round_trip():
    model = nn.LSTM(3, 5, num_layers=2, batch_first=True)
    loaded = round_trip(model)
    assert_same_state(model, loaded)
    assert loaded.batch_first and loaded.num_layers == 2
    assert_same_outputs(model, loaded, ember.randn(2, 4, 3))


def test_vision_model_round_trip():
    from ember_vision.models import lenet5

    model = lenet5()
    loaded = round_trip(model)
    assert_same_state(model, loaded)
    assert_same_outputs(model, loaded, ember.randn(2, 1, 28, 28))


def test_nested_containers_shared_modules_and_tied_weights():
    shared = nn.Linear(2, 2)
    model = nn.ModuleDict({"blocks": nn.ModuleList([shared, nn.Tanh(), shared]),
                           "head": nn.Linear(2, 1)})
    model.head.weight = nn.Parameter(ember.randn(1, 2))
    loaded = round_trip(model)
    assert_same_state(model, loaded)
    assert loaded["blocks"][0] is loaded["blocks"][2]
    assert isinstance(loaded["blocks"], nn.ModuleList) and list(loaded) == ["blocks", "head"]
    embedding = nn.Embedding(4, 3)
    decoder = nn.Linear(3, 4, bias=False)
    decoder.weight = embedding.weight
    tied = round_trip(nn.Sequential(embedding, decoder))
    assert tied[0].weight is tied[1].weight


def test_deeply_nested_modules_load_or_are_refused_at_save():
    model = nn.Linear(2, 2)
    for _ in range(40):
        model = nn.Sequential(model)
    assert_same_state(model, round_trip(model))
    for _ in range(20):
        model = nn.Sequential(model)
    with pytest.raises(ValueError, match="nested deeper"):
        save(model, io.BytesIO())


def test_non_persistent_buffers_and_eval_mode_survive():
    model = nn.Linear(2, 2)
    model.register_buffer("mask", ember.ones(2), persistent=False)
    model.eval()
    loaded = round_trip(model)
    assert not loaded.training
    assert "mask" not in loaded.state_dict()
    np.testing.assert_array_equal(loaded.mask.numpy(), np.ones(2, np.float32))


def test_hooks_are_not_saved():
    model = nn.Linear(2, 2)
    calls = []
    model.register_forward_hook(lambda module, args, output: calls.append(1))
    loaded = round_trip(model)
    loaded(ember.randn(1, 2))
    assert calls == []
    loaded.register_forward_hook(lambda module, args, output: calls.append(2))
    loaded(ember.randn(1, 2))
    assert calls == [2]


def test_user_class_refused_without_allow_listing():
    data = to_bytes(TwoLayer())
    with pytest.raises(RuntimeError, match=r"TwoLayer.*add_safe_globals.*safe_globals"):
        load(io.BytesIO(data))
    with pytest.raises(ValueError, match="weights_only=False"):
        load(io.BytesIO(data), weights_only=False)


def test_user_class_accepted_with_add_safe_globals(monkeypatch):
    model = TwoLayer()
    data = to_bytes(model)
    called = []
    monkeypatch.setattr(TwoLayer, "__init__", lambda self, *a: called.append(1))
    serialization.add_safe_globals([TwoLayer])
    assert serialization.get_safe_globals() == [TwoLayer]
    loaded = load(io.BytesIO(data))
    assert called == []  # __init__ is never run
    assert loaded.scale == 0.5
    assert loaded.config == {"name": "two", "sizes": (3, 5, 2), "dtype": ember.float32}
    assert_same_state(model, loaded)
    assert_same_outputs(model, loaded, ember.randn(3, 3))
    serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []
    with pytest.raises(RuntimeError, match="TwoLayer"):
        load(io.BytesIO(data))


def test_user_class_accepted_inside_safe_globals_context():
    model = TwoLayer(hidden=4)
    data = to_bytes(model)
    with serialization.safe_globals([TwoLayer]):
        loaded = load(io.BytesIO(data))
    assert serialization.get_safe_globals() == []
    assert_same_outputs(model, loaded, ember.randn(3, 3))
    with pytest.raises(RuntimeError, match="TwoLayer"):
        load(io.BytesIO(data))


def test_allow_list_by_explicit_path():
    data = to_bytes(TwoLayer())
    assert json.loads(header(data)["ember.structure"])["module"] == [__name__, "TwoLayer"]
    from_main = _with_structure(data, lambda s: {**s, "module": ["__main__", "TwoLayer"]})
    with serialization.safe_globals([TwoLayer]), pytest.raises(RuntimeError, match="__main__"):
        load(io.BytesIO(from_main))
    with serialization.safe_globals([(TwoLayer, "__main__.TwoLayer")]):
        assert isinstance(load(io.BytesIO(from_main)), TwoLayer)
    with pytest.raises(TypeError, match="not an nn.Module subclass"):
        serialization.add_safe_globals([dict])


def test_unknown_class_is_never_imported(tmp_path, monkeypatch):
    (tmp_path / "evil_module.py").write_text("raise SystemExit('imported!')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    data = _with_structure(to_bytes(nn.Linear(1, 1)),
                           lambda s: {**s, "module": ["evil_module", "Linear"]})
    with pytest.raises(RuntimeError, match=r"evil_module\.Linear.*not one of Ember's own"):
        load(io.BytesIO(data))


def _with_structure(data: bytes, change) -> bytes:
    metadata = header(data)
    arrays = safetensors.numpy.load(data)
    metadata["ember.structure"] = json.dumps(change(json.loads(metadata["ember.structure"])))
    return safetensors.numpy.save(arrays, metadata=metadata)


def test_ember_names_that_are_not_modules_are_refused():
    data = to_bytes(nn.Linear(1, 1))
    for path in (["ember.serialization._modules", "importlib"], ["ember.nn", "Nothing"],
                 ["ember", "save"]):
        bad = _with_structure(data, lambda s, path=path: {**s, "module": path})
        with pytest.raises(RuntimeError, match="does not have"):
            load(io.BytesIO(bad))
    hooked = _with_structure(
        data, lambda s: {**s, "state": s["state"] + [["_forward_hooks", {"dict": []}]]})
    with pytest.raises(RuntimeError, match="corrupt"):
        load(io.BytesIO(hooked))


def test_unsupported_attributes_refused_at_save_with_their_path():
    with pytest.raises(TypeError, match=r"function .*<lambda> at fc\.act"):
        save(WithFunction(), io.BytesIO())
    model = nn.Sequential(nn.Linear(2, 2))
    model[0].helper = object()
    with pytest.raises(TypeError, match=r"object at 0\.0\.helper"):
        save([model], io.BytesIO())


def test_local_and_parametrized_classes_refused_at_save():
    class Local(nn.Module):
        pass

    with pytest.raises(TypeError, match="cannot be found by its import path"):
        save(Local(), io.BytesIO())

    class Symmetric(nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).transpose(0, 1)

    layer = nn.Linear(3, 3)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    with pytest.raises(TypeError, match=r"parametrized module at 1 \(ParametrizedLinear.*"
                                        r"remove_parametrizations"):
        save(nn.Sequential(nn.ReLU(), layer), io.BytesIO())


def test_modules_inside_containers_and_plain_tensors():
    model = nn.Linear(2, 3)
    loaded = round_trip({"model": model, "epoch": 3, "extra": [model, ember.ones(2)]})
    assert loaded["epoch"] == 3
    assert loaded["model"] is loaded["extra"][0]
    assert_same_state(model, loaded["model"])
    tensor = ember.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(round_trip(tensor).numpy(), tensor.numpy())
    assert header(to_bytes(tensor))["ember.version"] == "1"


def test_map_location_moves_module_parameters():
    model = nn.Linear(2, 2)
    seen = []
    loaded = round_trip(model, map_location=lambda t, loc: seen.append(loc))
    assert seen == ["cpu", "cpu"]
    assert isinstance(loaded.weight, nn.Parameter)


def test_state_dict_checkpoints_unchanged():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    checkpoint = {"model": model.state_dict(), "step": 1}
    data = to_bytes(checkpoint)
    metadata = header(data)
    assert metadata["ember.version"] == "1"
    keys = ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
            "1.num_batches_tracked"]
    expected = {"dict": [
        ["model", {"odict": [[key, {"tensor": f"model.{key}", "device": "cpu"}] for key in keys]}],
        ["step", 1]]}
    assert metadata["ember.structure"] == json.dumps(expected, separators=(",", ":"))
    loaded = load(io.BytesIO(data))
    assert isinstance(loaded["model"], OrderedDict)
    assert not isinstance(loaded["model"]["0.weight"], nn.Parameter)
    assert_same_state(model, _loaded_into(model, loaded["model"]))


def _loaded_into(model, state_dict):
    fresh = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    fresh.load_state_dict(state_dict)
    return fresh


def test_ember_functions_and_classes_stored_by_import_path():
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    loaded = round_trip(layer)
    assert loaded.activation is layer.activation
    assert_same_outputs(layer, loaded, ember.randn(3, 2, 8))
    from ember_vision.models import resnet18

    model = resnet18(num_classes=3)
    assert round_trip(model)._norm_layer is nn.BatchNorm2d
    assert round_trip({"f": ember.nn.functional.relu})["f"] is ember.nn.functional.relu


def test_globals_outside_ember_refused_at_save_and_load():
    model = nn.Linear(2, 2)
    model.act = np.tanh
    with pytest.raises(TypeError, match="only Ember's own functions and classes"):
        save(model, io.BytesIO())
    model.act = TwoLayer
    with pytest.raises(TypeError, match=r"type .*TwoLayer.* at act"):
        save(model, io.BytesIO())
    model.act = ember.nn.functional.relu
    data = to_bytes(model)
    for path in (["os", "system"], ["ember.serialization._files", "os.system"],
                 ["ember", "nothing"]):
        bad = _with_structure(data, lambda s, path=path: {
            **s, "state": [pair if pair[0] != "act" else ["act", {"global": path}]
                           for pair in s["state"]]})
        with pytest.raises(RuntimeError, match="not a function or class of Ember's own"):
            load(io.BytesIO(bad))


def test_newer_format_versions_refused():
    data = _with_structure(to_bytes(nn.Linear(1, 1)), lambda s: s)
    metadata = header(data)
    metadata["ember.version"] = "3"
    bad = safetensors.numpy.save(safetensors.numpy.load(data), metadata=metadata)
    with pytest.raises(RuntimeError, match="version '3'"):
        load(io.BytesIO(bad))
