"""Small PyTorch-compatibility surfaces and bad-input errors, each matching PyTorch's behaviour.

``ember.load``'s PyTorch arguments, ``ember.utils.data`` after ``import ember`` alone,
``ember.backends.cudnn`` flags, view/reshape sizes, and window arguments of conv and pooling.
"""

import io
import subprocess
import sys
import warnings

import pytest

import ember
import ember.nn.functional as F
from ember import nn


def _saved():
    buffer = io.BytesIO()
    ember.save({"weight": ember.ones(2, 3), "step": 7}, buffer)
    buffer.seek(0)
    return buffer


def test_load_accepts_pytorchs_arguments():
    # The ported scripts' `torch.load(path, map_location=device, weights_only=True)`.
    loaded = ember.load(_saved(), map_location="cpu", weights_only=True)
    assert loaded["step"] == 7 and loaded["weight"].shape == (2, 3)
    assert ember.load(_saved(), weights_only=None, mmap=True)["step"] == 7


@pytest.mark.parametrize("kwargs, named", [
    ({"weights_only": False}, "weights_only=False"),
    ({"pickle_module": object()}, "pickle_module"),
    ({"encoding": "latin1"}, "encoding=..."),
])
def test_load_refuses_to_unpickle(kwargs, named):
    with pytest.raises(ValueError, match=f"{named} asks for unpickling, which Ember never does"):
        ember.load(_saved(), **kwargs)


def test_import_ember_alone_makes_utils_data_usable():
    code = ("import ember; loader = ember.utils.data.DataLoader(ember.utils.data.TensorDataset("
            "ember.arange(4.0)), batch_size=2); print(len(list(loader)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "2"


def test_backends_cudnn_flags_are_accepted():
    cudnn = ember.backends.cudnn
    saved = (cudnn.benchmark, cudnn.deterministic, cudnn.enabled)
    try:
        cudnn.benchmark, cudnn.deterministic, cudnn.enabled = True, True, False
        assert (cudnn.benchmark, cudnn.deterministic, cudnn.enabled) == (True, True, False)
        with cudnn.flags(enabled=True, benchmark=False, deterministic=False):
            assert cudnn.enabled and not cudnn.benchmark
        assert not cudnn.enabled and cudnn.benchmark
    finally:
        cudnn.benchmark, cudnn.deterministic, cudnn.enabled = saved
    assert cudnn.is_available() is False and ember.backends.mps.is_available() is False


@pytest.mark.parametrize("method", ["view", "reshape"])
@pytest.mark.parametrize("shape, message", [
    ((-2, 3), "invalid shape dimension -2"),  # torch: RuntimeError, same wording
    ((2, -3), "invalid shape dimension -3"),
    ((-1, -1), "only one dimension can be inferred"),
])
def test_view_and_reshape_reject_bad_negative_sizes(method, shape, message):
    x = ember.arange(6.0)
    with pytest.raises(RuntimeError, match=message):
        getattr(x, method)(*shape)
    assert getattr(x, method)(-1, 3).shape == (2, 3)


X2 = ember.ones(1, 2, 6, 6)
X1 = ember.ones(1, 2, 6)
W2 = ember.ones(3, 2, 3, 3)
W1 = ember.ones(3, 2, 3)

# PyTorch raises RuntimeError for each: "non-positive stride is not supported", "dilation should
# be greater than zero", "negative padding is not supported", "kernel size should be greater
# than zero", "pad must be non-negative" ...
BAD_WINDOWS = {
    "conv2d-stride-0": (lambda: F.conv2d(X2, W2, stride=0), "stride must be greater than zero"),
    "conv2d-dilation-0": (lambda: F.conv2d(X2, W2, dilation=0),
                          "dilation must be greater than zero"),
    "conv2d-negative-padding": (lambda: F.conv2d(X2, W2, padding=(1, -1)),
                                "negative padding is not supported"),
    "conv2d-kernel-0": (lambda: F.conv2d(X2, ember.ones(3, 2, 0, 3)),
                        "kernel size must be greater than zero"),
    "conv1d-stride-0": (lambda: F.conv1d(X1, W1, stride=0), r"conv1d: stride must be greater"),
    "conv1d-negative-padding": (lambda: F.conv1d(X1, W1, padding=-2),
                                "conv1d: negative padding"),
    "conv_transpose2d-stride-0": (lambda: F.conv_transpose2d(X2, ember.ones(2, 3, 3, 3),
                                                             stride=0), "stride must be greater"),
    "conv_transpose2d-negative-output-padding": (
        lambda: F.conv_transpose2d(X2, ember.ones(2, 3, 3, 3), output_padding=-1),
        "negative output_padding"),
    "Conv2d-module-stride-0": (lambda: nn.Conv2d(2, 3, 3, stride=0)(X2),
                               "stride must be greater"),
    "Conv2d-module-kernel-0": (lambda: nn.Conv2d(2, 3, 0)(X2), "kernel size must be greater"),
    "Conv1d-module-dilation-0": (lambda: nn.Conv1d(2, 3, 3, dilation=0)(X1),
                                 "conv1d: dilation must be greater"),
    "max_pool2d-kernel-0": (lambda: F.max_pool2d(X2, 0), "kernel_size must be greater"),
    "max_pool2d-stride-0": (lambda: F.max_pool2d(X2, 2, stride=0), "stride must be greater"),
    "max_pool2d-dilation-0": (lambda: F.max_pool2d(X2, 2, dilation=0),
                              "dilation must be greater"),
    "max_pool2d-negative-padding": (lambda: F.max_pool2d(X2, 2, padding=-1),
                                    "negative padding"),
    "max_pool1d-stride-0": (lambda: F.max_pool1d(X1, 2, stride=0),
                            "max_pool1d: stride must be greater"),
    "avg_pool2d-negative-padding": (lambda: F.avg_pool2d(X2, 2, padding=-1), "negative padding"),
    "avg_pool1d-kernel-0": (lambda: F.avg_pool1d(X1, 0), "avg_pool1d: kernel_size must be"),
    "MaxPool2d-module-stride-0": (lambda: nn.MaxPool2d(2, stride=0)(X2),
                                  "stride must be greater"),
    "AvgPool2d-module-kernel-0": (lambda: nn.AvgPool2d(0)(X2), "kernel_size must be greater"),
}


@pytest.mark.parametrize("name", list(BAD_WINDOWS))
def test_bad_window_arguments_raise_runtime_error(name):
    call, message = BAD_WINDOWS[name]
    with pytest.raises(RuntimeError, match=message), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's warning for a zero-element weight's init
        call()
