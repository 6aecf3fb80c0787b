"""Ember: a define-by-run deep-learning framework on numpy and cupy, with PyTorch's API."""

from ember import accelerator, autograd, backend, backends, cuda, linalg, ops, return_types, special
from ember.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from ember.backend import Device as device
from ember.backend import Generator
from ember.ops import *  # noqa: F403  (every registered op: ember.add, ember.tanh ...)
from ember.sparse import sparse_coo_tensor, spmm
from ember.tensor import (
    Tensor,
    arange,
    as_tensor,
    dtype,
    empty,
    empty_like,
    eye,
    float16,
    float32,
    float64,
    from_dlpack,
    from_numpy,
    full,
    full_like,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    linspace,
    ones,
    ones_like,
    promote_types,
    result_type,
    set_default_dtype,
    tensor,
    uint8,
    zeros,
    zeros_like,
)
from ember.tensor.dtypes import bool_ as bool  # noqa: A001  (PyTorch's name: ember.bool)
from ember.tensor.dtypes import finfo, iinfo  # noqa: E402
from ember.tensor.legacy import *  # noqa: F403  (FloatTensor, LongTensor ...: legacy constructors)
from ember.tensor.random import *  # noqa: F403  (rand, randn, manual_seed ...)

float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16

__version__ = "0.1.0"

from ember.serialization import load, save  # noqa: E402


def __getattr__(name: str):
    # The higher layers load on first use, keeping `import ember` light.
    if name in ("nn", "optim", "utils", "distributions", "distributed", "hub", "profiler", "jit",
                "onnx"):
        import importlib

        return importlib.import_module(f"ember.{name}")
    raise AttributeError(f"module 'ember' has no attribute '{name}'")
