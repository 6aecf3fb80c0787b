"""The backend: devices, array modules (numpy | cupy) and per-device random generators."""

from ember.backend.arrays import (
    accumulate,
    grouped_matmul,
    index_add,
    index_reduce,
    masked,
    pin_memory,
)
from ember.backend.conv_kernels import col2im, im2col
from ember.backend.deferred import check_extremes, settle
from ember.backend.device import (
    CPU,
    Device,
    array_module,
    cuda_available,
    cuda_device_count,
    cupy_module,
    device_context,
    device_of,
    is_cupy_array,
    is_pinned,
    reading_waits,
    require_cupy,
    to_device,
    xp_of,
)
from ember.backend.float_warnings import ensure_float_warnings_hidden, hide_float_warnings
from ember.backend.fused_kernels import FusedByModule, fused
from ember.backend.pool_kernels import max_pool, max_pool_backward
from ember.backend.random import Generator, default_generator, manual_seed_all
from ember.backend.reduction_kernels import channel_sums

hide_float_warnings()

__all__ = [
    "CPU",
    "accumulate",
    "Device",
    "Generator",
    "array_module",
    "channel_sums",
    "check_extremes",
    "col2im",
    "cuda_available",
    "cuda_device_count",
    "cupy_module",
    "default_generator",
    "device_context",
    "device_of",
    "ensure_float_warnings_hidden",
    "fused",
    "FusedByModule",
    "grouped_matmul",
    "hide_float_warnings",
    "im2col",
    "index_add",
    "index_reduce",
    "is_cupy_array",
    "is_pinned",
    "manual_seed_all",
    "masked",
    "max_pool",
    "max_pool_backward",
    "pin_memory",
    "reading_waits",
    "require_cupy",
    "settle",
    "to_device",
    "xp_of",
]
