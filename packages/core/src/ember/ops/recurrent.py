"""Fused recurrent cell updates: the elementwise part of an LSTM or GRU step as one op.

The matrix products stay outside (so a layer can project all time steps' inputs in one product);
``lstm_cell`` and ``gru_cell`` take the pre-activation gates and do the rest in one node instead
of a dozen, which is what makes recurrent nets fast in Python. Their Tensor backward recomputes
the step with ordinary ops (differentiable again); the array backward is the closed form.
Gate order follows PyTorch: LSTM (input, forget, cell, output), GRU (reset, update, new).
"""

from __future__ import annotations

from ember.autograd.function import Function
from ember.ops.op import op, primitive


def _sigmoid(xp, x):
    return 0.5 * (xp.tanh(0.5 * x) + 1.0)  # stable for large |x|, one transcendental


@primitive("lstm_cell")
class LSTMCellStep(Function):
    """(gates (N, 4H), c (N, H)) -> (h', c')."""

    @staticmethod
    def forward(ctx, gates, c):
        xp = ctx.xp
        hidden = c.shape[-1]
        act = _sigmoid(xp, gates)
        act[..., 2 * hidden:3 * hidden] = xp.tanh(gates[..., 2 * hidden:3 * hidden])
        i, f = act[..., :hidden], act[..., hidden:2 * hidden]
        g, o = act[..., 2 * hidden:3 * hidden], act[..., 3 * hidden:]
        c_next = f * c + i * g
        tanh_c = xp.tanh(c_next)
        ctx.save_for_backward(gates, c, act, tanh_c)
        return o * tanh_c, c_next

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        gates, c, _, _ = ctx.saved_tensors
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        tanh_c = (f * c + i * g).tanh()
        d_c = grad_c + grad_h * o * (1 - tanh_c * tanh_c)
        d_gates = [d_c * g * i * (1 - i), d_c * c * f * (1 - f), d_c * i * (1 - g * g),
                   grad_h * tanh_c * o * (1 - o)]
        return _cat(d_gates), d_c * f

    @staticmethod
    def backward_arrays(ctx, grad_h, grad_c):
        _, c, act, tanh_c = ctx.saved_arrays
        xp = ctx.xp
        hidden = c.shape[-1]
        i, f = act[..., :hidden], act[..., hidden:2 * hidden]
        g, o = act[..., 2 * hidden:3 * hidden], act[..., 3 * hidden:]
        d_c = grad_c + grad_h * o * (1 - tanh_c * tanh_c)
        d_gates = xp.empty(act.shape, dtype=act.dtype)
        d_gates[..., :hidden] = d_c * g * i * (1 - i)
        d_gates[..., hidden:2 * hidden] = d_c * c * f * (1 - f)
        d_gates[..., 2 * hidden:3 * hidden] = d_c * i * (1 - g * g)
        d_gates[..., 3 * hidden:] = grad_h * tanh_c * o * (1 - o)
        return d_gates, d_c * f


@primitive("gru_cell")
class GRUCellStep(Function):
    """(input gates (N, 3H), hidden gates (N, 3H), h (N, H)) -> h'.

    The hidden gates include the hidden bias: PyTorch's new gate is
    ``tanh(x_n + r * (W_hn h + b_hn))``.
    """

    @staticmethod
    def forward(ctx, gates_x, gates_h, h):
        xp = ctx.xp
        hidden = h.shape[-1]
        rz = _sigmoid(xp, gates_x[..., :2 * hidden] + gates_h[..., :2 * hidden])
        r, z = rz[..., :hidden], rz[..., hidden:]
        n = xp.tanh(gates_x[..., 2 * hidden:] + r * gates_h[..., 2 * hidden:])
        ctx.save_for_backward(gates_x, gates_h, h, rz, n)
        return n + z * (h - n)

    @staticmethod
    def backward(ctx, grad):
        gates_x, gates_h, h, _, _ = ctx.saved_tensors
        x_r, x_z, x_n = gates_x.chunk(3, dim=-1)
        h_r, h_z, h_n = gates_h.chunk(3, dim=-1)
        r, z = (x_r + h_r).sigmoid(), (x_z + h_z).sigmoid()
        n = (x_n + r * h_n).tanh()
        d_n = grad * (1 - z) * (1 - n * n)
        d_r = d_n * h_n * r * (1 - r)
        d_z = grad * (h - n) * z * (1 - z)
        return _cat([d_r, d_z, d_n]), _cat([d_r, d_z, d_n * r]), grad * z

    @staticmethod
    def backward_arrays(ctx, grad):
        _, gates_h, h, rz, n = ctx.saved_arrays
        xp = ctx.xp
        hidden = h.shape[-1]
        r, z = rz[..., :hidden], rz[..., hidden:]
        d_gates_x = xp.empty(gates_h.shape, dtype=gates_h.dtype)
        d_n = grad * (1 - z) * (1 - n * n)
        d_gates_x[..., :hidden] = d_n * gates_h[..., 2 * hidden:] * r * (1 - r)
        d_gates_x[..., hidden:2 * hidden] = grad * (h - n) * z * (1 - z)
        d_gates_x[..., 2 * hidden:] = d_n
        d_gates_h = d_gates_x.copy()
        d_gates_h[..., 2 * hidden:] *= r
        return d_gates_x, d_gates_h, grad * z


def _cat(parts):
    from ember.tensor.registry import lookup

    return lookup("cat")(parts, dim=-1)


@op("lstm_cell_step")
def lstm_cell_step(gates, c):
    """One LSTM update from pre-activation gates (N, 4H) and cell state (N, H): (h', c')."""
    if gates.shape[-1] != 4 * c.shape[-1] or gates.shape[:-1] != c.shape[:-1]:
        raise RuntimeError(f"lstm_cell_step: gates of shape {tuple(gates.shape)} do not match "
                           f"cell state of shape {tuple(c.shape)} (expected (..., 4 * H))")
    return LSTMCellStep.apply(gates, c)


@op("gru_cell_step")
def gru_cell_step(gates_x, gates_h, h):
    """One GRU update from input gates, hidden gates (both (N, 3H)) and hidden state (N, H)."""
    if gates_x.shape != gates_h.shape or gates_x.shape[-1] != 3 * h.shape[-1]:
        raise RuntimeError(f"gru_cell_step: gates {tuple(gates_x.shape)} and "
                           f"{tuple(gates_h.shape)} do not match hidden state {tuple(h.shape)} "
                           "(expected (..., 3 * H))")
    return GRUCellStep.apply(gates_x, gates_h, h)
