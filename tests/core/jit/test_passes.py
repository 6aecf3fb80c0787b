"""Graph passes and fusion: what they rewrite, and that results do not change."""

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.jit import fusion
from ember.jit.replay import ArrayProgram


def _chain(x, w, b):
    steps = (lambda h: h * w, ember.tanh, lambda h: h + b, ember.sigmoid, lambda h: h - 0.5,
             ember.relu, ember.exp)
    h = x
    for i in range(20):
        h = (h * h + 1.0).rsqrt() if i == 6 else steps[i % 7](h)
    return h


def test_constant_folding_cse_and_dead_code():
    table = ember.arange(4).float()

    def fn(x):
        scale = (table * 2 + 1).sum()  # constants only: folded
        unused = x.exp()  # dead  # noqa: F841
        return x.tanh() * scale + x.tanh()  # the second tanh is the first one

    traced = ember.jit.trace(fn, ember.randn(3))
    ops = [node.op for node in traced.graph.nodes]
    assert ops == ["tanh", "mul", "add"]
    x = ember.randn(3)
    np.testing.assert_allclose(traced(x).numpy(), fn(x).numpy(), rtol=1e-6)


def test_random_ops_are_neither_folded_nor_merged():
    def fn(x):
        return ember.nn.functional.dropout(x, 0.5) + ember.nn.functional.dropout(x, 0.5)

    traced = ember.jit.trace(fn, ember.ones(50))
    assert [node.op for node in traced.graph.nodes].count("dropout_mask") == 2


def test_chain_is_fused_into_one_step_and_numpy_engine_is_exact(monkeypatch):
    monkeypatch.setattr(fusion, "NUMEXPR_MAX_SIZE", -1)  # numpy engine
    x, w, b = ember.randn(4, 6), ember.randn(4, 6), ember.randn(6)
    traced = ember.jit.trace(_chain, (x, w, b))
    program = traced._first.program
    assert len(program.steps) == 1 and len(traced.graph.nodes) == 22
    with ember.no_grad():
        np.testing.assert_array_equal(traced(x, w, b).numpy(), _chain(x, w, b).numpy())


def test_numexpr_engine_matches(monkeypatch):
    numexpr = pytest.importorskip("numexpr")
    assert numexpr is not None
    monkeypatch.setattr(fusion, "NUMEXPR_MAX_SIZE", 1 << 30)
    x, w, b = ember.randn(4, 6), ember.randn(4, 6), ember.randn(6)
    traced = ember.jit.trace(_chain, (x, w, b))
    with ember.no_grad():
        got = traced(x, w, b)
    assert got.dtype == ember.float32
    np.testing.assert_allclose(got.numpy(), _chain(x, w, b).numpy(), rtol=1e-5, atol=1e-6)


def test_values_read_twice_or_returned_end_a_chain():
    def fn(x):
        a = x.tanh()
        b = a.exp()  # a is read again below: the chain ends at a
        c = (b + a).sigmoid()
        return c.neg().abs(), c

    x = ember.randn(5)
    traced = ember.jit.trace(fn, x)
    chains = fusion.find_chains(traced.graph)
    fused = [[node.op for node in chain] for chain in chains]
    assert fused == [["tanh", "exp"], ["add", "sigmoid"], ["neg", "abs"]] or \
        fused == [["add", "sigmoid"], ["neg", "abs"]]
    for chain in chains:
        assert all(node.outputs[0] not in traced.graph.outputs for node in chain[:-1])
    with ember.no_grad():
        for got, expected in zip(traced(x), fn(x)):
            np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


def test_unfused_program_gives_the_same_result():
    model = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 2), nn.Sigmoid()).eval()
    x = ember.randn(3, 6)
    traced = ember.jit.trace(model, x)
    plain = ArrayProgram.from_graph(traced.graph, fuse=False)
    weights = traced.weights()
    with ember.no_grad():
        np.testing.assert_allclose(plain((x,), weights)[0].numpy(), traced(x).numpy(),
                                   rtol=1e-6)


def test_print_tabular_and_dot(capsys):
    traced = ember.jit.trace(nn.Sequential(nn.Linear(3, 2), nn.ReLU()), ember.randn(1, 3))
    traced.graph.print_tabular()
    table = capsys.readouterr().out
    assert "call_op" in table and "linear" in table and "%0.weight" in table
    dot = traced.graph.to_dot()
    assert dot.startswith('digraph "graph" {') and '[shape=box, label="relu"]' in dot
    assert dot.count("->") == 5  # input, weight, bias -> linear -> relu -> output


def test_fused_chain_on_every_device(device):
    """On a GPU the chain is one cupy ElementwiseKernel; on the CPU numpy or numexpr."""
    x, w, b = (ember.randn(16, 40, device=device), ember.randn(16, 40, device=device),
               ember.randn(40, device=device))
    traced = ember.jit.trace(_chain, (x, w, b))
    assert len(traced._first.program.steps) == 1
    with ember.no_grad():
        got, expected = traced(x, w, b), _chain(x, w, b)
    assert got.device == expected.device
    np.testing.assert_allclose(got.cpu().numpy(), expected.cpu().numpy(), rtol=1e-5, atol=1e-6)


def test_intermediates_are_freed_after_their_last_read():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(),
                          nn.Linear(8, 2)).eval()
    traced = ember.jit.trace(model, ember.randn(3, 4))
    graph, steps = traced.graph, traced._first.program.steps
    freed = [vid for step in steps for vid in step[-1]]
    intermediates = [vid for node in graph.nodes for vid in node.outputs
                     if vid not in graph.outputs]
    assert sorted(freed) == sorted(intermediates)
    for index, step in enumerate(steps):  # freed where read last
        for vid in step[-1]:
            assert vid in step[2] and all(vid not in later[2] for later in steps[index + 1:])


def test_non_finite_constants_are_not_fused():
    def fn(x):
        return (x.tanh() + float("inf")).exp().neg()

    traced = ember.jit.trace(fn, ember.randn(4))
    assert [[n.op for n in c] for c in fusion.find_chains(traced.graph)] == [["exp", "neg"]]
    with ember.no_grad():
        np.testing.assert_array_equal(traced(ember.ones(4)).numpy(), fn(ember.ones(4)).numpy())
