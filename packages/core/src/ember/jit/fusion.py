"""Fusing chains of elementwise nodes for the inference program.

A *chain* is a run of elementwise nodes where each one reads the previous one's output, that
output is read by nothing else (and is not a graph output), and every node has the same output
shape and floating dtype, with operands of that dtype. A chain runs as one step:

- ``numpy``: every op as a ufunc writing into one buffer allocated per call (``out=``), so a
  chain of 50 ops allocates one array instead of 50 and skips 49 Python op calls;
- ``numexpr`` (optional, ``pip install numexpr``): the chain compiled once into one expression
  evaluated in a single blocked pass;
- on the GPU, one ``cupy.ElementwiseKernel`` compiled from the same expression in C.

Which CPU engine runs a chain is decided by its element count (``NUMEXPR_MAX_SIZE``, measured:
see docs/jit.md): numexpr's one call beats 50 ufunc calls on small arrays, but on large ones
numpy's vectorised float32 loops win by 5-8x. The numpy engine applies the very ufuncs the
ops do, so its results are identical to unfused ones; numexpr and the GPU kernel may differ in
the last bits.
"""

from __future__ import annotations

import numpy as np

from ember.backend import xp_of
from ember.backend.device import cupy_module

# Chains of at most this many elements run on numexpr when it is installed, larger ones on numpy.
# Measured on a 50-op chain (one thread): numexpr 34 / 48 / 128 us at 64 / 256 / 1024 elements,
# numpy in place 101 / 59 / 74 us; see docs/jit.md.
NUMEXPR_MAX_SIZE = 512


def _sigmoid(xp, out, x):
    xp.negative(x, out=out)
    xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)


def _rsqrt(xp, out, x):
    xp.sqrt(x, out=out)
    xp.divide(1, out, out=out)


def _pow_scalar(xp, out, x, other):
    if other == 2:
        xp.multiply(x, x, out=out)
    else:
        xp.power(x, other, out=out)


# op -> (numpy in place: fn(xp, out, *operands, **attrs), expression: fn(*operand texts, **attrs)
# in numexpr's syntax, which C shares for these forms but relu / clip / pow (see _C_FORMS))
ELEMENTWISE = {
    "add": (lambda xp, out, a, b: xp.add(a, b, out=out), lambda a, b: f"({a} + {b})"),
    "sub": (lambda xp, out, a, b: xp.subtract(a, b, out=out), lambda a, b: f"({a} - {b})"),
    "mul": (lambda xp, out, a, b: xp.multiply(a, b, out=out), lambda a, b: f"({a} * {b})"),
    "div": (lambda xp, out, a, b: xp.true_divide(a, b, out=out), lambda a, b: f"({a} / {b})"),
    "neg": (lambda xp, out, a: xp.negative(a, out=out), lambda a: f"(-{a})"),
    "tanh": (lambda xp, out, a: xp.tanh(a, out=out), lambda a: f"tanh({a})"),
    "exp": (lambda xp, out, a: xp.exp(a, out=out), lambda a: f"exp({a})"),
    "log": (lambda xp, out, a: xp.log(a, out=out), lambda a: f"log({a})"),
    "sqrt": (lambda xp, out, a: xp.sqrt(a, out=out), lambda a: f"sqrt({a})"),
    "abs": (lambda xp, out, a: xp.absolute(a, out=out), lambda a: f"abs({a})"),
    "sigmoid": (_sigmoid, lambda a: f"(1 / (1 + exp(-{a})))"),
    "rsqrt": (_rsqrt, lambda a: f"(1 / sqrt({a}))"),
    "relu": (lambda xp, out, a: xp.maximum(a, 0, out=out), lambda a: f"where({a} > 0, {a}, 0)"),
    "add_scalar": (lambda xp, out, a, other: xp.add(a, other, out=out),
                   lambda a, other: f"({a} + {other!r})"),
    "mul_scalar": (lambda xp, out, a, other: xp.multiply(a, other, out=out),
                   lambda a, other: f"({a} * {other!r})"),
    "div_scalar": (lambda xp, out, a, other: xp.true_divide(a, other, out=out),
                   lambda a, other: f"({a} / {other!r})"),
    "rsub_scalar": (lambda xp, out, a, other: xp.subtract(other, a, out=out),
                    lambda a, other: f"({other!r} - {a})"),
    "pow_scalar": (_pow_scalar, lambda a, other: f"({a} ** {other!r})"),
}
# C spellings where numexpr's differ (the GPU kernel)
_C_FORMS = {
    "relu": lambda a: f"({a} > 0 ? {a} : (T)0)",
    "pow_scalar": lambda a, other: f"pow({a}, (T){other!r})",
    "abs": lambda a: f"fabs({a})",
}


class Chain:
    """One fused chain: ``nodes`` in order; ``operands`` are the value ids it reads from
    outside (in the order its expression names them ``v0, v1 ...``)."""

    def __init__(self, nodes: list, graph) -> None:
        self.nodes = nodes
        self.output = nodes[-1].outputs[0]
        value = graph.values[self.output]
        self.shape, self.dtype = value.shape, np.dtype(value.dtype)
        self.size = int(np.prod(self.shape))
        carried = {node.outputs[0] for node in nodes[:-1]}
        self.operands = []
        for node in nodes:
            for vid in node.inputs:
                if vid not in carried and vid not in self.operands:
                    self.operands.append(vid)
        self.expression = self._expression(ELEMENTWISE, {})
        # the numpy engine's program: (kernel, operand slots, attrs); slot -1 is the buffer
        slot = {vid: i for i, vid in enumerate(self.operands)}
        self._steps = [(ELEMENTWISE[node.op][0],
                        tuple(slot.get(vid, -1) for vid in node.inputs), node.attrs)
                       for node in nodes]
        self._numexpr = None
        self._kernel = None

    def _expression(self, forms: dict, overrides: dict) -> str:
        text = {vid: f"v{i}" for i, vid in enumerate(self.operands)}
        for node in self.nodes:
            form = overrides.get(node.op) or forms[node.op][1]
            text[node.outputs[0]] = form(*[text[v] for v in node.inputs], **node.attrs)
        return text[self.output]

    def run_numpy(self, xp, arrays: list):
        """Each op's ufunc into one buffer: the same values as the unfused ops."""
        out = xp.empty(self.shape, self.dtype)
        slots = [*arrays, out]
        for kernel, operands, attrs in self._steps:
            if len(operands) == 1:
                kernel(xp, out, slots[operands[0]], **attrs)
            else:
                kernel(xp, out, slots[operands[0]], slots[operands[1]], **attrs)
        return out

    def run_numexpr(self, numexpr, arrays: list):
        if self._numexpr is None:
            kinds = {np.dtype(np.float32): float, np.dtype(np.float64): np.float64}
            signature = [(f"v{i}", kinds.get(np.dtype(a.dtype), np.float64))
                         for i, a in enumerate(arrays)]
            self._numexpr = numexpr.NumExpr(self.expression, signature=signature)
        out = self._numexpr(*arrays)
        return out if out.dtype == self.dtype else out.astype(self.dtype)

    def run_cuda(self, arrays: list):
        """One cupy ElementwiseKernel over the chain (compiled on first use)."""
        if self._kernel is None:
            cupy = cupy_module()  # the arrays are cupy arrays: it is there
            names = [f"v{i}" for i in range(len(arrays))]
            params = ", ".join(f"T {name}" for name in names)
            body = f"out = {self._expression(ELEMENTWISE, _C_FORMS)};"
            self._kernel = cupy.ElementwiseKernel(params, "T out", body,
                                                  f"ember_jit_chain_{id(self)}")
        return self._kernel(*arrays)


def _fusible(graph, node, shape, dtype) -> bool:
    if node.op not in ELEMENTWISE or node.multi or node.function is not None:
        return False
    if not all(np.isfinite(v) for v in node.attrs.values()):  # no inf/nan literal in C or numexpr
        return False
    value = graph.values[node.outputs[0]]
    if value.shape != shape or value.dtype != dtype or np.dtype(dtype).kind != "f":
        return False
    return all(graph.values[vid].dtype == dtype for vid in node.inputs)


def find_chains(graph) -> list:
    """The chains of two or more nodes in ``graph`` (each node in at most one chain)."""
    uses = graph.uses()
    outputs = set(graph.results())
    open_chains = {}  # value id of a chain's current end -> its nodes
    chains = []
    for node in graph.nodes:
        out = graph.values[node.outputs[0]]
        if not _fusible(graph, node, out.shape, out.dtype):
            continue
        carried = [vid for vid in node.inputs if vid in open_chains]
        chain = None
        if len(set(carried)) == 1:
            vid = carried[0]
            if uses.get(vid) == node.inputs.count(vid) and vid not in outputs:
                chain = open_chains.pop(vid)
        if chain is None:
            chain = [node]
            chains.append(chain)
        else:
            chain.append(node)
        open_chains[node.outputs[0]] = chain
    return [chain for chain in chains if len(chain) > 1]


def run_chain(chain: Chain, arrays: list, numexpr):
    """Runs ``chain`` on its operand arrays with the engine chosen above."""
    first = arrays[0]
    if first.__class__ is not np.ndarray:
        return chain.run_cuda(arrays) if xp_of(first).__name__ == "cupy" else \
            chain.run_numpy(xp_of(first), arrays)
    if numexpr is not None and chain.size <= NUMEXPR_MAX_SIZE:
        return chain.run_numexpr(numexpr, arrays)
    return chain.run_numpy(np, arrays)
