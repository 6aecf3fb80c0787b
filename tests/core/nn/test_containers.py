"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""

from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember import nn


def _layers(n):
    return [nn.Linear(2, 2) for _ in range(n)]


def test_sequential_runs_in_order_and_indexes():
    a, b, c = _layers(3)
    seq = nn.Sequential(a, nn.Tanh(), b)
    x = ember.ones(1, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(), b(a(x).tanh()).detach().numpy())
    assert len(seq) == 3 and seq[0] is a and seq[-1] is b
    assert list(seq) == [a, seq[1], b]
    with pytest.raises(IndexError):
        seq[3]
    seq[1] = c
    assert seq[1] is c and list(seq._modules) == ["0", "1", "2"]


def test_sequential_slicing_keeps_names_and_modules():
    a, b = _layers(2)
    seq = nn.Sequential(OrderedDict([("first", a), ("act", nn.ReLU()), ("last", b)]))
    assert seq.first is a and list(seq._modules) == ["first", "act", "last"]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head._modules) == ["first", "act"]
    assert head[0] is a
    assert seq[::-1][0] is b
    seq[0] = b
    assert seq.first is b


def test_sequential_mutation():
    a, b, c, d = _layers(4)
    seq = nn.Sequential(a)
    seq.append(b).extend([c])
    seq.insert(0, d)
    assert list(seq) == [d, a, b, c] and list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq) == [d, b, c] and list(seq._modules) == ["0", "1", "2"]
    assert seq.pop(0) is d and len(seq) == 2
    joined = seq + nn.Sequential(a)
    assert list(joined) == [b, c, a]
    assert len(list(joined.parameters())) == 6


def test_module_list():
    layers = nn.ModuleList(_layers(2))
    layers += _layers(1)
    layers.append(nn.ReLU())
    assert len(layers) == 4 and isinstance(layers[1:], nn.ModuleList)
    assert len(list(layers.parameters())) == 6
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    layers.insert(1, nn.Tanh())
    assert isinstance(layers[1], nn.Tanh) and isinstance(layers[-1], nn.ReLU)
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    with pytest.raises(NotImplementedError):
        layers(ember.ones(1))


def test_module_dict():
    layers = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    layers["c"] = nn.Tanh()
    layers.update([("d", nn.Identity())])
    assert list(layers) == ["a", "b", "c", "d"] and "c" in layers and len(layers) == 4
    assert isinstance(layers.pop("b"), nn.ReLU) and list(layers.keys()) == ["a", "c", "d"]
    assert [type(m).__name__ for m in layers.values()] == ["Linear", "Tanh", "Identity"]
    assert [n for n, _ in layers.named_parameters()] == ["a.weight", "a.bias"]
    layers.clear()
    assert len(layers) == 0


def test_parameter_list_and_dict():
    params = nn.ParameterList([nn.Parameter(ember.ones(2)), ember.zeros(3)])
    assert isinstance(params[1], nn.Parameter)  # plain tensors are wrapped
    params.append(nn.Parameter(ember.ones(1)))
    assert len(params) == 3 and len(list(params.parameters())) == 3
    assert [n for n, _ in params.named_parameters()] == ["0", "1", "2"]
    assert "(0): Parameter containing: [ember.float32 of size 2]" in repr(params)

    table = nn.ParameterDict({"w": ember.ones(2, 2)})
    table["b"] = nn.Parameter(ember.zeros(2))
    assert list(table) == ["w", "b"] and isinstance(table["w"], nn.Parameter)
    assert dict(table.named_parameters()).keys() == {"w", "b"}
    del table["w"]
    assert list(table.keys()) == ["b"] and "w" not in dict(table.named_parameters())

    class Owner(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.ParameterList([ember.ones(1), ember.ones(1)])

    assert list(Owner().state_dict()) == ["weights.0", "weights.1"]


def test_containers_round_trip_state_dict():
    make = lambda: nn.Sequential(nn.Linear(2, 3), nn.ModuleList([nn.Linear(3, 3)]),  # noqa: E731
                                 nn.ModuleDict({"out": nn.Linear(3, 1)}))
    source, target = make(), make()
    target.load_state_dict(source.state_dict())
    assert list(source.state_dict()) == ["0.weight", "0.bias", "1.0.weight", "1.0.bias",
                                         "2.out.weight", "2.out.bias"]
    for (name, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
