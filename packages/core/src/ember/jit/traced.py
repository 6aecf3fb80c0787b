"""``ember.jit.trace`` and the ``TracedModule`` it returns: replay with guards.

A traced module keeps one compiled graph per call signature (input shapes, dtypes and devices,
and train/eval mode). A call with a signature it has not seen traces the source again, or with
``strict=True`` raises; a module loaded from a file has no source and always raises.
"""

from __future__ import annotations

from ember.autograd.function import grad_enabled
from ember.jit.passes import optimize
from ember.jit.replay import ArrayProgram, run_autograd, structure
from ember.jit.tracer import record
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.tensor.tensor import Tensor


def _signature(args: tuple, training: bool) -> tuple:
    return tuple((a._array.shape, a._array.dtype, str(a.device)) if isinstance(a, Tensor)
                 else type(a) for a in args) + (training,)


def _describe(signature: tuple) -> str:
    *arguments, training = signature
    parts = [f"[{', '.join(map(str, a[0]))}] {a[1]} {a[2]}" if isinstance(a, tuple)
             else a.__name__ for a in arguments]
    return f"({'; '.join(parts)}), {'training' if training else 'eval'} mode"


class _Compiled:
    """One graph and its inference program."""

    __slots__ = ("graph", "program")

    def __init__(self, graph) -> None:
        self.graph = graph
        self.program = ArrayProgram.from_graph(graph)


def _attach(root: Module, name: str, kind: str, tensor: Tensor) -> None:
    """Registers ``tensor`` under the dotted ``name`` (``layer1.0.weight``), making the plain
    container modules on the way, so that the state_dict keys are the source module's."""
    *path, leaf = name.split(".")
    module = root
    for part in path:
        child = module._modules.get(part)
        if child is None:
            child = Module()
            child.training = root.training
            module.add_module(part, child)
        module = child
    if kind == "parameter" and isinstance(tensor, Parameter):
        module.register_parameter(leaf, tensor)
    elif kind == "buffer":
        module.register_buffer(leaf, tensor)
    else:  # a captured tensor that is not a Parameter: kept as it is, unregistered
        module.__dict__[leaf] = tensor


class TracedModule(Module):
    """A recorded graph that replays the source's computation without its Python code.

    Call it like the source. With grad mode on and an input or weight requiring grad it replays
    the primitives through autograd (gradients equal eager mode's); otherwise it runs the
    optimised array program. ``graph`` is the graph of the first traced signature.
    """

    def __init__(self, graph, weights: dict, source=None, strict: bool = False,
                 training: bool = True) -> None:
        super().__init__()
        self.training = training
        for name, (kind, tensor) in weights.items():
            _attach(self, name, kind, tensor)
        self.__dict__["_source"] = source
        self.__dict__["_strict"] = strict
        self.__dict__["_weights"] = None
        self.__dict__["_extra_weights"] = {name: tensor for name, (kind, tensor) in weights.items()
                                           if kind == "parameter"
                                           and not isinstance(tensor, Parameter)}
        self.__dict__["_compiled"] = {}
        self.__dict__["_first"] = None
        if graph is not None:
            self._add(graph)

    def _add(self, graph) -> _Compiled:
        compiled = _Compiled(optimize(graph))
        signature = graph.signature
        self._compiled[signature] = compiled
        if self._first is None:
            self.__dict__["_first"] = compiled
        return compiled

    @property
    def graph(self):
        """The (optimised) graph of the first traced signature."""
        return self._first.graph

    @property
    def signatures(self) -> list:
        return list(self._compiled)

    def weights(self) -> dict:
        """``{name: tensor}`` of every parameter and buffer the graphs read."""
        if self._weights is None:
            weights = dict(self.named_parameters(remove_duplicate=False))
            weights.update(self.named_buffers(remove_duplicate=False))
            weights.update(self._extra_weights)
            self.__dict__["_weights"] = weights
        return self._weights

    def _apply(self, convert) -> Module:
        self.__dict__["_weights"] = None  # buffers may be replaced
        return super()._apply(convert)

    def forward(self, *args):
        signature = _signature(args, self.training)
        compiled = self._compiled.get(signature)
        if compiled is None:
            compiled = self._retrace(args, signature)
        weights = self.weights()
        graph = compiled.graph
        if grad_enabled() and (any(isinstance(a, Tensor) and a._rg for a in args)
                               or any(t._rg for t in weights.values())):
            results = run_autograd(graph, args, weights)
        else:
            results = compiled.program(args, weights)
        count = len(graph.outputs)
        for (name, _), value in zip(graph.writes, results[count:]):
            buffer = weights[name]
            buffer._array[...] = value._array
            buffer._bump_version()
        return structure(graph.output_spec, results[:count])

    def _retrace(self, args: tuple, signature: tuple) -> _Compiled:
        expected = "; or ".join(_describe(s) for s in self._compiled) or "nothing"
        if self._strict or self._source is None:
            why = ("strict=True" if self._source is not None
                   else "it was loaded from a file and has no Python source to trace again")
            raise RuntimeError(
                f"TracedModule: called with inputs {_describe(signature)}, but it was traced "
                f"for {expected}; it cannot trace again because {why}"
            )
        source = self._source
        if isinstance(source, Module) and source.training != self.training:
            source.train(self.training)
        graph, _ = trace_graph(source, args)
        return self._add(graph)


def _named_weights(source) -> list:
    """``[(kind, name, tensor)]`` of a module's parameters and buffers, shared (tied) tensors
    under each of their names (the first name is the one the graph uses)."""
    if not isinstance(source, Module):
        return []
    return ([("parameter", name, t) for name, t in source.named_parameters(remove_duplicate=False)]
            + [("buffer", name, t) for name, t in source.named_buffers(remove_duplicate=False)])


def trace_graph(source, args: tuple):
    """Records ``source(*args)``; returns (graph, {name: (kind, tensor)} of what it reads, tied
    tensors under every name)."""
    named = _named_weights(source)
    first = {}
    for kind, name, tensor in named:
        first.setdefault(id(tensor), (kind, name))
    graph, captured = record(source, args, first)
    training = source.training if isinstance(source, Module) else False
    graph.signature = _signature(args, training)
    weights = {name: (kind, tensor) for kind, name, tensor in named}
    weights.update({name: ("parameter", tensor) for name, tensor in captured.items()})
    return graph, weights


def trace(func, example_inputs, strict: bool = False, **kwargs) -> TracedModule:
    """Runs ``func`` (a Module or a function of Tensors) once on ``example_inputs`` and records
    every primitive op it applies into a graph; returns a ``TracedModule`` that replays it.

    Python control flow is not recorded, only the path the example took: a branch on a tensor's
    value, or a loop whose length depends on one, is frozen as it went while tracing (a
    ``TracerWarning`` says where a traced tensor became a Python value). Calls with other input
    shapes, dtypes, devices or another train/eval mode trace again; ``strict=True`` raises a
    RuntimeError naming the expected and the actual signature instead (PyTorch's ``strict``
    concerns mutable outputs; here it is the guard policy). Random ops (dropout) draw anew on
    every call; in training mode batch norm's running statistics are updated as in eager mode.

    Args:
        func: an ``nn.Module`` (its parameters and buffers become the graph's named weights)
            or a function; tensors a function captures that require grad become weights,
            other captured tensors constants.
        example_inputs: a Tensor or a tuple of Tensors.
        strict: raise instead of tracing again when a call's signature differs.

    Example:
        >>> model = ember.nn.Linear(3, 2)
        >>> traced = ember.jit.trace(model, ember.randn(4, 3))
        >>> traced(ember.ones(4, 3)).shape
        (4, 2)
    """
    if kwargs:
        raise TypeError(f"jit.trace: unsupported arguments {sorted(kwargs)}")
    args = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    graph, weights = trace_graph(func, args)
    training = func.training if isinstance(func, Module) else False
    return TracedModule(graph, weights, source=func, strict=strict, training=training)
