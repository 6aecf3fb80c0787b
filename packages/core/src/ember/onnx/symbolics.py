"""How each Ember primitive is written in ONNX (opset 17): ``SYMBOLICS[op name](step)``.

A symbolic reads the traced node through ``step`` (``ember.onnx.builder.Step``) and emits the
ONNX nodes that compute its outputs. ONNX does not promote dtypes, so arithmetic casts its
operands to the output dtype first. Reshape targets keep the input's leading sizes as 0 (ONNX's
"copy this dimension") and Expand targets use 1 where a size does not change, so that graphs
exported with a dynamic batch axis stay valid for other batch sizes.
"""

from __future__ import annotations

import numpy as np

from ember.onnx.builder import INT64_MAX, Step

SYMBOLICS: dict = {}


def symbolic(*names):
    def register(fn):
        for name in names:
            SYMBOLICS[name] = fn
        return fn

    return register


def _elementwise(op_type: str):
    def emit(step: Step) -> None:
        step.finish(op_type, step.inputs_as(step.out_dtype))

    return emit


for _name, _op_type in {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max",
    "minimum": "Min", "neg": "Neg", "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid",
    "exp": "Exp", "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "reciprocal": "Reciprocal",
    "erf": "Erf", "sin": "Sin", "cos": "Cos", "floor": "Floor", "ceil": "Ceil", "sign": "Sign",
    "clone": "Identity", "detach": "Identity", "logical_not": "Not", "logical_and": "And",
    "logical_or": "Or",
}.items():
    SYMBOLICS[_name] = _elementwise(_op_type)


def _comparison(op_type: str, negate: bool = False):
    def emit(step: Step) -> None:
        operands = step.inputs if len(step.inputs) == 2 else [
            step.inputs[0], step.scalar(step.attrs["other"], step.dtype(0))]
        if len(step.inputs) == 2 and step.dtype(0) != step.dtype(1):
            common = np.promote_types(step.dtype(0), step.dtype(1))
            operands = step.inputs_as(common)
        if negate:
            step.finish("Not", step.emit(op_type, operands))
        else:
            step.finish(op_type, operands)

    return emit


for _name, (_op_type, _negate) in {"eq": ("Equal", False), "ne": ("Equal", True),
                                   "gt": ("Greater", False), "lt": ("Less", False),
                                   "ge": ("GreaterOrEqual", False),
                                   "le": ("LessOrEqual", False)}.items():
    SYMBOLICS[_name] = SYMBOLICS[f"{_name}_scalar"] = _comparison(_op_type, _negate)


@symbolic("add_scalar", "mul_scalar", "div_scalar", "pow_scalar", "rsub_scalar", "rdiv_scalar",
          "rpow_scalar")
def _scalar_arithmetic(step: Step) -> None:
    op = step.node.op
    other = step.attrs["base"] if op == "rpow_scalar" else step.attrs["other"]
    x = step.inputs_as(step.out_dtype)[0]
    constant = step.scalar(other)
    op_type = {"add": "Add", "mul": "Mul", "div": "Div", "pow": "Pow", "rsub": "Sub",
               "rdiv": "Div", "rpow": "Pow"}[op.split("_")[0]]
    step.finish(op_type, [constant, x] if op.startswith("r") else [x, constant])


@symbolic("rsqrt")
def _rsqrt(step: Step) -> None:
    step.finish("Reciprocal", step.emit("Sqrt", step.inputs))


@symbolic("silu")
def _silu(step: Step) -> None:
    step.finish("Mul", [step.inputs[0], step.emit("Sigmoid", step.inputs)[0]])


@symbolic("hardtanh")
def _hardtanh(step: Step) -> None:
    step.finish("Clip", [step.inputs[0], step.scalar(step.attrs["min_val"]),
                         step.scalar(step.attrs["max_val"])])


@symbolic("clamp")
def _clamp(step: Step) -> None:
    low, high = step.attrs["min"], step.attrs["max"]
    step.finish("Clip", [step.inputs[0], "" if low is None else step.scalar(low),
                         "" if high is None else step.scalar(high)])


@symbolic("leaky_relu")
def _leaky_relu(step: Step) -> None:
    step.finish("LeakyRelu", step.inputs, alpha=float(step.attrs["negative_slope"]))


@symbolic("elu")
def _elu(step: Step) -> None:
    step.finish("Elu", step.inputs, alpha=float(step.attrs["alpha"]))


@symbolic("gelu")
def _gelu(step: Step) -> None:
    x = step.inputs[0]
    if step.attrs["approximate"] == "tanh":
        cube = step.emit("Mul", [x, step.emit("Mul", [x, x])[0]])[0]
        inner = step.emit("Add", [x, step.emit("Mul", [cube, step.scalar(0.044715)])[0]])[0]
        scaled = step.emit("Mul", [inner, step.scalar(np.sqrt(2 / np.pi))])[0]
        gate = step.emit("Add", [step.emit("Tanh", [scaled])[0], step.scalar(1.0)])[0]
    else:
        erf = step.emit("Erf", [step.emit("Div", [x, step.scalar(np.sqrt(2.0))])[0]])[0]
        gate = step.emit("Add", [erf, step.scalar(1.0)])[0]
    step.finish("Mul", [step.emit("Mul", [x, gate])[0], step.scalar(0.5)])


@symbolic("softplus")
def _softplus(step: Step) -> None:
    beta, threshold = step.attrs["beta"], step.attrs["threshold"]
    x = step.inputs[0]
    scaled = step.emit("Mul", [x, step.scalar(beta)])[0]
    soft = step.emit("Div", [step.emit("Softplus", [scaled])[0], step.scalar(beta)])[0]
    linear = step.emit("Greater", [scaled, step.scalar(threshold)])[0]
    step.finish("Where", [linear, x, soft])


@symbolic("softmax", "log_softmax")
def _softmax(step: Step) -> None:
    op_type = "Softmax" if step.node.op == "softmax" else "LogSoftmax"
    step.finish(op_type, step.inputs, axis=int(step.attrs["dim"]))


@symbolic("cross_entropy")
def _cross_entropy(step: Step) -> None:
    """Each row's ``-log_softmax(logits)[target]``: SoftmaxCrossEntropyLoss, not reduced."""
    logits, target = step.inputs
    if step.dtype(1) not in (np.int32, np.int64):
        target = step.cast(target, step.dtype(1), np.int64)
    step.finish("SoftmaxCrossEntropyLoss", [logits, target], reduction="none")


@symbolic("to_dtype")
def _to_dtype(step: Step) -> None:
    step.finish("Cast", step.inputs, to=step.b.helper.np_dtype_to_tensor_dtype(step.out_dtype))


@symbolic("where")
def _where(step: Step) -> None:
    condition, a, b = step.inputs
    a, b = (step.cast(n, v.dtype, step.out_dtype) for n, v in zip((a, b), step.in_values[1:]))
    step.finish("Where", [step.cast(condition, step.dtype(0), np.bool_), a, b])


@symbolic("masked_fill")
def _masked_fill(step: Step) -> None:
    a, mask, value = step.inputs
    step.finish("Where", [mask, step.cast(value, step.dtype(2), step.out_dtype), a])


# ---- products, convolution, pooling --------------------------------------------------------


def _transpose_last(step: Step, name: str, ndim: int) -> str:
    perm = list(range(ndim))
    perm[-2:] = perm[-1], perm[-2]
    return step.emit("Transpose", [name], perm=perm)[0]


@symbolic("linear")
def _linear(step: Step) -> None:
    x, weight, *bias = step.inputs
    if len(step.shape(0)) == 2:
        step.finish("Gemm", [x, weight, *bias], transB=1)
        return
    product = step.emit("MatMul", [x, _transpose_last(step, weight, 2)])[0]
    step.finish("Add", [product, *bias]) if bias else step.finish("Identity", [product])


@symbolic("matmul")
def _matmul(step: Step) -> None:
    a, b = step.inputs
    if step.attrs.get("transpose_a"):
        a = _transpose_last(step, a, len(step.shape(0)))
    if step.attrs.get("transpose_b"):
        b = _transpose_last(step, b, len(step.shape(1)))
    step.finish("MatMul", [a, b])


@symbolic("conv2d")
def _conv2d(step: Step) -> None:
    stride, padding, dilation, groups = step.attrs["geometry"]
    if isinstance(padding, str) or len(padding) != 2:
        step.unsupported(f"has padding {padding!r}; only two integers are exported")
    step.finish("Conv", step.inputs, strides=list(stride), dilations=list(dilation),
                group=int(groups), pads=[padding[0], padding[1], padding[0], padding[1]],
                kernel_shape=list(step.shape(1)[2:]))


def _pool_ceil(step: Step, kernel, stride, padding, dilation=(1, 1)) -> int:
    """1 when the traced output size needs ceil_mode (PyTorch's ceil_mode=True)."""
    size = step.shape(0)[2:]
    floor = tuple((size[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                  for i in range(2))
    return int(tuple(step.out_shape[2:]) != floor)


@symbolic("max_pool2d")
def _max_pool2d(step: Step) -> None:
    a = step.attrs
    padding = list(a["padding"])
    step.finish("MaxPool", step.inputs, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                pads=padding + padding, dilations=list(a["dilation"]),
                ceil_mode=_pool_ceil(step, a["kernel"], a["stride"], padding, a["dilation"]))


@symbolic("avg_pool2d")
def _avg_pool2d(step: Step) -> None:
    a = step.attrs
    if a["divisor_override"] is not None:
        step.unsupported("uses divisor_override, which ONNX AveragePool lacks")
    padding = list(a["padding"])
    step.finish("AveragePool", step.inputs, kernel_shape=list(a["kernel"]),
                strides=list(a["stride"]), pads=padding + padding,
                count_include_pad=int(a["count_include_pad"]),
                ceil_mode=_pool_ceil(step, a["kernel"], a["stride"], padding))


# ---- reductions ----------------------------------------------------------------------------


def _axes(step: Step, axes) -> list:
    ndim = len(step.shape(0))
    if axes is None:
        return list(range(ndim))
    axes = [axes] if isinstance(axes, int) else list(axes)
    return [axis % ndim if ndim else 0 for axis in axes]


def _reduce(op_type: str):
    def emit(step: Step) -> None:
        a = step.attrs
        x = step.inputs_as(step.out_dtype)[0] if op_type in ("ReduceSum", "ReduceProd") \
            else step.inputs[0]
        axes = _axes(step, a.get("axes"))
        keep = int(bool(a.get("keepdim", False)))
        if op_type == "ReduceSum" or step.b.opset >= 18:
            step.finish(op_type, [x, step.ints(axes)], keepdims=keep)
        else:
            step.finish(op_type, [x], axes=axes, keepdims=keep)

    return emit


SYMBOLICS["sum"] = _reduce("ReduceSum")
SYMBOLICS["prod"] = _reduce("ReduceProd")
SYMBOLICS["amax"] = _reduce("ReduceMax")
SYMBOLICS["amin"] = _reduce("ReduceMin")
SYMBOLICS["logsumexp"] = _reduce("ReduceLogSumExp")


@symbolic("max_dim", "min_dim")
def _max_dim(step: Step) -> None:
    dim, keep = int(step.attrs["dim"]), int(bool(step.attrs["keepdim"]))
    reduce, arg = ("ReduceMax", "ArgMax") if step.node.op == "max_dim" else ("ReduceMin",
                                                                               "ArgMin")
    if step.b.opset >= 18:
        step.emit(reduce, [step.inputs[0], step.ints([dim])], [step.outputs[0]], keepdims=keep)
    else:
        step.emit(reduce, [step.inputs[0]], [step.outputs[0]], axes=[dim], keepdims=keep)
    step.emit(arg, [step.inputs[0]], [step.outputs[1]], axis=dim, keepdims=keep)


@symbolic("argmax", "argmin")
def _argmax(step: Step) -> None:
    dim, keep = step.attrs["dim"], int(bool(step.attrs["keepdim"]))
    x = step.inputs[0]
    if dim is None:
        x, dim = step.emit("Reshape", [x, step.ints([-1])])[0], 0
    step.finish("ArgMax" if step.node.op == "argmax" else "ArgMin", [x], axis=int(dim),
                keepdims=keep)


# ---- shapes --------------------------------------------------------------------------------


@symbolic("reshape")
def _reshape(step: Step) -> None:
    source, shape = step.shape(0), list(step.out_shape)
    for axis in range(min(len(source), len(shape))):  # copy the leading sizes (see above)
        if shape[axis] != source[axis]:
            break
        shape[axis] = 0
    step.finish("Reshape", [step.inputs[0], step.ints(shape)])


@symbolic("expand")
def _expand(step: Step) -> None:
    source, target = step.shape(0), list(step.out_shape)
    offset = len(target) - len(source)
    shape = [1 if axis >= offset and source[axis - offset] == size else size
             for axis, size in enumerate(target)]
    step.finish("Expand", [step.inputs[0], step.ints(shape)])


@symbolic("permute")
def _permute(step: Step) -> None:
    ndim = len(step.shape(0))
    step.finish("Transpose", step.inputs, perm=[axis % ndim for axis in step.attrs["axes"]])


@symbolic("cat")
def _cat(step: Step) -> None:
    step.finish("Concat", step.inputs_as(step.out_dtype), axis=int(step.attrs["axis"]))


@symbolic("stack")
def _stack(step: Step) -> None:
    axis = int(step.attrs["axis"])
    axis = axis if axis >= 0 else axis + len(step.out_shape)
    pieces = [step.emit("Unsqueeze", [name, step.ints([axis])])[0]
              for name in step.inputs_as(step.out_dtype)]
    step.finish("Concat", pieces, axis=axis)


@symbolic("unbind", "split")
def _split(step: Step) -> None:
    axis = int(step.attrs["axis"])
    sizes = [v.shape[axis] for v in step.out_values] if step.node.op == "split" else \
        [1] * len(step.outputs)
    if step.node.op == "split":
        step.finish("Split", [step.inputs[0], step.ints(sizes)], axis=axis)
        return
    pieces = step.emit("Split", [step.inputs[0], step.ints(sizes)], len(sizes), axis=axis)
    for piece, name in zip(pieces, step.outputs):
        step.emit("Squeeze", [piece, step.ints([axis])], [name])


@symbolic("narrow")
def _narrow(step: Step) -> None:
    a = step.attrs
    step.finish("Slice", [step.inputs[0], step.ints([a["start"]]),
                          step.ints([a["start"] + a["length"]]), step.ints([a["axis"]])])


@symbolic("pad")
def _pad(step: Step) -> None:
    a = step.attrs
    if a["mode"] not in ("constant", "reflect", "replicate"):
        step.unsupported(f"uses padding mode {a['mode']!r}")
    widths = [tuple(w) for w in a["widths"]]
    pads = [w[0] for w in widths] + [w[1] for w in widths]
    mode = {"replicate": "edge"}.get(a["mode"], a["mode"])
    step.finish("Pad", [step.inputs[0], step.ints(pads), step.scalar(a["value"] or 0)],
                mode=mode)


@symbolic("flip")
def _flip(step: Step) -> None:
    axes = _axes(step, step.attrs["axes"])
    step.finish("Slice", [step.inputs[0], step.ints([-1] * len(axes)),
                          step.ints([-INT64_MAX] * len(axes)), step.ints(axes),
                          step.ints([-1] * len(axes))])


@symbolic("repeat")
def _repeat(step: Step) -> None:
    repeats = list(step.attrs["repeats"])
    x = step.inputs[0]
    extra = len(repeats) - len(step.shape(0))
    if extra:
        x = step.emit("Reshape", [x, step.ints([1] * extra + list(step.shape(0)))])[0]
    step.finish("Tile", [x, step.ints(repeats)])


# ---- indexing ------------------------------------------------------------------------------


@symbolic("embedding")
def _embedding(step: Step) -> None:
    step.finish("Gather", step.inputs, axis=0)


@symbolic("index_select")
def _index_select(step: Step) -> None:
    step.finish("Gather", step.inputs, axis=int(step.attrs["dim"]))


@symbolic("gather")
def _gather(step: Step) -> None:
    step.finish("GatherElements", step.inputs, axis=int(step.attrs["dim"]))


def _basic_index(step: Step, name: str, key, ndim: int) -> str:
    """Slices, integers, None and Ellipsis of ``key`` applied to ``name`` (of rank ``ndim``)."""
    key = key if isinstance(key, tuple) else (key,)
    if Ellipsis in key:
        at = key.index(Ellipsis)
        used = sum(1 for k in key if k is not None and k is not Ellipsis)
        key = key[:at] + (slice(None),) * (ndim - used) + key[at + 1:]
    axis = 0
    for item in key:
        if item is None:
            name = step.emit("Unsqueeze", [name, step.ints([axis])])[0]
            axis += 1
        elif isinstance(item, int):
            name = step.emit("Gather", [name, step.b.const(np.array(item, np.int64))],
                             axis=axis)[0]
        elif isinstance(item, slice):
            if item != slice(None):
                start, stop, stride = item.start, item.stop, item.step or 1
                if stride < 0:
                    step.unsupported("slices with a negative step")
                name = step.emit("Slice", [name, step.ints([start or 0]), step.ints(
                    [INT64_MAX if stop is None else stop]), step.ints([axis]),
                    step.ints([stride])])[0]
            axis += 1
        else:
            step.unsupported(f"has the index entry {item!r}")
    return name


@symbolic("index")
def _index(step: Step) -> None:
    basic, adv = step.attrs["basic"], step.attrs["adv"]
    name = _basic_index(step, step.inputs[0], basic, len(step.shape(0))) if basic is not None \
        else step.inputs[0]
    if adv is not None:
        slots = [i for i, entry in enumerate(adv) if isinstance(entry, int)]
        before = adv[:slots[0]] if slots else ()
        if len(slots) != 1 or any(entry != slice(None) for entry in before) or any(
                entry != slice(None) and entry is not Ellipsis for entry in adv[slots[0] + 1:]):
            step.unsupported("indexes with several index tensors or mixed keys; only one index "
                             "tensor after full slices is exported")
        index = step.cast(step.inputs[1 + adv[slots[0]]], step.dtype(1 + adv[slots[0]]),
                          np.int64)
        name = step.emit("Gather", [name, index], axis=slots[0])[0]
    step.finish("Identity", [name])


# ---- recurrent cells -----------------------------------------------------------------------


def _chunks(step: Step, name: str, count: int) -> list:
    return step.emit("Split", [name, step.ints([step.out_shape[-1]] * count)], count, axis=-1)


@symbolic("lstm_cell")
def _lstm_cell(step: Step) -> None:
    gates, c = step.inputs
    i, f, g, o = _chunks(step, gates, 4)
    i, f, o = (step.emit("Sigmoid", [x])[0] for x in (i, f, o))
    g = step.emit("Tanh", [g])[0]
    c_next = step.emit("Add", [step.emit("Mul", [f, c])[0], step.emit("Mul", [i, g])[0]],
                       [step.outputs[1]])[0]
    step.emit("Mul", [o, step.emit("Tanh", [c_next])[0]], [step.outputs[0]])


@symbolic("gru_cell")
def _gru_cell(step: Step) -> None:
    gates_x, gates_h, h = step.inputs
    x_r, x_z, x_n = _chunks(step, gates_x, 3)
    h_r, h_z, h_n = _chunks(step, gates_h, 3)
    r = step.emit("Sigmoid", step.emit("Add", [x_r, h_r]))[0]
    z = step.emit("Sigmoid", step.emit("Add", [x_z, h_z]))[0]
    n = step.emit("Tanh", step.emit("Add", [x_n, step.emit("Mul", [r, h_n])[0]]))[0]
    step.finish("Add", [n, step.emit("Mul", [z, step.emit("Sub", [h, n])[0]])[0]])


@symbolic("lstm_layer")
def _lstm_layer(step: Step) -> None:
    """ONNX LSTM over the projected input: W is a permutation (Ember's gates are i, f, g, o;
    ONNX's i, o, f, c), R the recurrent weight in ONNX's gate order, no bias. Zero initial
    states are left out (ONNX's default), so that they follow a dynamic batch size."""
    gates_x, h0, c0, weight_hh = step.inputs
    hidden = step.shape(1)[-1]
    order = np.concatenate([np.arange(k * hidden, (k + 1) * hidden) for k in (0, 3, 1, 2)])
    dtype = step.dtype(0)
    permutation = np.eye(4 * hidden, dtype=dtype)[order][None]
    recurrent = step.emit("Unsqueeze", [step.emit("Gather", [weight_hh, step.ints(order)],
                                                  axis=0)[0], step.ints([0])])[0]
    states = ["" if step.is_zero_constant(position) else
              step.emit("Unsqueeze", [name, step.ints([0])])[0]
              for position, name in ((1, h0), (2, c0))]
    y, y_h, y_c = step.emit("LSTM", [gates_x, step.b.const(permutation, "lstm_w"), recurrent, "",
                                     "", *states], 3, hidden_size=hidden,
                            direction="reverse" if step.attrs["reverse"] else "forward")
    step.emit("Squeeze", [y, step.ints([1])], [step.outputs[0]])
    step.emit("Squeeze", [y_h, step.ints([0])], [step.outputs[1]])
    step.emit("Squeeze", [y_c, step.ints([0])], [step.outputs[2]])
