"""Reverse-mode automatic differentiation over the graph recorded as ops run."""

from ember.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from ember.autograd.custom import Function, FunctionCtx, once_differentiable
from ember.autograd.engine import queue_callback
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from ember.autograd.graph import RemovableHandle, backward, grad

__all__ = [
    "Function", "FunctionCtx", "GradcheckError", "RemovableHandle", "backward",
    "detect_anomaly", "enable_grad", "grad", "gradcheck", "gradgradcheck", "inference_mode",
    "is_anomaly_enabled", "is_grad_enabled", "no_grad", "once_differentiable", "queue_callback",
    "set_detect_anomaly",
    "set_grad_enabled",
]
