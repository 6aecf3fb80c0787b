"""The update math of each optimizer, on raw numpy/cupy arrays, in place.

Each function takes one parameter's arrays (``param``, ``grad`` and its state buffers) and
scalar options, updates ``param`` and the buffers in place, and never writes into ``grad``.
They follow PyTorch's documented algorithms operation for operation; in-place ufuncs with
``out=`` keep each update to at most one or two temporary arrays. No graph is recorded: these
see arrays, not tensors. Temporaries that later take ``out=`` are allocated with ``empty_like``
first: numpy returns a 0-d parameter's ufunc result as a scalar, which ``out=`` rejects.
"""

from __future__ import annotations

import math

import numpy as np

_BLOCK_ELEMENTS = 1 << 16  # 256 KB of float32: stays in cache


def _subtract_scaled(xp, param, scale: float, update) -> None:
    """``param -= scale * update`` in place. On the CPU a large contiguous parameter goes a block
    at a time through one small buffer instead of a parameter-sized temporary (the LSTM LM's
    SGD step, 4.25M parameters: 4.5 -> 3.3 ms); the values are the same."""
    if (xp is not np or param.size <= _BLOCK_ELEMENTS or not param.flags.c_contiguous
            or not update.flags.c_contiguous or update.shape != param.shape
            or update.dtype != param.dtype):
        param -= scale * update
        return
    flat, steps = param.reshape(-1), update.reshape(-1)
    buffer = np.empty(_BLOCK_ELEMENTS, dtype=param.dtype)
    for first in range(0, flat.size, _BLOCK_ELEMENTS):
        end = min(flat.size, first + _BLOCK_ELEMENTS)
        flat[first:end] -= np.multiply(steps[first:end], scale, out=buffer[:end - first])


def _direction(xp, param, grad, weight_decay: float, maximize: bool):
    """``grad`` (negated to maximize) plus ``weight_decay * param``: ``grad`` itself if neither.

    A new array whenever it differs from ``grad``, so callers may overwrite it only then.
    """
    if weight_decay:
        direction = xp.multiply(param, weight_decay, out=xp.empty_like(param))
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
    _subtract_scaled(xp, param, lr, direction)
    return momentum_buffer


def adam(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step: float, *, lr, beta1, beta2,
         eps, weight_decay, decoupled_weight_decay, maximize):
    """Adam (Kingma & Ba), with AMSGrad when ``max_exp_avg_sq`` is given; AdamW when decoupled.

    ``step`` is the count after this update (1 on the first step).
    """
    grad = _decay(xp, param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
    scratch = _moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2)
    bias_correction2_sqrt, step_size = adam_scalars(step, lr=lr, beta1=beta1, beta2=beta2)
    if max_exp_avg_sq is not None:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second_moment = max_exp_avg_sq
    else:
        second_moment = exp_avg_sq
    denom = xp.sqrt(second_moment, out=scratch)
    denom /= bias_correction2_sqrt
    denom += eps
    xp.divide(exp_avg, denom, out=denom)
    denom *= step_size
    param -= denom


def adam_scalars(step: float, *, lr, beta1, beta2) -> tuple[float, float]:
    """Adam's ``sqrt(1 - beta2^t)`` and step size ``lr / (1 - beta1^t)`` at step ``t``."""
    return math.sqrt(1 - beta2**step), lr / (1 - beta1**step)


def adagrad_lr(lr: float, lr_decay: float, step: float) -> float:
    """Adagrad's learning rate at step ``t``: ``lr / (1 + (t - 1) * lr_decay)``."""
    return lr / (1 + (step - 1) * lr_decay)


def rmsprop(xp, param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
            weight_decay, momentum, maximize):
    """RMSprop (Hinton), centered when ``grad_avg`` is given, with momentum when it is given."""
    grad = _direction(xp, param, grad, weight_decay, maximize)
    square_avg *= alpha
    scratch = xp.multiply(grad, grad, out=xp.empty_like(param))
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
    clr = adagrad_lr(lr, lr_decay, step)
    scratch = xp.multiply(grad, grad, out=xp.empty_like(param))
    state_sum += scratch
    std = xp.sqrt(state_sum, out=scratch)
    std += eps
    xp.divide(grad, std, out=std)
    std *= clr
    param -= std


def _decay(xp, param, grad, lr, weight_decay, decoupled: bool, maximize: bool):
    """The gradient direction after weight decay: decoupled decay shrinks ``param`` in place
    (``p *= 1 - lr * wd``, AdamW-style), L2 decay is added to the gradient."""
    if decoupled:
        if weight_decay:
            param *= 1 - lr * weight_decay
        return xp.negative(grad) if maximize else grad
    return _direction(xp, param, grad, weight_decay, maximize)


def _moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2):
    """Adam's moment updates in place: ``m.lerp_(g, 1 - beta1)``, ``v = beta2 v + (1-beta2) g^2``.

    Returns a scratch array the caller may overwrite.
    """
    scratch = xp.subtract(grad, exp_avg, out=xp.empty_like(exp_avg))
    scratch *= 1 - beta1
    exp_avg += scratch
    exp_avg_sq *= beta2
    xp.multiply(grad, grad, out=scratch)
    scratch *= 1 - beta2
    exp_avg_sq += scratch
    return scratch


def nadam(xp, param, grad, exp_avg, exp_avg_sq, step: float, mu_product_state, *, lr, beta1,
          beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize):
    """NAdam (Dozat, 2016) with PyTorch's momentum schedule
    ``mu_t = beta1 (1 - 0.5 * 0.96^(t * momentum_decay))``.

    ``mu_product_state`` (a 0-d host array, float32 as PyTorch's) holds the product of
    ``mu_1 .. mu_{t-1}`` and is multiplied by ``mu_t`` in place before use.
    """
    grad = _decay(xp, param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
    bias_correction2, grad_step, momentum_step = nadam_scalars(
        step, mu_product_state, lr=lr, beta1=beta1, beta2=beta2, momentum_decay=momentum_decay)
    denom = _moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2)
    xp.divide(exp_avg_sq, bias_correction2, out=denom)
    xp.sqrt(denom, out=denom)
    denom += eps
    param -= grad / denom * grad_step
    param -= exp_avg / denom * momentum_step


def nadam_scalars(step: float, mu_product_state, *, lr, beta1, beta2,
                  momentum_decay) -> tuple[float, float, float]:
    """NAdam's host scalars at step ``t``: multiplies ``mu_product_state`` by ``mu_t`` in place
    and returns ``1 - beta2^t`` and the step sizes of the gradient and of the momentum."""
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product_state *= mu
    mu_product = mu_product_state.item()
    return (1 - beta2**step, lr * (1.0 - mu) / (1.0 - mu_product),
            lr * mu_next / (1.0 - mu_product * mu_next))


def radam(xp, param, grad, exp_avg, exp_avg_sq, step: float, *, lr, beta1, beta2, eps,
          weight_decay, decoupled_weight_decay, maximize):
    """RAdam (Liu et al., 2020): Adam whose adaptive term is rectified, and left out while the
    variance of the adaptive learning rate is intractable (``rho_t <= 5``)."""
    grad = _decay(xp, param, grad, lr, weight_decay, decoupled_weight_decay, maximize)
    scratch = _moments(xp, grad, exp_avg, exp_avg_sq, beta1, beta2)
    rectified, step_size = radam_scalars(step, lr=lr, beta1=beta1, beta2=beta2)
    if rectified:
        denom = xp.sqrt(exp_avg_sq, out=scratch)
        denom += eps
        xp.divide(exp_avg, denom, out=denom)
        denom *= step_size
        param -= denom
    else:
        xp.multiply(exp_avg, step_size, out=scratch)
        param -= scratch


def radam_scalars(step: float, *, lr, beta1, beta2) -> tuple[bool, float]:
    """Whether RAdam's adaptive term is on at step ``t`` (``rho_t > 5``), and the step size:
    ``lr * r_t * sqrt(1 - beta2^t) / (1 - beta1^t)`` with it, ``lr / (1 - beta1^t)`` without."""
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        return True, lr * rect * math.sqrt(bias_correction2) / bias_correction1
    return False, lr / bias_correction1


def adamax(xp, param, grad, exp_avg, exp_inf, step: float, *, lr, beta1, beta2, eps,
           weight_decay, maximize):
    """Adamax (Kingma & Ba, 2015): Adam with the infinity norm,
    ``u = max(beta2 u, |g| + eps)``, ``p -= lr / (1 - beta1^t) * m / u``."""
    grad = _direction(xp, param, grad, weight_decay, maximize)
    scratch = xp.subtract(grad, exp_avg, out=xp.empty_like(exp_avg))
    scratch *= 1 - beta1
    exp_avg += scratch
    exp_inf *= beta2
    xp.abs(grad, out=scratch)
    scratch += eps
    xp.maximum(exp_inf, scratch, out=exp_inf)
    xp.divide(exp_avg, exp_inf, out=scratch)
    scratch *= lr / (1 - beta1**step)
    param -= scratch


def adadelta(xp, param, grad, square_avg, acc_delta, *, lr, rho, eps, weight_decay, maximize):
    """Adadelta (Zeiler, 2012): ``v = rho v + (1-rho) g^2``;
    ``delta = sqrt(u + eps) / sqrt(v + eps) * g``; ``u = rho u + (1-rho) delta^2``;
    ``p -= lr * delta``."""
    grad = _direction(xp, param, grad, weight_decay, maximize)
    square_avg *= rho
    square_avg += (1 - rho) * (grad * grad)
    delta = xp.sqrt(acc_delta + eps)
    delta /= xp.sqrt(square_avg + eps)
    delta *= grad
    acc_delta *= rho
    acc_delta += (1 - rho) * (delta * delta)
    delta *= lr
    param -= delta


def asgd(xp, param, grad, ax, step: float, eta: float, mu: float, *, lr, lambd, alpha, t0,
         weight_decay, maximize):
    """Averaged SGD (Polyak & Juditsky, 1992) as PyTorch: ``p *= 1 - lambd * eta``;
    ``p -= eta * g``; ``ax`` averages ``p`` from step ``t0`` on.

    Returns the next ``(eta, mu)``.
    """
    grad = _direction(xp, param, grad, weight_decay, maximize)
    param *= 1 - lambd * eta
    param -= eta * grad
    if mu != 1:
        ax += (param - ax) * mu
    else:
        ax[...] = param
    return asgd_next(step, lr=lr, lambd=lambd, alpha=alpha, t0=t0)


def asgd_next(step: float, *, lr, lambd, alpha, t0) -> tuple[float, float]:
    """ASGD's ``eta`` and ``mu`` for the step after step ``t``."""
    return lr / (1 + lambd * lr * step) ** alpha, 1 / max(1, step - t0)
