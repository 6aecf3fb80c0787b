"""The fused cupy kernels of ``ember.backend.fused_kernels`` against the CPU path.

On the CPU every op runs its own array code (``fused`` hands numpy arrays to the fallback); the
CPU tests check that, and that every call site passes its kernel the arguments the kernel
declares, in one float dtype (else cupy would silently take the slower fallback). The cuda tests
run each fused op forward and backward on the GPU and compare with the CPU result, over ordinary
and edge values (NaN, infinities, signed zeros, large magnitudes), and gradcheck in float64.
"""

import types
from importlib import import_module

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import fused_kernels

# the modules (ember.ops.softmax and nn.functional.dropout are also names of functions)
OP_MODULES = [import_module(f"ember.ops.{name}") for name in
              ("activation", "elementwise", "normalization", "recurrent", "softmax")]
dropout_module = import_module("ember.nn.functional.dropout")

cuda = pytest.mark.cuda

EDGES = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6, 0.5, -0.5, 3.0, -3.0,
         6.0, -6.0, 15.0, -15.0, 40.0, -40.0, 100.0, -100.0, 1e30, -1e30]


def _activation_input(rng, dtype):
    values = np.concatenate([EDGES, rng.standard_normal(41) * 4])
    return [values.astype(dtype)]


def _normal(*shapes):
    def make(rng, dtype):
        return [(rng.standard_normal(shape) * 2).astype(dtype) for shape in shapes]
    return make


def _batch_norm(x, w, b):
    running_mean, running_var = ember.zeros(x.shape[1], dtype=x.dtype, device=x.device), \
        ember.ones(x.shape[1], dtype=x.dtype, device=x.device)
    out = F.batch_norm(x, running_mean, running_var, w, b, training=True)
    return out, running_mean, running_var


def _cross_entropy(logits):
    target = ember.tensor(np.arange(logits.shape[0]) % logits.shape[1], device=logits.device)
    return F.cross_entropy(logits, target, reduction="none")


def _layer_norm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b)


def _group_norm(x):
    return F.group_norm(x, 2)


ACTIVATION = _activation_input
GATES = _normal((5, 4, 12), (4, 3), (4, 3), (12, 3))

# (name, the computation over tensors, its inputs, the kernels its forward and backward run)
CASES = [
    ("relu", F.relu, ACTIVATION, {"relu_backward"}),
    ("erf", ember.erf, ACTIVATION, {"erf"}),
    ("erfc", ember.erfc, ACTIVATION, {"erfc"}),
    ("sigmoid", ember.sigmoid, ACTIVATION, {"sigmoid", "sigmoid_backward"}),
    ("tanh", ember.tanh, ACTIVATION, {"tanh_backward"}),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), ACTIVATION,
     {"leaky_relu", "leaky_relu_backward"}),
    ("elu", lambda x: F.elu(x, 1.3), ACTIVATION, {"elu", "elu_backward"}),
    ("selu", F.selu, ACTIVATION, {"elu", "elu_backward"}),
    ("celu", lambda x: F.celu(x, 0.5), ACTIVATION, {"elu", "elu_backward"}),
    ("gelu", F.gelu, ACTIVATION, {"gelu", "gelu_backward"}),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), ACTIVATION,
     {"gelu_tanh", "gelu_tanh_backward"}),
    ("silu", F.silu, ACTIVATION, {"silu", "silu_backward"}),
    ("softplus", F.softplus, ACTIVATION, {"softplus", "softplus_backward"}),
    ("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=5.0), ACTIVATION,
     {"softplus", "softplus_backward"}),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 1.5), ACTIVATION, {"hardtanh_backward"}),
    ("relu6", F.relu6, ACTIVATION, {"hardtanh_backward"}),
    ("batch_norm", _batch_norm, _normal((6, 3, 4, 5), (3,), (3,)),
     {"batch_norm_scale", "batch_norm_grad_coefficients", "batch_norm_running_"}),
    ("layer_norm", _layer_norm, _normal((4, 3, 6), (6,), (6,)), {"standardize_backward"}),
    ("group_norm", _group_norm, _normal((3, 4, 5)), {"standardize_backward"}),
    ("softmax", lambda x: F.softmax(x, dim=1), _normal((5, 7)),
     {"exp_difference", "softmax_backward"}),
    ("log_softmax", lambda x: F.log_softmax(x, dim=1), _normal((5, 7)),
     {"log_softmax_backward"}),
    ("cross_entropy", _cross_entropy, _normal((6, 7)), {"exp_difference", "scaled_softmax"}),
    ("lstm_cell_step", ember.lstm_cell_step, _normal((4, 12), (4, 3)),
     {"lstm_cell", "lstm_cell_backward"}),
    ("gru_cell_step", ember.gru_cell_step, _normal((4, 9), (4, 9), (4, 3)),
     {"gru_cell", "gru_cell_backward"}),
    ("lstm_layer", ember.lstm_layer, GATES, {"lstm_layer_step", "lstm_layer_step_backward"}),
    ("lstm_layer_reverse", lambda *a: ember.lstm_layer(*a, reverse=True), GATES,
     {"lstm_layer_step", "lstm_layer_step_backward"}),
]
IDS = [case[0] for case in CASES]
ACTIVATION_CASES = [case for case in CASES if case[2] is ACTIVATION]


def _run(fn, arrays, device, dtype, upstream_seed=7):
    """The outputs and the inputs' gradients of ``sum(fn(inputs) * upstream)`` as numpy (edge
    values overflow on purpose: numpy's warnings are silenced)."""
    inputs = [ember.tensor(a, device=device, requires_grad=True) for a in arrays]
    with np.errstate(all="ignore"):
        return _outputs_and_gradients(fn, inputs, device, dtype, upstream_seed)


def _outputs_and_gradients(fn, inputs, device, dtype, upstream_seed):
    outputs = fn(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    differentiable = [out for out in outputs if out.requires_grad]
    rng = np.random.default_rng(upstream_seed)
    upstream = [ember.tensor(rng.standard_normal(tuple(out.shape)).astype(dtype), device=device)
                for out in differentiable]
    terms = [(out * up).sum() for out, up in zip(differentiable, upstream)]
    loss = terms[0]
    for term in terms[1:]:
        loss = loss + term
    loss.backward()
    return ([out.detach().cpu().numpy() for out in outputs]
            + [t.grad.cpu().numpy() for t in inputs])


# ---- CPU: the array code runs, the call sites fit their kernels ---------------------------


def test_numpy_arrays_take_the_array_code_and_compile_nothing(monkeypatch):
    monkeypatch.setattr(fused_kernels, "_compile", lambda name: pytest.fail("compiled " + name))
    x = np.array([-1.0, 2.0])
    calls = []

    def fallback(*args):
        calls.append(args)
        return "array code"

    assert fused_kernels.fused("elu", (x, 1.0), fallback, "a", x) == "array code"
    assert fused_kernels.fused("elu", (np.float64(2.0), 1.0), fallback) == "array code"
    assert calls == [("a", x), ()]


def _parameters(spec):
    return [part.split()[-1] for part in spec.split(",") if part.strip()]


class KernelCalls:
    """Records the ``fused`` calls of the op modules (kernel name and arguments) and which of
    them took the array code; not the calls the array code makes itself (GELU's erf), which a
    GPU running the kernel never makes."""

    def __init__(self, monkeypatch):
        self.calls, self.fallbacks = [], []
        self.inside_array_code = 0
        self.real_fused = fused_kernels.fused
        # fused_kernels' own: the FusedByModule tables of sigmoid and tanh call it on a GPU
        for module in OP_MODULES + [dropout_module, fused_kernels]:
            monkeypatch.setattr(module, "fused", self.fused)

    def fused(self, kernel, args, fallback, *fallback_args):
        if self.inside_array_code:
            return fallback(*fallback_args)
        self.calls.append((kernel, args))

        def array_code(*arguments):
            self.fallbacks.append(kernel)
            self.inside_array_code += 1
            try:
                return fallback(*arguments)
            finally:
                self.inside_array_code -= 1

        return self.real_fused(kernel, args, array_code, *fallback_args)

    @property
    def kernels(self) -> set:
        return {kernel for kernel, _ in self.calls}


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_call_sites_pass_their_kernel_its_parameters_in_one_dtype(case, dtype, monkeypatch):
    """Forward and backward call the expected kernels of KERNELS, each with the number of
    arguments it declares (its inputs, plus all its outputs or none) and every array of the
    inputs' dtype (else cupy would take the array code); on the CPU the array code runs."""
    name, fn, make, expected = case
    spy = KernelCalls(monkeypatch)
    _run(fn, make(np.random.default_rng(0), dtype), "cpu", dtype)
    if name in ("sigmoid", "tanh"):  # their FusedByModule tables call no kernel for numpy
        expected = set()
    assert spy.kernels == expected
    _check_arguments(spy, dtype)


# Batch norm's kernels on a GPU: its own branch there reads x - mean from x (no centered copy).
GPU_BATCH_NORM_KERNELS = {"batch_norm_scale", "batch_norm_normalize",
                          "batch_norm_grad_coefficients", "batch_norm_input_grad",
                          "batch_norm_running_"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=str)
def test_batch_norm_gpu_branch_calls_its_kernels(dtype, monkeypatch):
    """The GPU branch, taken here with numpy arrays (the module's numpy swapped out, as
    test_normalization's layout test does), calls its kernels with their parameters."""
    from ember.ops import normalization

    spy = KernelCalls(monkeypatch)
    monkeypatch.setattr(normalization, "np", None)
    _run(_batch_norm, _normal((6, 3, 4, 5), (3,), (3,))(np.random.default_rng(0), dtype), "cpu",
         dtype)
    assert spy.kernels == GPU_BATCH_NORM_KERNELS
    _check_arguments(spy, dtype)


def _check_arguments(spy, dtype):
    assert spy.fallbacks == [kernel for kernel, _ in spy.calls]
    for kernel, args in spy.calls:
        ins, outs, _ = fused_kernels.KERNELS[kernel]
        count_in, count_out = len(_parameters(ins)), len(_parameters(outs))
        allocates = kernel in fused_kernels._OUTPUT_SHAPES
        assert len(args) in ((count_in,) if allocates else (count_in, count_in + count_out)), (
            kernel, len(args))
        assert fused_kernels._one_float_dtype(args, np.dtype(dtype)), (
            kernel, [getattr(a, "dtype", type(a)) for a in args])
        if allocates:
            assert len(fused_kernels._OUTPUT_SHAPES[kernel](*args)) == count_out


@pytest.mark.parametrize("op, part, arrays", [("sigmoid", "forward", 1),
                                              ("sigmoid", "backward", 2),
                                              ("tanh", "backward", 2)])
def test_fused_tables_give_a_gpu_the_kernel_over_the_ops_arrays(op, part, arrays, monkeypatch):
    """The entry a GPU's array module gets calls its kernel over exactly the arrays the op
    passes (a module standing in for cupy: on numpy arrays the kernel's call takes the array
    code) and computes the numpy entry's values."""
    from ember.ops import elementwise
    from ember.tensor.registry import PRIMITIVES

    spy = KernelCalls(monkeypatch)
    monkeypatch.setattr(elementwise, "_ARRAY_MATH", {})  # keeps the stand-in out of the cache
    table = PRIMITIVES[op].fused_tables[part]
    stand_in = types.ModuleType("cupy_stand_in")
    stand_in.__dict__.update({k: v for k, v in vars(np).items() if not k.startswith("__")})
    args = [np.random.default_rng(i).standard_normal((3, 4)).astype(np.float32)
            for i in range(arrays)]
    try:
        got = table[stand_in](*args)
    finally:
        table.pop(stand_in, None)
    assert [kernel for kernel, _ in spy.calls] == [table.name]
    assert len(spy.calls[0][1]) == arrays == len(_parameters(fused_kernels.KERNELS[table.name][0]))
    np.testing.assert_array_equal(got, table[np](*args))


def test_relu_array_backward_calls_its_kernel(monkeypatch):
    spy = KernelCalls(monkeypatch)
    x = ember.tensor([-1.0, 0.0, 2.0, np.nan], requires_grad=True)
    node = F.relu(x).grad_fn
    grad = np.array([5.0, 6.0, 7.0, 8.0])
    np.testing.assert_array_equal(node.backward_arrays(node, grad), [0.0, 0.0, 7.0, 8.0])
    assert spy.kernels == {"relu_backward"} and len(spy.calls[0][1]) == 2


def test_every_kernel_has_a_call_site():
    covered = set().union(*(case[3] for case in CASES)) | {"dropout_mask"} | GPU_BATCH_NORM_KERNELS
    assert covered == set(fused_kernels.KERNELS)


def test_dropout_mask_calls_its_kernel_with_its_parameters(monkeypatch):
    spy = KernelCalls(monkeypatch)
    out = F.dropout(ember.ones(1000, dtype=ember.float32), p=0.25)
    assert set(np.unique(out.numpy())) <= {0.0, np.float32(1 / 0.75)}
    ((kernel, args),) = spy.calls
    assert kernel == "dropout_mask" and len(args) == 3
    assert fused_kernels._one_float_dtype(args, np.dtype(np.float32))


# ---- cuda: the kernels against the CPU path -----------------------------------------------


# GPU and CPU math libraries differ by an ulp or two, the GPU contracts a * b + c into one
# rounding, and sums run in another order: loose enough for that, far below any formula error.
TOLERANCES = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12),
              np.float16: dict(rtol=4e-3, atol=2e-3)}


def _compare(got, want, dtype, what):
    for index, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == b.dtype and a.shape == b.shape, (what, index)
        np.testing.assert_allclose(a, b, equal_nan=True, err_msg=f"{what} [{index}]",
                                   **TOLERANCES[dtype])


@cuda
@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_kernels_match_the_cpu_path(case, dtype, monkeypatch):
    name, fn, make, expected = case
    arrays = make(np.random.default_rng(0), dtype)
    spy = KernelCalls(monkeypatch)
    got = _run(fn, arrays, "cuda", dtype)
    if name == "batch_norm":  # its own branch on a GPU
        expected = GPU_BATCH_NORM_KERNELS
    assert spy.kernels == expected and not spy.fallbacks, (spy.kernels, spy.fallbacks)
    _compare(got, _run(fn, arrays, "cpu", dtype), dtype, name)


@cuda
@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=[case[0] for case in ACTIVATION_CASES])
def test_cuda_activation_kernels_in_float16(case):
    name, fn, _, _ = case
    x = (np.random.default_rng(0).standard_normal(64) * 3).astype(np.float16)
    want = _run(fn, [x.astype(np.float32)], "cpu", np.float32)
    _compare(_run(fn, [x], "cuda", np.float16), [a.astype(np.float16) for a in want],
             np.float16, name)


@cuda
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cuda_kernels_gradcheck_in_float64(case):
    name, fn, make, _ = case
    arrays = make(np.random.default_rng(3), np.float64)
    if make is ACTIVATION:  # finite points, none within the finite difference of a kink
        arrays = [np.random.default_rng(3).uniform(-4, 4, 9) + 0.01]
    inputs = [ember.tensor(a, device="cuda", requires_grad=True) for a in arrays]
    ember.autograd.gradcheck(lambda *t: fn(*t)[0] if name == "batch_norm" else fn(*t), inputs)


@cuda
def test_cuda_dropout_mask_matches_the_array_code():
    draws = ember.rand(10_000, device="cuda", dtype=ember.float32)._array
    scale = np.float32(1 / 0.7)
    got = fused_kernels.fused("dropout_mask", (draws, 0.3, scale), pytest.fail)
    want = dropout_module._keep_mask(draws.get(), 0.3, scale)
    np.testing.assert_array_equal(got.get(), want)
    assert got.dtype == want.dtype


@cuda
def test_cuda_batch_norm_blocks_and_running_statistics():
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((32, 8, 6, 6)).astype(np.float32) * 3 + 1,
              rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)]
    _compare(_run(_batch_norm, arrays, "cuda", np.float32),
             _run(_batch_norm, arrays, "cpu", np.float32), np.float32, "batch_norm")
