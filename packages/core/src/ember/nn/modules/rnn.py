"""Recurrent layers: RNN, LSTM and GRU over whole sequences, and their one-step cells.

Parameter names, shapes, initialisation and results follow PyTorch, so state_dicts load either
way. A layer projects the inputs of all time steps in one product per layer and direction; each
step then costs one product with the hidden state and one fused cell op (``lstm_cell_step``,
``gru_cell_step``), and the outputs are joined once at the end. ``PackedSequence`` inputs run
each step on the sequences still running at that step only.
"""

from __future__ import annotations

import math
import numbers
import warnings

from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence
from ember.ops.join import cat, stack
from ember.ops.recurrent import gru_cell_step, lstm_cell_step, lstm_layer
from ember.tensor.creation import empty, zeros
from ember.tensor.tensor import Tensor

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

# ---- one step of each kind ---------------------------------------------------------------------
# ``x`` is the step's projected input (N, G*H) and ``state`` a tuple: (h,) or (h, c). For RNN and
# LSTM layers the hidden bias is folded into ``x`` and ``bias_hh`` is None here.


def _tanh_step(x, state, weight_hh, bias_hh, weight_hr):
    return (F.tanh(x + F.linear(state[0], weight_hh, bias_hh)),)


def _relu_step(x, state, weight_hh, bias_hh, weight_hr):
    return (F.relu(x + F.linear(state[0], weight_hh, bias_hh)),)


def _lstm_step(x, state, weight_hh, bias_hh, weight_hr):
    h, c = lstm_cell_step(x + F.linear(state[0], weight_hh, bias_hh), state[1])
    if weight_hr is not None:
        h = F.linear(h, weight_hr)
    return h, c


def _gru_step(x, state, weight_hh, bias_hh, weight_hr):
    h = state[0]
    return (gru_cell_step(x, F.linear(h, weight_hh, bias_hh), h),)


_STEPS = {"RNN_TANH": _tanh_step, "RNN_RELU": _relu_step, "LSTM": _lstm_step, "GRU": _gru_step}
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _nonlinearity_mode(nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


def _check_hidden_size(hidden_size) -> None:
    if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
        raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")


def _init_uniform(module: Module, hidden_size: int) -> None:
    """PyTorch's recurrent initialisation: every parameter from U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound)


# ---- running one direction of one layer --------------------------------------------------------


def _resize(state: tuple, rows: int, initial: tuple, ended: list) -> tuple:
    """Fits a packed state to ``rows`` sequences: finished ones leave (into ``ended``), starting
    ones (reverse direction) join from ``initial``."""
    have = state[0].shape[0]
    if rows < have:
        pieces = [s.split([rows, have - rows], 0) for s in state]
        ended.append(tuple(piece[1] for piece in pieces))
        return tuple(piece[0] for piece in pieces)
    return tuple(cat([s, init[have:rows]], 0) for s, init in zip(state, initial))


def _run_direction(step, projected, state, weights, batch_sizes, reverse):
    """Runs ``step`` over the projected inputs of one direction.

    Args:
        projected: ``(T, N, G*H)`` or, packed, ``(sum(batch_sizes), G*H)``.
        state: the initial state tuple, each ``(N, *)`` in sorted order when packed.
        weights: ``(weight_hh, bias_hh or None, weight_hr or None)``.
        batch_sizes: None, or the packed rows of each step (a list of ints).

    Returns:
        outputs ``(T, N, H_out)`` (packed: ``(sum, H_out)``) and the final state tuple.
    """
    weight_hh, bias_hh, weight_hr = weights
    if batch_sizes is None and step is _lstm_step and bias_hh is None and weight_hr is None:
        output, h, c = lstm_layer(projected, state[0], state[1], weight_hh, reverse=reverse)
        return output, (h, c)  # the whole sequence as one fused node
    if batch_sizes is None:
        inputs = projected.unbind(0)
    else:
        inputs = projected.split(batch_sizes, 0)
    steps = len(inputs)
    outputs = [None] * steps
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    if batch_sizes is None:
        for t in order:
            state = step(inputs[t], state, weight_hh, bias_hh, weight_hr)
            outputs[t] = state[0]
        return stack(outputs, 0), state
    initial, ended = state, []
    if reverse:  # the backward direction starts with the sequences as long as the longest
        state = tuple(s[:batch_sizes[-1]] for s in state)
    for t in order:
        if batch_sizes[t] != state[0].shape[0]:
            state = _resize(state, batch_sizes[t], initial, ended)
        state = step(inputs[t], state, weight_hh, bias_hh, weight_hr)
        outputs[t] = state[0]
    if ended:  # sequences ended shortest last: rejoin them in sorted order
        state = tuple(cat([s, *[piece[i] for piece in reversed(ended)]], 0)
                      for i, s in enumerate(state))
    return cat(outputs, 0), state


# ---- the sequence layers -----------------------------------------------------------------------


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, checks, the layer/direction loop.

    Parameters per layer ``k`` and direction (suffix ``_reverse`` for the backward one):
    ``weight_ih_l{k}`` ``(G*H, I_k)``, ``weight_hh_l{k}`` ``(G*H, H_out)``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` ``(G*H,)`` and, for an LSTM with ``proj_size``, ``weight_hr_l{k}``
    ``(proj_size, H)``; ``G`` is 1 (RNN), 4 (LSTM) or 3 (GRU).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        if mode not in _STEPS:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        _check_hidden_size(hidden_size)
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        out_size = proj_size or hidden_size
        gate_size = _GATES[mode] * hidden_size
        self._all_weights = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, out_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for kind, shape in shapes.items():
                    setattr(self, kind + suffix, Parameter(empty(shape, device=device,
                                                                 dtype=dtype)))
                self._all_weights.append([kind + suffix for kind in shapes])
        self._flat_weights_names = [name for names in self._all_weights for name in names]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """A no-op kept for PyTorch scripts: the weights are separate arrays, never flattened."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters grouped per layer and direction, in PyTorch's order."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    # ---- forward ----------------------------------------------------------------------------

    def _check_input(self, input: Tensor, expected_dim: int) -> None:
        weight_dtype = self.weight_ih_l0.dtype
        if input.dtype != weight_dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight_dtype}). Convert input: input.to({weight_dtype}), or "
                             f"convert model: model.to({input.dtype})")
        if input.dim() != expected_dim:
            raise RuntimeError(f"input must have {expected_dim} dimensions, got {input.dim()}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def _state_shapes(self, batch: int) -> list:
        """The expected shape of each state tensor (h, then c for an LSTM)."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        return [(count, batch, self.proj_size or self.hidden_size)]

    def _split_hx(self, hx, batched: bool) -> list:
        """The given state as a list of tensors (h, then c for an LSTM); None if not given."""
        if hx is None:
            return None
        if not isinstance(hx, Tensor):
            raise TypeError(f"{type(self).__name__}: hx must be a Tensor, got "
                            f"{type(hx).__name__}")
        want = 3 if batched else 2
        if hx.dim() != want:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                               f"{hx.dim()}-D tensor")
        return [hx]

    def _hidden_labels(self) -> list:
        return ["hidden"]

    def forward(self, input, hx=None):
        """Runs the layers over a sequence.

        Shapes (``D`` = 2 if bidirectional else 1, ``H_out`` = proj_size or hidden_size):
        input ``(L, N, I)`` (``(N, L, I)`` if batch_first), ``(L, I)`` unbatched, or a
        ``PackedSequence``; hx ``(D * num_layers, N, H_out)`` (an LSTM takes ``(h_0, c_0)``, c
        being ``(D * num_layers, N, H)``), zeros when None. Returns ``(output, h_n)`` (an LSTM
        ``(output, (h_n, c_n))``) with output ``(L, N, D * H_out)`` or a ``PackedSequence``.
        """
        packed = isinstance(input, PackedSequence)
        batched = True
        if packed:
            sequence, batch_sizes_tensor, sorted_indices, unsorted_indices = input
            self._check_input(sequence, 2)
            batch_sizes = batch_sizes_tensor.tolist()
            batch = batch_sizes[0]
            states = self._split_hx(hx, True)
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                                 f"{input.dim()}D input instead")
            batched = input.dim() == 3
            states = self._split_hx(hx, batched)
            if not batched:
                input = input.unsqueeze(1)
                if states is not None:
                    states = [s.unsqueeze(1) for s in states]
            elif self.batch_first:
                input = input.transpose(0, 1)
            self._check_input(input, 3)
            if input.shape[0] == 0:
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
            sequence, batch_sizes, batch = input, None, input.shape[1]
        expected = self._state_shapes(batch)
        if states is None:
            states = [zeros(shape[1:], dtype=sequence.dtype, device=sequence.device)
                      for shape in expected]
            initial = [tuple(states)] * expected[0][0]
        else:
            for state, shape, label in zip(states, expected, self._hidden_labels()):
                if tuple(state.shape) != shape:
                    raise RuntimeError(f"Expected {label} size {shape}, got "
                                       f"{list(state.shape)}")
            if packed and sorted_indices is not None:  # hx is given in the input's order
                states = [s.index_select(1, sorted_indices) for s in states]
            initial = list(zip(*[s.unbind(0) for s in states]))
        output, finals = self._run_layers(sequence, initial, batch_sizes)
        final = [stack([f[i] for f in finals], 0) for i in range(len(expected))]
        if packed:
            if unsorted_indices is not None:
                final = [f.index_select(1, unsorted_indices) for f in final]
            output = PackedSequence(output, batch_sizes_tensor, sorted_indices, unsorted_indices)
        elif not batched:
            output = output.squeeze(1)
            final = [f.squeeze(1) for f in final]
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (final[0] if len(final) == 1 else tuple(final))

    def _run_layers(self, x: Tensor, initial: list, batch_sizes):
        """All layers and directions: ``(T, N, I)`` (or packed data) -> output, final states."""
        step = _STEPS[self.mode]
        fold_bias = self.bias and self.mode != "GRU"  # GRU keeps b_hn inside r * (W_hn h + b_hn)
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            if layer and self.training and self.dropout > 0:
                x = F.dropout(x, self.dropout, True)
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                params = [getattr(self, name) for name in self._all_weights[index]]
                weight_ih, weight_hh = params[0], params[1]
                bias_ih, bias_hh = (params[2], params[3]) if self.bias else (None, None)
                weight_hr = params[-1] if self.proj_size else None
                if fold_bias:
                    bias_ih, bias_hh = bias_ih + bias_hh, None
                projected = F.linear(x, weight_ih, bias_ih)  # every step's input gates at once
                output, final = _run_direction(step, projected, initial[index],
                                               (weight_hh, bias_hh, weight_hr), batch_sizes,
                                               reverse=direction == 1)
                outputs.append(output)
                finals.append(final)
            x = outputs[0] if directions == 1 else cat(outputs, -1)
        return x, finals

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        if self.batch_first is not False:
            text += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            text += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            text += f", bidirectional={self.bidirectional}"
        return text


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    Example:
        >>> rnn = nn.RNN(4, 8, num_layers=2)
        >>> output, h_n = rnn(ember.randn(5, 3, 4))
        >>> output.shape, h_n.shape
        ((5, 3, 8), (2, 3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__(_nonlinearity_mode(nonlinearity), input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, gates in PyTorch's order (input, forget, cell, output).

    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)`` (times ``W_hr^T`` with proj_size).

    Example:
        >>> lstm = nn.LSTM(4, 8, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(ember.randn(3, 5, 4))
        >>> output.shape, h_n.shape, c_n.shape
        ((3, 5, 16), (2, 3, 8), (2, 3, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype)

    def _state_shapes(self, batch: int) -> list:
        (h_shape,) = super()._state_shapes(batch)
        return [h_shape, h_shape[:2] + (self.hidden_size,)]

    def _split_hx(self, hx, batched: bool) -> list:
        if hx is None:
            return None
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of two tensors")
        want = 3 if batched else 2
        if hx[0].dim() != want or hx[1].dim() != want:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                               f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
        return list(hx)

    def _hidden_labels(self) -> list:
        return ["hidden[0]", "hidden[1]"]


class GRU(RNNBase):
    """Gated recurrent unit, gates in PyTorch's order (reset, update, new).

    ``n_t = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))``, ``h_t = (1 - z) * n + z * h``.

    Example:
        >>> output, h_n = nn.GRU(4, 8)(ember.randn(5, 4))  # unbatched
        >>> output.shape, h_n.shape
        ((5, 8), (1, 8))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)


# ---- the cells ---------------------------------------------------------------------------------


class RNNCellBase(Module):
    """What the cells share: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih``,
    ``bias_hh (G*H,)``, all from U(-1/sqrt(H), 1/sqrt(H)); 1-D (unbatched) inputs."""

    _mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        _check_hidden_size(hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gate_size = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((gate_size, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((gate_size, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(gate_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(gate_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _init_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            text += f", bias={self.bias}"
        return text

    def _step(self, input: Tensor, hx, labels: tuple):
        """Checks shapes, runs one step; ``hx`` is None, a tensor or a tuple.

        ``labels`` names each state tensor in errors: (its name, its index), as PyTorch does.
        """
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                               f"expected {self.input_size}")
        if hx is None:
            state = (zeros((input.shape[0], self.hidden_size), dtype=input.dtype,
                           device=input.device),) * len(labels)
        else:
            hx = (hx,) if isinstance(hx, Tensor) else tuple(hx)
            state = tuple(self._check_state(input, h, label, batched, name)
                          for h, label in zip(hx, labels))
        projected = F.linear(input, self.weight_ih, self.bias_ih)
        state = _STEPS[self._mode](projected, state, self.weight_hh, self.bias_hh, None)
        return state if batched else tuple(s.squeeze(0) for s in state)

    def _check_state(self, input, h, labels, batched, name):
        what, label = labels
        if h.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.dim()}D instead")
        want = 2 if batched else 1
        if h.dim() != want:
            raise RuntimeError(f"{name}: hidden{label} must be {want}-D for {want}-D input, got "
                               f"{h.dim()}-D")
        if not batched:
            h = h.unsqueeze(0)
        if h.shape[0] != input.shape[0]:
            raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match hidden{label} "
                               f"batch size {h.shape[0]}")
        if h.shape[1] != self.hidden_size:
            raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {h.shape[1]}, "
                               f"expected {self.hidden_size}")
        return h


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu).

    Shapes: input ``(N, I)`` or ``(I,)``, hx ``(N, H)`` or ``(H,)`` -> ``h'`` like hx.

    Example:
        >>> nn.RNNCell(4, 8)(ember.randn(3, 4)).shape
        (3, 8)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self._mode = _nonlinearity_mode(nonlinearity)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, (("hidden", 0),))[0]

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity}"
        return text


class LSTMCell(RNNCellBase):
    """One LSTM step: ``(input, (h, c)) -> (h', c')``, gates (input, forget, cell, output).

    Shapes: input ``(N, I)`` or ``(I,)``; h, c ``(N, H)`` or ``(H,)``.

    Example:
        >>> h, c = nn.LSTMCell(4, 8)(ember.randn(3, 4))
        >>> h.shape, c.shape
        ((3, 8), (3, 8))
    """

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        return self._step(input, hx, (("hx[0]", 0), ("hx[1]", 1)))


class GRUCell(RNNCellBase):
    """One GRU step: ``(input, h) -> h'``, gates (reset, update, new).

    Shapes: input ``(N, I)`` or ``(I,)``, hx ``(N, H)`` or ``(H,)``.

    Example:
        >>> nn.GRUCell(4, 8)(ember.randn(4)).shape
        (8,)
    """

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, (("hidden", 0),))[0]
