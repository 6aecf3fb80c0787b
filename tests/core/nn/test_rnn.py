"""Recurrent layers and sequence packing: the layer harness, numpy references of PyTorch's
equations, packed against unpacked runs, dropout between layers, and PyTorch-like errors."""

import math

import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
from ember.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from ember.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)


def host(tensor):
    return tensor.detach().cpu().numpy()


# ---- the harness -------------------------------------------------------------------------------

CASES = [
    ModuleCase("RNNCell", lambda: RNNCell(3, 4), shapes=[(2, 3)], output_shape=(2, 4),
               gradgrad=True),
    ModuleCase("RNNCell-relu-hx", lambda: RNNCell(3, 4, nonlinearity="relu"),
               shapes=[(2, 3), (2, 4)], output_shape=(2, 4)),
    ModuleCase("RNNCell-unbatched", lambda: RNNCell(3, 2, bias=False), shapes=[(3,)],
               output_shape=(2,)),
    ModuleCase("LSTMCell", lambda: LSTMCell(3, 2), shapes=[(2, 3)], output_shape=(2, 2),
               gradgrad=True),
    ModuleCase("GRUCell", lambda: GRUCell(3, 2), shapes=[(2, 3)], output_shape=(2, 2),
               gradgrad=True),
    ModuleCase("GRUCell-hx-unbatched", lambda: GRUCell(2, 3), shapes=[(2,), (3,)],
               output_shape=(3,)),
    ModuleCase("RNN", lambda: RNN(3, 4), shapes=[(3, 2, 3)], output_shape=(3, 2, 4)),
    ModuleCase("RNN-relu-2layers-hx", lambda: RNN(3, 2, num_layers=2, nonlinearity="relu"),
               shapes=[(3, 2, 3), (2, 2, 2)], output_shape=(3, 2, 2)),
    ModuleCase("LSTM-bidirectional-batch_first",
               lambda: LSTM(2, 3, num_layers=2, batch_first=True, bidirectional=True),
               shapes=[(3, 2, 2)], output_shape=(3, 2, 6)),  # > 300 values: random directions
    ModuleCase("LSTM-proj-nobias", lambda: LSTM(2, 3, proj_size=2, bias=False),
               shapes=[(3, 2, 2)], output_shape=(3, 2, 2)),
    ModuleCase("GRU-unbatched", lambda: GRU(3, 2), shapes=[(4, 3)], output_shape=(4, 2)),
    ModuleCase("GRU-dropout-hx", lambda: GRU(2, 2, num_layers=2, dropout=0.5),
               shapes=[(3, 2, 2), (2, 2, 2)], output_shape=(3, 2, 2), stochastic=True),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_layer_harness(case, device):
    check_module(case, device)


# ---- numpy references of PyTorch's documented equations ----------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_step(mode, x, state, p):
    """One step of ``mode`` on numpy arrays; ``p`` holds w_ih, w_hh, b_ih, b_hh, w_hr."""
    h = state[0]
    gi = x @ p["weight_ih"].T + p["bias_ih"]
    gh = h @ p["weight_hh"].T + p["bias_hh"]
    if mode == "LSTM":
        i, f, g, o = np.split(gi + gh, 4, axis=-1)
        c = sigmoid(f) * state[1] + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        return (h if p["weight_hr"] is None else h @ p["weight_hr"].T, c)
    if mode == "GRU":
        (i_r, i_z, i_n), (h_r, h_z, h_n) = np.split(gi, 3, axis=-1), np.split(gh, 3, axis=-1)
        r, z = sigmoid(i_r + h_r), sigmoid(i_z + h_z)
        n = np.tanh(i_n + r * h_n)
        return ((1 - z) * n + z * h,)
    return (np.tanh(gi + gh) if mode == "RNN_TANH" else np.maximum(gi + gh, 0.0),)


def ref_rnn(module, x, states):
    """The whole layer stack in numpy: ``x`` (T, N, I), states (h[, c]) each (L*D, N, *)."""
    params = {name: host(p).astype(np.float64) for name, p in module.named_parameters()}
    directions = 2 if module.bidirectional else 1
    finals = []
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            p = {kind: params.get(kind + suffix, 0.0 if kind.startswith("bias") else None)
                 for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")}
            state = tuple(s[layer * directions + direction] for s in states)
            out = [None] * len(x)
            for t in (reversed(range(len(x))) if direction else range(len(x))):
                state = ref_step(module.mode, x[t], state, p)
                out[t] = state[0]
            outputs.append(np.stack(out))
            finals.append(state)
        x = np.concatenate(outputs, axis=-1)
    return x, [np.stack([f[i] for f in finals]) for i in range(len(states))]


def zero_states(module, batch):
    count = module.num_layers * (2 if module.bidirectional else 1)
    h = np.zeros((count, batch, module.proj_size or module.hidden_size))
    if module.mode != "LSTM":
        return [h]
    return [h, np.zeros((count, batch, module.hidden_size))]


LAYERS = [
    ("LSTM-2-bi-batch_first", lambda: LSTM(3, 4, num_layers=2, bidirectional=True,
                                           batch_first=True)),
    ("LSTM-proj-bi", lambda: LSTM(3, 4, num_layers=2, proj_size=2, bidirectional=True)),
    ("GRU-2-bi", lambda: GRU(3, 4, num_layers=2, bidirectional=True)),
    ("GRU-nobias-batch_first", lambda: GRU(3, 4, bias=False, batch_first=True)),
    ("RNN-tanh-3", lambda: RNN(3, 4, num_layers=3)),
    ("RNN-relu-bi", lambda: RNN(3, 4, nonlinearity="relu", bidirectional=True)),
]


def _hidden(module, states, device, dtype="float64"):
    tensors = [ember.tensor(s.astype(dtype), device=device) for s in states]
    return tensors[0] if len(tensors) == 1 else tuple(tensors)


def _finals(h_n):
    return list(h_n) if isinstance(h_n, tuple) else [h_n]


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 2e-5)])
@pytest.mark.parametrize("name,make", LAYERS, ids=[n for n, _ in LAYERS])
def test_layers_match_numpy_equations(name, make, dtype, tol, device):
    rng = np.random.default_rng(0)
    module = make().to(device, getattr(ember, dtype))
    x = rng.standard_normal((5, 3, 3))  # (T, N, I)
    for states in (zero_states(module, 3), None):
        if states is None:  # given initial states
            states = [rng.standard_normal(s.shape) for s in zero_states(module, 3)]
            hx = _hidden(module, states, device, dtype)
        else:
            hx = None
        given = x.transpose(1, 0, 2) if module.batch_first else x
        output, h_n = module(ember.tensor(given.astype(dtype), device=device), hx)
        expected, expected_finals = ref_rnn(module, x, states)
        if module.batch_first:
            expected = expected.transpose(1, 0, 2)
        np.testing.assert_allclose(host(output), expected, rtol=tol, atol=tol)
        for got, want in zip(_finals(h_n), expected_finals):
            np.testing.assert_allclose(host(got), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("make,mode", [(RNNCell, "RNN_TANH"), (LSTMCell, "LSTM"),
                                       (GRUCell, "GRU")])
def test_cells_match_numpy_equations(make, mode, device):
    rng = np.random.default_rng(1)
    cell = make(3, 4).double().to(device)
    p = {name: host(w) for name, w in cell.named_parameters()}
    p["weight_hr"] = None
    x = rng.standard_normal((2, 3))
    state = tuple(rng.standard_normal((2, 4)) for _ in range(2 if mode == "LSTM" else 1))
    hx = tuple(ember.tensor(s, device=device) for s in state)
    got = cell(ember.tensor(x, device=device), hx if mode == "LSTM" else hx[0])
    got = got if isinstance(got, tuple) else (got,)
    for g, want in zip(got, ref_step(mode, x, state, p)):
        np.testing.assert_allclose(host(g), want, rtol=1e-12, atol=1e-12)
    # no hx: zeros; unbatched: the batched result of one row
    zero = ref_step(mode, x, tuple(np.zeros((2, 4)) for _ in state), p)[0]
    no_hx = cell(ember.tensor(x, device=device))
    np.testing.assert_allclose(host(no_hx[0] if mode == "LSTM" else no_hx), zero, rtol=1e-12)
    single = cell(ember.tensor(x[1], device=device))
    np.testing.assert_allclose(host(single[0] if mode == "LSTM" else single), zero[1],
                               rtol=1e-12)


def test_unbatched_equals_batch_of_one(device):
    rng = np.random.default_rng(2)
    for module in (LSTM(3, 4, num_layers=2), GRU(3, 4, bidirectional=True), RNN(3, 4)):
        module = module.double().to(device)
        x = rng.standard_normal((4, 3))
        states = [rng.standard_normal(s.shape) for s in zero_states(module, 1)]
        out1, h1 = module(ember.tensor(x, device=device),
                          _hidden(module, [s[:, 0] for s in states], device))
        out3, h3 = module(ember.tensor(x[:, None], device=device),
                          _hidden(module, states, device))
        assert out1.shape == out3.shape[::2]
        np.testing.assert_allclose(host(out1), host(out3)[:, 0], rtol=1e-12)
        for a, b in zip(_finals(h1), _finals(h3)):
            assert a.dim() == 2
            np.testing.assert_allclose(host(a), host(b)[:, 0], rtol=1e-12)


def test_gradients_of_final_states_and_hx(device):
    rng = np.random.default_rng(3)
    lstm = LSTM(2, 2, bidirectional=True).double().to(device)
    x = ember.tensor(rng.standard_normal((3, 2, 2)), device=device, requires_grad=True)
    h0, c0 = (ember.tensor(rng.standard_normal((2, 2, 2)), device=device, requires_grad=True)
              for _ in range(2))

    def run(x, h0, c0):
        output, (h_n, c_n) = lstm(x, (h0, c0))
        return output, h_n, c_n

    assert ember.autograd.gradcheck(run, [x, h0, c0])
    gru = GRUCell(2, 3).double().to(device)
    inputs = [ember.tensor(rng.standard_normal(s), device=device, requires_grad=True)
              for s in ((2, 2), (2, 3))]
    assert ember.autograd.gradgradcheck(gru, inputs)


# ---- packed sequences ----------------------------------------------------------------------------


@pytest.mark.parametrize("name,make", LAYERS, ids=[n for n, _ in LAYERS])
def test_packed_equals_each_sequence_alone(name, make, device):
    rng = np.random.default_rng(4)
    module = make().double().to(device)
    lengths = [3, 5, 1, 4]
    sequences = [ember.tensor(rng.standard_normal((n, 3)), device=device) for n in lengths]
    states = [rng.standard_normal(s.shape) for s in zero_states(module, len(lengths))]
    packed = pack_sequence(sequences, enforce_sorted=False)
    output, h_n = module(packed, _hidden(module, states, device))
    assert isinstance(output, PackedSequence)
    padded, out_lengths = pad_packed_sequence(output, batch_first=True, padding_value=-7.0)
    assert out_lengths.tolist() == lengths and out_lengths.device.type == "cpu"
    padded = host(padded)
    for i, (n, seq) in enumerate(zip(lengths, sequences)):
        alone, alone_h = module(seq, _hidden(module, [s[:, i] for s in states], device))
        np.testing.assert_allclose(padded[i, :n], host(alone), rtol=1e-10, atol=1e-12)
        assert np.all(padded[i, n:] == -7.0)
        for got, want in zip(_finals(h_n), _finals(alone_h)):
            np.testing.assert_allclose(host(got)[:, i], host(want), rtol=1e-10, atol=1e-12)


def test_packed_padded_input_sorted_and_final_state_at_last_step(device):
    rng = np.random.default_rng(5)
    gru = GRU(2, 3).double().to(device)
    x = rng.standard_normal((4, 3, 2))
    lengths = [4, 2, 1]
    output, h_n = gru(pack_padded_sequence(ember.tensor(x, device=device), lengths))
    assert output.sorted_indices is None and output.unsorted_indices is None
    padded, _ = pad_packed_sequence(output, total_length=6)
    assert padded.shape == (6, 3, 3)
    full, _ = gru(ember.tensor(x, device=device))
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(host(h_n)[0, i], host(full)[n - 1, i], rtol=1e-12)
        np.testing.assert_allclose(host(padded)[:n, i], host(full)[:n, i], rtol=1e-12)


def test_gradients_flow_through_packing(device):
    rng = np.random.default_rng(6)
    lstm = LSTM(2, 2, bidirectional=True).double().to(device)
    x = ember.tensor(rng.standard_normal((3, 3, 2)), device=device, requires_grad=True)
    h0 = ember.tensor(rng.standard_normal((2, 3, 2)), device=device, requires_grad=True)
    c0 = ember.tensor(rng.standard_normal((2, 3, 2)), device=device, requires_grad=True)

    def run(x, h0, c0, *params):  # the parameters are perturbed in place by gradcheck
        packed = pack_padded_sequence(x, [1, 3, 2], batch_first=True, enforce_sorted=False)
        output, (h_n, c_n) = lstm(packed, (h0, c0))
        return pad_packed_sequence(output, batch_first=True)[0], h_n, c_n

    assert ember.autograd.gradcheck(run, [x, h0, c0])
    assert ember.autograd.gradcheck(run, [x, h0, c0, *lstm.parameters()], fast_mode=True)
    seqs = [ember.tensor(rng.standard_normal(s), device=device, requires_grad=True)
            for s in ((2, 2), (3, 2))]
    assert ember.autograd.gradcheck(lambda a, b: pad_sequence([a, b], padding_value=1.0), seqs)
    assert ember.autograd.gradcheck(lambda a, b: pack_sequence([a, b], False).data, seqs)
    assert ember.autograd.gradgradcheck(lambda a, b: pack_sequence([a, b], False).data, seqs)


# ---- packing utilities ---------------------------------------------------------------------------


def test_pack_padded_sequence_layout(device):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3, 2))  # (T, B, *)
    lengths = np.array([2, 4, 1])
    packed = pack_padded_sequence(ember.tensor(x, device=device), ember.tensor(lengths),
                                  enforce_sorted=False)
    order = np.argsort(-lengths, kind="stable")
    expected = [x[t, b] for t in range(4) for b in order if lengths[b] > t]
    np.testing.assert_array_equal(host(packed.data), np.stack(expected))
    assert packed.batch_sizes.tolist() == [3, 2, 1, 1]
    assert packed.batch_sizes.dtype == ember.int64 and packed.batch_sizes.device.type == "cpu"
    assert packed.sorted_indices.tolist() == order.tolist()
    assert host(packed.unsorted_indices)[order].tolist() == [0, 1, 2]
    batch_first = pack_padded_sequence(ember.tensor(x.transpose(1, 0, 2), device=device),
                                       lengths.tolist(), batch_first=True, enforce_sorted=False)
    np.testing.assert_array_equal(host(batch_first.data), host(packed.data))
    padded, back = pad_packed_sequence(packed)
    mask = np.arange(4)[:, None] < lengths
    np.testing.assert_array_equal(host(padded), np.where(mask[..., None], x, 0.0))
    assert back.tolist() == lengths.tolist()


def test_pad_sequence_and_unpadding(device):
    seqs = [ember.tensor(np.full((n, 2), float(n)), device=device) for n in (2, 3, 1)]
    right = host(pad_sequence(seqs, batch_first=True, padding_value=-1.0))
    assert right.shape == (3, 3, 2)
    np.testing.assert_array_equal(right[:, :, 0], [[2, 2, -1], [3, 3, 3], [1, -1, -1]])
    left = host(pad_sequence(seqs, padding_side="left"))
    np.testing.assert_array_equal(left[:, :, 0].T, [[0, 2, 2], [3, 3, 3], [0, 0, 1]])
    parts = unpad_sequence(pad_sequence(seqs), ember.tensor([2, 3, 1]))
    assert [tuple(p.shape) for p in parts] == [(2, 2), (3, 2), (1, 2)]
    unpacked = unpack_sequence(pack_sequence(seqs, enforce_sorted=False))
    for got, want in zip(unpacked, seqs):
        np.testing.assert_array_equal(host(got), host(want))
    packed = pack_sequence([seqs[1], seqs[0]])
    assert packed.to(ember.float32).data.dtype == ember.float32
    assert packed.double() is packed
    assert PackedSequence(packed.data, [2, 2, 1]).batch_sizes.tolist() == [2, 2, 1]


def test_packing_errors():
    x = ember.zeros(3, 2, 1)
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
        pack_padded_sequence(x, [1, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        pack_padded_sequence(x, [3, 0])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to batch_size"):
        pack_padded_sequence(x, [3, 2, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        pad_packed_sequence(pack_padded_sequence(x, [3, 2]), total_length=2)
    with pytest.raises(RuntimeError, match="empty list"):
        pad_sequence([])
    with pytest.raises(ValueError, match="padding_side"):
        pad_sequence([x], padding_side="middle")


# ---- dropout between layers ----------------------------------------------------------------------


def test_dropout_between_layers_only_in_training():
    rng = np.random.default_rng(8)
    x = ember.tensor(rng.standard_normal((4, 2, 3)))
    lstm = LSTM(3, 4, num_layers=2, dropout=1.0).double()
    eval_out, _ = lstm.eval()(x)
    np.testing.assert_allclose(host(eval_out), ref_rnn(lstm, host(x), zero_states(lstm, 2))[0],
                               rtol=1e-10)
    train_out, (h_n, _) = lstm.train()(x)
    # every input of layer 2 is dropped: it runs on zeros; layer 1 and the output are untouched
    second = LSTM(3, 4).double()
    second.load_state_dict({k.replace("l1", "l0"): v for k, v in lstm.state_dict().items()
                            if "l1" in k and "weight_ih" not in k}, strict=False)
    second.weight_ih_l0.data[...] = 0.0
    expected, expected_h = second(ember.zeros(4, 2, 3, dtype=ember.float64))
    np.testing.assert_allclose(host(train_out), host(expected), rtol=1e-12)
    np.testing.assert_allclose(host(h_n[0]), host(lstm.eval()(x)[1][0][0]), rtol=1e-12)
    half = GRU(3, 4, num_layers=2, dropout=0.5).double()
    assert not np.allclose(host(half(x)[0]), host(half(x)[0]))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        GRU(3, 4, dropout=0.3)


# ---- parameters, construction and errors ---------------------------------------------------------


def test_parameter_names_shapes_and_init():
    lstm = LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2)
    shapes = {name: tuple(p.shape) for name, p in lstm.named_parameters()}
    assert list(shapes)[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                "weight_hr_l0"]
    assert shapes["weight_ih_l0"] == (20, 3) and shapes["weight_hh_l0"] == (20, 2)
    assert shapes["weight_ih_l1_reverse"] == (20, 4) and shapes["weight_hr_l1_reverse"] == (2, 5)
    assert len(shapes) == 20 and len(lstm.all_weights) == 4
    assert list(GRU(3, 5, bias=False).state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert tuple(GRUCell(3, 5).weight_hh.shape) == (15, 5)
    bound = 1 / math.sqrt(5)
    for module in (lstm, GRU(3, 5), RNNCell(3, 5), LSTMCell(3, 5)):
        for p in module.parameters():
            values = host(p)
            assert values.min() >= -bound and values.max() <= bound and values.std() > 0
    assert repr(RNN(3, 5, 2, nonlinearity="relu")) == "RNN(3, 5, num_layers=2)"
    assert repr(RNNCell(3, 5, False, "relu")) == "RNNCell(3, 5, bias=False, nonlinearity=relu)"


def test_constructor_errors():
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        LSTM(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        GRU(3, 0)
    with pytest.raises(TypeError, match="hidden_size should be of type int"):
        RNN(3, 4.0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        LSTM(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'"):
        RNN(3, 4, nonlinearity="gelu")


def test_forward_errors():
    lstm = LSTM(4, 3, num_layers=2)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. "
                                           r"Expected 4, got 3"):
        lstm(ember.zeros(5, 2, 3))
    with pytest.raises(ValueError, match="LSTM: Expected input to be 2D or 3D, got 4D"):
        lstm(ember.zeros(5, 2, 3, 4))
    with pytest.raises(ValueError, match=r"RNN input dtype \(ember.float64\) does not match "
                                         r"weight dtype \(ember.float32\)"):
        lstm(ember.zeros(5, 2, 4, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0"):
        lstm(ember.zeros(0, 2, 4))
    h, c = ember.zeros(2, 2, 3), ember.zeros(2, 2, 3)
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 3, 3\), got "
                                           r"\[2, 2, 3\]"):
        lstm(ember.zeros(5, 3, 4), (h, c))
    with pytest.raises(RuntimeError, match="hx and cx should also be 3-D"):
        lstm(ember.zeros(5, 2, 4), (h[0], c[0]))
    gru = GRU(4, 3)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 3\), got \[1, 2, 4\]"):
        gru(ember.zeros(5, 2, 4), ember.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match="For unbatched 2-D input, hx should also be 2-D"):
        gru(ember.zeros(5, 4), ember.zeros(1, 1, 3))
    with pytest.raises(RuntimeError, match="input must have 2 dimensions, got 3"):
        gru(PackedSequence(ember.zeros(2, 1, 4), [1, 1]))
    cell = LSTMCell(4, 3)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 2 expected 4"):
        cell(ember.zeros(2, 2))
    with pytest.raises(ValueError, match="LSTMCell: Expected input to be 1D or 2D, got 3D"):
        cell(ember.zeros(1, 2, 4))
    with pytest.raises(RuntimeError, match="Input batch size 2 doesn't match hidden1 batch size 1"):
        cell(ember.zeros(2, 4), (ember.zeros(2, 3), ember.zeros(1, 3)))
    with pytest.raises(RuntimeError, match="hidden0 has inconsistent hidden_size: got 2, "
                                           "expected 3"):
        GRUCell(4, 3)(ember.zeros(2, 4), ember.zeros(2, 2))
