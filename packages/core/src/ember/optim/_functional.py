"""The update math of each optimizer, on raw numpy/cupy arrays, in place.

Each function takes one parameter's arrays (``param``, ``grad`` and its state buffers) and
scalar options, updates ``param`` and the buffers in place, and never writes into ``grad``.
They follow PyTorch's documented algorithms operation for operation; in-place ufuncs with
``out=`` keep each update to at most one or two temporary arrays. No graph is recorded: these
see arrays, not tensors.
"""

from __future__ import annotations

import math


def _direction(xp, param, grad, weight_decay: float, maximize: bool):
    """``grad`` (negated to maximize) plus ``weight_decay * param``: ``grad`` itself if neither.

    A new array whenever it differs from ``grad``, so callers may overwrite it only then.
    """
    if weight_decay:
        direction = xp.multiply(param, weight_decay)
        if maximize:
            xp.subtract(direction, grad, out=direction)
        else:
            xp.add(grad, direction, out=direction)
        return direction
    if maximize:
        return xp.negative(grad)
    return grad


def sgd(xp, param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov,
        maximize):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Returns:
        The momentum buffer: ``momentum_buffer``, or a new one on the first step (None without
        momentum). The caller keeps a new buffer in the optimizer's state.
    """
    direction = _direction(xp, param, grad, weight_decay, maximize)
    if momentum:
        if momentum_buffer is None:
            momentum_buffer = direction.copy()
        else:
            momentum_buffer *= momentum
            if dampening:
                momentum_buffer += (1 - dampening) * direction
            else:
                momentum_buffer += direction
        if nesterov:
            update = momentum_buffer * momentum
            update += direction
            direction = update
        else:
            direction = momentum_buffer
    param -= lr * direction
    return momentum_buffer


def adam(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step: float, *, lr, beta1, beta2,
         eps, weight_decay, decoupled_weight_decay, maximize):
    """Adam (Kingma & Ba), with AMSGrad when ``max_exp_avg_sq`` is given; AdamW when decoupled.

    ``step`` is the count after this update (1 on the first step).
    """
    if decoupled_weight_decay:
        param *= 1 - lr * weight_decay
        grad = xp.negative(grad) if maximize else grad
    else:
        grad = _direction(xp, param, grad, weight_decay, maximize)
    # exp_avg.lerp_(grad, 1 - beta1), as PyTorch: m += (g - m) * (1 - beta1)
    scratch = xp.subtract(grad, exp_avg)
    scratch *= 1 - beta1
    exp_avg += scratch
    exp_avg_sq *= beta2
    xp.multiply(grad, grad, out=scratch)
    scratch *= 1 - beta2
    exp_avg_sq += scratch
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = math.sqrt(1 - beta2**step)
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second_moment = max_exp_avg_sq
    else:
        second_moment = exp_avg_sq
    denom = xp.sqrt(second_moment, out=scratch)
    denom /= bias_correction2_sqrt
    denom += eps
    xp.divide(exp_avg, denom, out=denom)
    denom *= lr / bias_correction1
    param -= denom


def rmsprop(xp, param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
            weight_decay, momentum, maximize):
    """RMSprop (Hinton), centered when ``grad_avg`` is given, with momentum when it is given."""
    grad = _direction(xp, param, grad, weight_decay, maximize)
    square_avg *= alpha
    scratch = xp.multiply(grad, grad)
    scratch *= 1 - alpha
    square_avg += scratch
    if grad_avg is not None:
        # grad_avg.lerp_(grad, 1 - alpha); avg = sqrt(square_avg - grad_avg^2)
        xp.subtract(grad, grad_avg, out=scratch)
        scratch *= 1 - alpha
        grad_avg += scratch
        xp.multiply(grad_avg, grad_avg, out=scratch)
        xp.subtract(square_avg, scratch, out=scratch)
        avg = xp.sqrt(scratch, out=scratch)
    else:
        avg = xp.sqrt(square_avg, out=scratch)
    avg += eps
    xp.divide(grad, avg, out=avg)
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += avg
        xp.multiply(momentum_buffer, lr, out=avg)
    else:
        avg *= lr
    param -= avg


def adagrad(xp, param, grad, state_sum, step: float, *, lr, lr_decay, weight_decay, eps,
            maximize):
    """Adagrad (Duchi et al.) with learning-rate decay ``lr / (1 + (step - 1) * lr_decay)``."""
    grad = _direction(xp, param, grad, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    scratch = xp.multiply(grad, grad)
    state_sum += scratch
    std = xp.sqrt(state_sum, out=scratch)
    std += eps
    xp.divide(grad, std, out=std)
    std *= clr
    param -= std
