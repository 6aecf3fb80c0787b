"""ember.jit.save / load: round trips without the class, and clear errors for bad files."""

import json
import subprocess
import sys

import numpy as np
import pytest
import safetensors.numpy

import ember
import ember.nn as nn
from ember.jit.files import FORMAT


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3)
        self.bn = nn.BatchNorm2d(3)
        self.head = nn.Linear(3 * 4 * 4, 2)

    def forward(self, x):
        h = self.bn(self.conv(x)).relu()
        return {"logits": self.head(h[:, :, ::1, ...].flatten(1)), "mask": h > 0}


@pytest.fixture
def traced():
    model = _Model().eval()
    return model, ember.jit.trace(model, ember.randn(2, 1, 6, 6))


@pytest.mark.parametrize("as_folder", [False, True])
def test_round_trip(tmp_path, traced, as_folder):
    model, module = traced
    path = tmp_path / "model"
    if as_folder:
        path.mkdir()
    ember.jit.save(module, path)
    loaded = ember.jit.load(path)
    x = ember.randn(2, 1, 6, 6)
    with ember.no_grad():
        expected, got = model(x), loaded(x)
    np.testing.assert_allclose(got["logits"].numpy(), expected["logits"].numpy(), rtol=1e-6)
    np.testing.assert_array_equal(got["mask"].numpy(), expected["mask"].numpy())
    assert loaded.state_dict().keys() == model.state_dict().keys()
    assert not loaded.training
    with pytest.raises(RuntimeError, match="loaded from a file"):
        loaded(ember.randn(3, 1, 6, 6))


def test_loaded_module_trains(tmp_path, traced):
    _, module = traced
    ember.jit.save(module, tmp_path / "m.ejit")
    loaded = ember.jit.load(tmp_path / "m.ejit")
    x = ember.randn(2, 1, 6, 6)
    loaded(x)["logits"].sum().backward()
    assert loaded.head.weight.grad is not None and loaded.head.weight.grad.shape == (2, 48)


def test_load_in_fresh_process_without_the_class(tmp_path, traced):
    model, module = traced
    x = ember.randn(2, 1, 6, 6)
    ember.jit.save(module, tmp_path / "m.ejit")
    ember.save(x, tmp_path / "x.pt")
    with ember.no_grad():
        expected = model(x)["logits"].numpy()
    code = ("import ember, sys; m = ember.jit.load(sys.argv[1]); x = ember.load(sys.argv[2]);"
            "print(m(x)['logits'].detach().numpy().tolist())")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "m.ejit"),
                             str(tmp_path / "x.pt")], capture_output=True, text=True, check=True)
    np.testing.assert_allclose(np.array(json.loads(result.stdout)), expected, rtol=1e-6)


def _rewrite(tmp_path, module, edit):
    """Saves ``module``, applies ``edit`` to the decoded JSON, writes it back; returns the path."""
    path = tmp_path / "m.ejit"
    ember.jit.save(module, path)
    with safetensors.safe_open(str(path), framework="numpy") as file:
        data = json.loads(file.metadata()[FORMAT])
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    edit(data, tensors)
    text = json.dumps(data).replace('"DEEP"', DEEP)
    path.write_bytes(safetensors.numpy.save(tensors, metadata={FORMAT: text}))
    return path


def _set(path_keys, value):
    def edit(data, tensors):
        target = data
        for key in path_keys[:-1]:
            target = target[key]
        target[path_keys[-1]] = value

    return edit


DEEP = "[" * 5000 + "1" + "]" * 5000  # json.dumps itself would not write this


HOSTILE = [
    ("unknown op", _set(["graphs", 0, "nodes", 0, 0], "os.system"),
     "'os.system' is not a registered primitive"),
    ("object attr", _set(["graphs", 0, "nodes", 0, 1, "geometry"], {"__class__": "x"}),
     "not an attribute value"),
    ("forward reference", _set(["graphs", 0, "nodes", 0, 2, 0], 10**6),
     "input must be an integer"),
    ("bad kind", _set(["graphs", 0, "values", 0, 0], "eval"), "unknown kind"),
    ("bad dtype", _set(["graphs", 0, "values", 0, 3], "object"), "not a known dtype"),
    ("negative shape", _set(["graphs", 0, "values", 0, 2], [-1, 2]), "non-negative integers"),
    ("bad version", _set(["version"], 99), "format version"),
    ("missing weight", _set(["weights", "ghost.weight"], "parameter"), "'ghost.weight' is missing"),
    ("bad output", _set(["graphs", 0, "outputs"], [12345]), "output must be an integer"),
    ("bad spec", _set(["graphs", 0, "output_spec"], {"kind": "set", "items": []}),
     "bad output structure"),
    # node 0 is the conv2d with its bias: 3 inputs
    ("wrong attribute", _set(["graphs", 0, "nodes", 0, 1, "shell"], "rm -rf"),
     "does not take 3 inputs and attributes"),
    ("deep nesting", _set(["graphs", 0, "nodes", 0, 1, "geometry"], "DEEP"),
     "nested too deeply"),
]


@pytest.mark.parametrize("case", HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_files_give_clear_errors(tmp_path, traced, case):
    _, edit, message = case
    path = _rewrite(tmp_path, traced[1], edit)
    with pytest.raises(ValueError, match=message):
        ember.jit.load(path)


def test_wrong_weight_shape(tmp_path, traced):
    def edit(data, tensors):
        tensors["weight/head.weight"] = np.zeros((3, 3), np.float32)

    with pytest.raises(ValueError, match=r"head.weight.*stored as \(3, 3\)"):
        ember.jit.load(_rewrite(tmp_path, traced[1], edit))


def test_node_reading_a_later_value(tmp_path, traced):
    def edit(data, tensors):
        graph = data["graphs"][0]
        graph["nodes"][0][2][0] = graph["nodes"][-1][3][0]

    with pytest.raises(ValueError, match="before it is computed"):
        ember.jit.load(_rewrite(tmp_path, traced[1], edit))


def test_truncated_and_foreign_files(tmp_path, traced):
    path = tmp_path / "m.ejit"
    ember.jit.save(traced[1], path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a graph file"):
        ember.jit.load(path)
    ember.save({"w": ember.ones(2)}, path)
    with pytest.raises(ValueError, match="without an Ember graph"):
        ember.jit.load(path)
    path.write_bytes(safetensors.numpy.save({"a": np.ones(1)}, metadata={FORMAT: "{nope"}))
    with pytest.raises(ValueError, match="not valid JSON"):
        ember.jit.load(path)


def test_save_refuses_other_objects(tmp_path):
    with pytest.raises(TypeError, match="expected a TracedModule"):
        ember.jit.save(nn.Linear(2, 2), tmp_path / "x")


def test_tied_weights_stay_tied(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.out = nn.Linear(3, 5)
            self.out.weight = self.embed.weight

        def forward(self, tokens):
            return self.out(self.embed(tokens))

    model = Tied()
    tokens = ember.tensor([[1, 2], [3, 4]])
    traced = ember.jit.trace(model, tokens)
    assert traced.state_dict().keys() == model.state_dict().keys()
    ember.jit.save(traced, tmp_path / "tied.ejit")
    loaded = ember.jit.load(tmp_path / "tied.ejit")
    assert loaded.out.weight is loaded.embed.weight
    assert loaded.state_dict().keys() == model.state_dict().keys()
    loaded(tokens).sum().backward()
    expected = ember.autograd.grad(model(tokens).sum(), [model.embed.weight])[0]
    np.testing.assert_allclose(loaded.embed.weight.grad.numpy(), expected.numpy(), rtol=1e-6)
