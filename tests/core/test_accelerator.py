"""``ember.accelerator``, the ``Tensor.is_*`` device queries and ``ember.backends``, as PyTorch's.

On a CPU-only machine PyTorch's answers are: no accelerator (None, False, 0), ``synchronize`` a
no-op, ``current_device_index`` an error; with cupy and a GPU, CUDA is the accelerator.
"""

import warnings

import pytest

import ember
from ember import nn

HAS_GPU = ember.cuda.is_available()


def test_selection_idiom_picks_the_accelerator_or_the_cpu():
    # The program pattern, verbatim but for the import:
    device = (ember.accelerator.current_accelerator() if ember.accelerator.is_available()
              else ember.device("cpu"))
    model = nn.Linear(3, 2).to(device)
    out = model(ember.ones(4, 3, device=device))
    assert out.device == device and next(model.parameters()).device == device
    assert device == (ember.device("cuda") if HAS_GPU else ember.device("cpu"))


@pytest.mark.skipif(HAS_GPU, reason="PyTorch's answers without an accelerator")
def test_without_an_accelerator():
    assert ember.accelerator.is_available() is False
    assert ember.accelerator.current_accelerator() is None
    assert ember.accelerator.current_accelerator(check_available=True) is None
    assert ember.accelerator.device_count() == 0
    assert ember.accelerator.memory_allocated() == 0
    ember.accelerator.synchronize()  # no-op, as PyTorch's when none is initialised
    ember.accelerator.empty_cache()
    with ember.accelerator.device_index(None):  # switches nothing
        pass
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is "
                                           "available"):
        ember.accelerator.current_device_index()


@pytest.mark.cuda
def test_with_cuda_the_accelerator_is_cuda():
    assert ember.accelerator.is_available() and ember.accelerator.device_count() >= 1
    assert ember.accelerator.current_accelerator().type == "cuda"
    assert ember.accelerator.current_device_index() == 0
    with ember.accelerator.device_index(0):
        x = ember.ones(2, device=ember.accelerator.current_accelerator())
    ember.accelerator.synchronize()
    ember.accelerator.synchronize("cuda:0")
    assert ember.accelerator.memory_allocated() >= x.nbytes
    with pytest.raises(ValueError, match="cpu does not match the current accelerator type cuda"):
        ember.accelerator.set_device_index("cpu")


@pytest.mark.cuda
def test_deprecated_index_names_warn():
    with pytest.warns(FutureWarning, match="current_device_index"):
        assert ember.accelerator.current_device_idx() == 0
    with pytest.warns(FutureWarning, match="set_device_index"):
        ember.accelerator.set_device_idx(0)


def test_tensor_device_queries(device):
    x = ember.zeros(2, device=device)
    on_gpu = device.type == "cuda"
    assert (x.is_cuda, x.is_cpu) == (on_gpu, not on_gpu)
    # Ember has none of these kinds of tensor: PyTorch's answer for a dense CPU/CUDA tensor.
    for name in ("is_mps", "is_meta", "is_sparse", "is_sparse_csr", "is_quantized", "is_mkldnn",
                 "is_xpu", "is_nested"):
        assert getattr(x, name) is False, name


def test_device_queries_are_plain_read_only_properties():
    x = ember.zeros(1)
    with pytest.raises(AttributeError):
        x.is_cpu = False
    with pytest.raises(AttributeError):
        x.is_sparse = True


def test_backends_queries():
    assert ember.backends.mps.is_available() is False and ember.backends.mps.is_built() is False
    assert ember.backends.cpu.get_cpu_capability() in (
        "AVX512", "AVX2", "NEON", "VSX", "ZVECTOR", "DEFAULT")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ember.backends.cudnn.is_available() is False
