"""The Module API: registration, iteration, state_dict, modes, devices, hooks, printing."""

import copy

import numpy as np
import pytest

import ember
from ember import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("running", ember.zeros(2))
        self.register_buffer("scratch", ember.ones(1), persistent=False)

    def forward(self, x):
        return self.fc(x) + self.running


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(2, 1)
        self.scale = nn.Parameter(ember.ones(1))

    def forward(self, x):
        return self.head(self.block(x)) * self.scale


# ---- Parameter -----------------------------------------------------------------------------


def test_parameter_is_a_tensor_requiring_grad():
    p = nn.Parameter(ember.zeros(2, 3))
    assert isinstance(p, nn.Parameter) and isinstance(p, ember.Tensor)
    assert p.requires_grad and p.is_leaf
    assert not nn.Parameter(ember.zeros(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert nn.Parameter().shape == (0,)


def test_parameter_shares_memory_with_its_data():
    data = ember.zeros(3)
    p = nn.Parameter(data)
    data.data[0] = 5.0
    assert p.data[0] == 5.0


@pytest.mark.parametrize("op", [
    lambda p, x: p + x, lambda p, x: x + p, lambda p, x: p - x, lambda p, x: x * p,
    lambda p, x: p / (x.abs() + 1), lambda p, x: p * 2.0, lambda p, x: 1.0 - p,
    lambda p, x: p ** 2, lambda p, x: p @ x.t(), lambda p, x: ember.where(x > 0, p, x),
    lambda p, x: ember.cat([p, x]), lambda p, x: (p > x).float() * p,
    lambda p, x: nn.functional.linear(x, p), lambda p, x: p.exp().sum(1),
])
def test_ops_accept_parameters_like_tensors(op):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 3))
    p = nn.Parameter(ember.tensor(a, dtype=ember.float64))
    q = ember.tensor(a, dtype=ember.float64, requires_grad=True)
    x = ember.tensor(b, dtype=ember.float64)
    out_p, out_q = op(p, x), op(q, x)
    assert type(out_p) is ember.Tensor
    np.testing.assert_array_equal(out_p.detach().numpy(), out_q.detach().numpy())
    out_p.sum().backward()
    out_q.sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


# ---- registration --------------------------------------------------------------------------


def test_attribute_assignment_registers():
    net = Net()
    assert list(net._parameters) == ["scale"]
    assert list(net._modules) == ["block", "head"]
    assert list(net.block._buffers) == ["running", "scratch"]
    assert net.block.fc is net._modules["block"]._modules["fc"]
    names = [name for name, _ in net.named_parameters()]
    assert names == ["scale", "block.fc.weight", "block.fc.bias", "head.weight", "head.bias"]
    assert [n for n, _ in net.named_buffers()] == ["block.running", "block.scratch"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "head"]
    assert [n for n, _ in net.named_children()] == ["block", "head"]
    assert len(list(net.parameters(recurse=False))) == 1
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.scale"


def test_reassignment_and_deletion():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.weight = ember.zeros(2, 2)
    m.bias = None
    assert m.bias is None and "bias" in m._parameters
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.extra = nn.Parameter(ember.zeros(1))
    del m.extra
    assert "extra" not in m._parameters and not hasattr(m, "extra")
    m.sub = nn.Linear(1, 1)
    m.sub = nn.Parameter(ember.ones(1))  # a parameter replaces a module of the same name
    assert "sub" not in m._modules and isinstance(m.sub, nn.Parameter)
    m.buf = nn.Buffer(ember.ones(2), persistent=False)
    assert "buf" in m._buffers and "buf" in m._non_persistent_buffers_set
    assert "buf" not in m.state_dict()
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", ember.zeros(1))
    with pytest.raises(KeyError, match="already exists"):
        m.train_flag = 1
        m.register_parameter("train_flag", None)
    with pytest.raises(TypeError):
        m.register_parameter("w", ember.zeros(1))
    with pytest.raises(TypeError):
        m.add_module("child", "not a module")

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_direct_registry_edits_stay_visible_as_attributes():
    m = nn.Linear(2, 2)
    new = nn.Parameter(ember.zeros(2))
    m._parameters["bias"] = new
    assert m.bias is new
    del m._parameters["bias"]
    assert not hasattr(m, "bias")
    m._modules.update({"child": nn.ReLU()})
    assert isinstance(m.child, nn.ReLU)


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("block.fc") is net.block.fc
    assert net.get_submodule("") is net
    assert net.get_parameter("block.fc.weight") is net.block.fc.weight
    assert net.get_buffer("block.running") is net.block.running
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        net.get_submodule("block.nope")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        net.get_parameter("block.running")


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, shared)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert len(list(seq.modules())) == 2


def test_dir_lists_registered_names():
    names = dir(Net())
    assert {"block", "head", "scale", "forward"} <= set(names)


# ---- state_dict ----------------------------------------------------------------------------


def test_state_dict_keys_and_detach():
    net = Net()
    state = net.state_dict()
    assert list(state) == ["scale", "block.running", "block.fc.weight", "block.fc.bias",
                           "head.weight", "head.bias"]
    assert not state["scale"].requires_grad
    assert net.state_dict(keep_vars=True)["scale"] is net.scale
    assert list(net.block.state_dict(prefix="b."))[0] == "b.running"


def test_load_state_dict_copies_in_place():
    net, other = Net(), Net()
    weight = net.block.fc.weight
    result = net.load_state_dict(other.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert net.block.fc.weight is weight
    np.testing.assert_array_equal(weight.detach().numpy(),
                                  other.block.fc.weight.detach().numpy())


def test_load_state_dict_strict_errors_name_the_keys():
    net = Net()
    state = net.state_dict()
    del state["head.bias"]
    state["head.extra"] = ember.zeros(1)
    state["ghost.weight"] = ember.zeros(1)
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert "Error(s) in loading state_dict for Net" in message
    assert 'Missing key(s) in state_dict: "head.bias"' in message
    assert 'Unexpected key(s) in state_dict: "ghost.weight", "head.extra"' in message
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert missing == ["head.bias"] and unexpected == ["ghost.weight", "head.extra"]


def test_load_state_dict_size_mismatch():
    net = Net()
    state = net.state_dict()
    state["head.weight"] = ember.zeros(3, 3)
    with pytest.raises(RuntimeError, match=r"size mismatch for head.weight: copying a param with "
                                           r"shape \(3, 3\) from checkpoint, the shape in current "
                                           r"model is \(1, 2\)"):
        net.load_state_dict(state, strict=False)


def test_load_state_dict_assign_keeps_given_tensors():
    net = nn.Linear(2, 2)
    weight = ember.ones(2, 2)
    net.load_state_dict({"weight": weight, "bias": ember.zeros(2)}, assign=True)
    assert isinstance(net.weight, nn.Parameter) and net.weight.requires_grad
    assert net.weight._array is weight._array


def test_extra_state_round_trips():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.count = 0

        def get_extra_state(self):
            return {"count": self.count}

        def set_extra_state(self, state):
            self.count = state["count"]

    source, target = Counter(), Counter()
    source.count = 7
    target.load_state_dict(source.state_dict())
    assert target.count == 7


# ---- modes, gradients, devices and dtypes --------------------------------------------------


def test_train_eval_and_requires_grad():
    net = Net()
    assert net.eval() is net and not net.block.fc.training
    net.train()
    assert net.block.fc.training
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_zero_grad():
    net = Net()
    net(ember.ones(4, 3)).sum().backward()
    grad = net.head.weight.grad
    net.zero_grad(set_to_none=False)
    assert net.head.weight.grad is grad and not grad.numpy().any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_apply_visits_children_first():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Block", "Linear", "Net"]


def test_dtype_conversion_keeps_parameter_identity():
    net = Net()
    net(ember.ones(2, 3)).sum().backward()
    params = list(net.parameters())
    net.double()
    assert list(net.parameters()) == params
    assert all(p.dtype == ember.float64 for p in net.parameters())
    assert net.head.weight.grad.dtype == ember.float64
    assert net.block.running.dtype == ember.float64
    assert net.half().head.weight.dtype == ember.float16
    assert net.float().head.weight.dtype == ember.float32
    index = nn.Module()
    index.register_buffer("ids", ember.tensor([1, 2]))
    index.double()
    assert index.ids.dtype == ember.int64  # only floating point values are cast
    with pytest.raises(TypeError, match="floating point"):
        net.to(ember.int32)


def test_to_device_and_dtype_together(device):
    net = Net().to(device, ember.float64)
    for p in net.parameters():
        assert p.device == device and p.dtype == ember.float64
    out = net(ember.ones(2, 3, dtype=ember.float64, device=device))
    assert out.device == device


def test_deepcopy_is_independent():
    net = Net()
    twin = copy.deepcopy(net)
    assert isinstance(twin.scale, nn.Parameter)
    twin.block.fc.weight.data[...] = 0
    assert net.block.fc.weight.data.any()
    twin.head = nn.Linear(2, 1)
    assert twin._modules["head"] is twin.head and net.head is not twin.head


def test_shallow_copy_keeps_both_modules_consistent():
    net = Net()
    twin = copy.copy(net)
    assert twin.head is net.head and twin.scale is net.scale
    twin.head = nn.Linear(2, 1)
    net.extra = nn.Linear(1, 1)
    assert net._modules["head"] is net.head is not twin.head
    assert not hasattr(twin, "extra") and twin._modules["head"] is twin.head


# ---- hooks ---------------------------------------------------------------------------------


def test_forward_hooks_order_replacement_and_removal():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre1"))
    h2 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h0 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre0"), prepend=True)
    h3 = m.register_forward_hook(lambda mod, args, out: calls.append("post"))
    h4 = m.register_forward_hook(lambda mod, args, out: out + 1)
    out = m(ember.ones(1, 2))
    assert calls == ["pre0", "pre1", "post"]
    np.testing.assert_allclose(out.detach().numpy(), m.bias.detach().numpy()[None] + 1)
    for handle in (h0, h1, h2, h3, h4):
        handle.remove()
    assert m._hooked  # cleared lazily on the next call
    expected = m.forward(ember.ones(1, 2)).detach().numpy()
    np.testing.assert_array_equal(m(ember.ones(1, 2)).detach().numpy(), expected)
    assert not m._hooked


def test_forward_hooks_with_kwargs():
    class Scaled(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m = Scaled()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"scale": 3.0}),
                                with_kwargs=True)
    seen = {}
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.update(kwargs),
                            with_kwargs=True)
    assert m(ember.ones(1)).item() == 3.0
    assert seen == {"scale": 3.0}


def test_full_backward_hook_receives_module_gradients():
    m = nn.Linear(3, 2).double()
    seen = {}

    def hook(module, grad_input, grad_output):
        seen["grad_input"], seen["grad_output"] = grad_input, grad_output

    m.register_full_backward_hook(hook)
    x = ember.randn(4, 3, dtype=ember.float64, requires_grad=True)
    upstream = ember.randn(4, 2, dtype=ember.float64)
    m(x).backward(upstream)
    (grad_output,) = seen["grad_output"]
    (grad_input,) = seen["grad_input"]
    np.testing.assert_allclose(grad_output.numpy(), upstream.numpy())
    np.testing.assert_allclose(grad_input.numpy(), upstream.numpy() @ m.weight.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), grad_input.numpy())


def test_backward_hook_can_replace_grad_input_and_pre_hook_grad_output():
    m = nn.Tanh()
    m.register_full_backward_pre_hook(lambda mod, grad_output: (grad_output[0] * 2,))
    m.register_full_backward_hook(lambda mod, grad_input, grad_output: (grad_input[0] * 10,))
    x = ember.tensor([0.5, -0.3], dtype=ember.float64, requires_grad=True)
    m(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 20 * (1 - np.tanh(x.detach().numpy()) ** 2))


def test_backward_hook_without_input_gradients():
    m = nn.Linear(2, 1)
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go[0].shape)))
    m(ember.ones(3, 2)).sum().backward()
    assert seen == [((None,), (3, 1))]


# ---- printing ------------------------------------------------------------------------------


def test_repr_nests_children():
    text = repr(Net())
    assert text == (
        "Net(\n"
        "  (block): Block(\n"
        "    (fc): Linear(in_features=3, out_features=2, bias=True)\n"
        "  )\n"
        "  (head): Linear(in_features=2, out_features=1, bias=True)\n"
        ")"
    )
    assert repr(nn.Dropout(0.1)) == "Dropout(p=0.1, inplace=False)"
    assert repr(nn.ReLU()) == "ReLU()"
