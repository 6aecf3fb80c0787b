"""The shared layer-test harness: every ``nn`` layer goes through ``check_module``.

A ``ModuleCase`` builds a layer and its inputs; ``check_module`` checks, on a device:
the output shape and dtype; gradcheck (and optionally gradgradcheck) in float64 of the inputs
and the parameters together; a state_dict round trip into a fresh instance giving identical
outputs; the train/eval switch; ``.to(device)`` moving every parameter and buffer; and repr.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import ember
from ember import nn


@dataclass
class ModuleCase:
    name: str
    make: Callable[[], nn.Module]
    """builds a fresh layer (float32, on cpu)"""
    shapes: list = field(default_factory=lambda: [(2, 3)])
    """one shape per forward argument"""
    output_shape: tuple | None = None
    """the expected output shape (None: the first input's shape)"""
    inputs: Callable | None = None
    """``inputs(rng, dtype) -> list of numpy arrays`` for special inputs (indices, domains)"""
    low: float = -2.0
    high: float = 2.0
    gradgrad: bool = False
    stochastic: bool = False
    """training mode draws at random (dropout): compared in eval mode, where it is the identity"""
    eval_is_identity: bool = False
    """in eval mode the layer returns its input unchanged"""
    atol: float = 1e-5
    rtol: float = 1e-3

    def __str__(self):
        return self.name


def make_arrays(case: ModuleCase, dtype: str, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    if case.inputs is not None:
        return [np.asarray(a) for a in case.inputs(rng, dtype)]
    return [rng.uniform(case.low, case.high, size=s).astype(dtype) for s in case.shapes]


def _host(tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def _tensors(arrays, device, requires_grad=False) -> list:
    return [ember.tensor(a, device=device,
                         requires_grad=requires_grad and a.dtype.kind == "f") for a in arrays]


def _first(output):
    return output if isinstance(output, ember.Tensor) else output[0]


def check_forward(case: ModuleCase, device) -> None:
    module = case.make().to(device)
    inputs = _tensors(make_arrays(case, "float32"), device)
    out = _first(module(*inputs))
    expected = case.output_shape if case.output_shape is not None else case.shapes[0]
    assert tuple(out.shape) == tuple(expected), f"{case}: output {out.shape}, expected {expected}"
    assert out.dtype == ember.float32, f"{case}: output dtype {out.dtype}"
    assert out.device == device, f"{case}: output on {out.device}, expected {device}"


def check_gradients(case: ModuleCase, device) -> None:
    module = case.make().double().to(device)
    if case.stochastic:
        module.eval()
    inputs = _tensors(make_arrays(case, "float64"), device, requires_grad=True)
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        assert p.dtype == ember.float64, f"{case}: .double() left a {p.dtype} parameter"
    count = len(inputs)

    def run(*tensors):
        return module(*tensors[:count])

    # The parameters are perturbed in place by the numerical check, so the module sees them.
    targets = [*inputs, *params]
    ember.autograd.gradcheck(run, targets, atol=case.atol, rtol=case.rtol)
    if case.gradgrad:
        ember.autograd.gradgradcheck(run, targets, atol=case.atol, rtol=case.rtol)


def check_state_dict_round_trip(case: ModuleCase, device) -> None:
    source = case.make().to(device).eval()
    ember.manual_seed(1234)  # a fresh instance initialised differently
    fresh = case.make().to(device).eval()
    result = fresh.load_state_dict(source.state_dict())
    assert not result.missing_keys and not result.unexpected_keys
    inputs = _tensors(make_arrays(case, "float32"), device)
    with ember.no_grad():
        np.testing.assert_array_equal(_host(_first(fresh(*inputs))),
                                      _host(_first(source(*inputs))))
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(_host(fresh.state_dict()[key]), _host(value), err_msg=key)


def check_train_eval(case: ModuleCase, device) -> None:
    module = case.make().to(device)
    assert module.training and all(m.training for m in module.modules())
    assert module.eval() is module and not any(m.training for m in module.modules())
    inputs = _tensors(make_arrays(case, "float32"), device)
    eval_out = _host(_first(module(*inputs)))
    if case.eval_is_identity:
        np.testing.assert_array_equal(eval_out, _host(inputs[0]))
    # eval mode is deterministic
    np.testing.assert_array_equal(_host(_first(module(*inputs))), eval_out)
    module.train()
    assert all(m.training for m in module.modules())
    if not case.stochastic:
        np.testing.assert_allclose(_host(_first(module(*inputs))), eval_out, rtol=1e-6)


def check_device_move(case: ModuleCase, device) -> None:
    module = case.make()
    params_before = list(module.parameters())
    assert module.to(device) is module
    assert list(module.parameters()) == params_before, "to() must keep the Parameter objects"
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        assert tensor.device == device, f"{case}: {name} on {tensor.device} after to({device})"
    module.cpu()
    for name, tensor in [*module.named_parameters(), *module.named_buffers()]:
        assert tensor.device == ember.device("cpu"), f"{case}: {name} not back on cpu"


def check_repr(case: ModuleCase) -> None:
    module = case.make()
    text = repr(module)
    assert text.startswith(type(module).__name__ + "("), text
    assert isinstance(module.extra_repr(), str)


def check_module(case: ModuleCase, device) -> None:
    """Every check above, for one layer on one device."""
    check_forward(case, device)
    check_gradients(case, device)
    check_state_dict_round_trip(case, device)
    check_train_eval(case, device)
    check_device_move(case, device)
    check_repr(case)
