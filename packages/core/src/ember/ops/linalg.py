"""Linear algebra: matmul and its fixed-rank forms (mm, bmm, dot, outer), linear, einsum, trace.

One ``matmul`` primitive carries BLAS-style ``transpose_a``/``transpose_b`` flags, so every
gradient of a product is again one product (no transpose node, and the array library reads the
swapped view without copying). ``linear`` is its own primitive because every MLP and RNN step
runs it.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

from ember.autograd.function import Function
from ember.backend import xp_of
from ember.ops._promotion import tensor_operand
from ember.ops.op import op, primitive
from ember.ops.reduction import Sum
from ember.tensor.tensor import Tensor

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# ---- matmul ------------------------------------------------------------------------------------


@primitive("matmul")
class Matmul(Function):
    """``op(a) @ op(b)`` for operands of 2 or more dims with broadcast batch dims; ``op`` swaps
    the last two dims where the matching ``transpose_*`` flag is set."""

    @staticmethod
    def forward(ctx, a, b, transpose_a=False, transpose_b=False):
        ctx.save_for_backward(a, b)
        ctx.flags = (transpose_a, transpose_b)
        if transpose_a:
            a = a.swapaxes(-1, -2)
        if transpose_b:
            b = b.swapaxes(-1, -2)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ta, tb = ctx.flags
        needs = ctx.needs_input_grad
        grad_a = grad_b = None
        if needs[0]:  # d op(a) = grad @ op(b)^T, transposed back when a was used transposed
            if ta:
                grad_a = Matmul.apply(b, grad, transpose_a=tb, transpose_b=True)
            else:
                grad_a = Matmul.apply(grad, b, transpose_a=False, transpose_b=not tb)
        if needs[1]:  # d op(b) = op(a)^T @ grad
            if tb:
                grad_b = Matmul.apply(grad, a, transpose_a=True, transpose_b=ta)
            else:
                grad_b = Matmul.apply(a, grad, transpose_a=not ta, transpose_b=False)
        return grad_a, grad_b

    @staticmethod
    def backward_arrays(ctx, grad):
        a, b = ctx.saved_arrays
        ta, tb = ctx.flags
        needs = ctx.needs_input_grad
        grad_a = grad_b = None
        if needs[0]:
            grad_a = grad @ (b if tb else b.swapaxes(-1, -2))
            if ta:
                grad_a = grad_a.swapaxes(-1, -2)
        if needs[1]:
            grad_b = (a if ta else a.swapaxes(-1, -2)) @ grad
            if tb:
                grad_b = grad_b.swapaxes(-1, -2)
        return grad_a, grad_b


def _same_dtype(name: str, a: Tensor, b: Tensor) -> None:
    if a._array.dtype is not b._array.dtype and a._array.dtype != b._array.dtype:
        raise RuntimeError(
            f"{name}: expected both operands to have the same dtype, but got {a.dtype} and "
            f"{b.dtype}"
        )


def _check_shapes(name: str, a_shape: tuple, b_shape: tuple) -> None:
    inner_a = a_shape[-1]
    inner_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if inner_a != inner_b:
        detail = f"({inner_a} != {inner_b})"
    else:
        for m, n in zip(reversed(a_shape[:-2]), reversed(b_shape[:-2])):
            if m != n and m != 1 and n != 1:
                detail = f"(batch dimensions {a_shape[:-2]} and {b_shape[:-2]} do not broadcast)"
                break
        else:
            return
    raise RuntimeError(
        f"{name}: shapes {tuple(a_shape)} and {tuple(b_shape)} cannot be multiplied {detail}"
    )


def _matmul(name: str, a: Tensor, b: Tensor) -> Tensor:
    a_shape, b_shape = a._array.shape, b._array.shape
    a_nd, b_nd = len(a_shape), len(b_shape)
    if a_nd == 0 or b_nd == 0:
        raise RuntimeError(
            f"{name}: both arguments need to be at least 1D, but they are {a_nd}D and {b_nd}D"
        )
    if a._array.dtype is not b._array.dtype:
        _same_dtype(name, a, b)
    _check_shapes(name, a_shape, b_shape)
    if a_nd > 1 and b_nd > 1:
        return Matmul.apply(a, b, transpose_a=False, transpose_b=False)
    # A 1-D operand is a row (left) or column (right) matrix whose added dim is dropped.
    rows = a if a_nd > 1 else a.reshape(1, a_shape[0])
    cols = b if b_nd > 1 else b.reshape(b_shape[0], 1)
    out = Matmul.apply(rows, cols, transpose_a=False, transpose_b=False)
    shape = out._array.shape
    if a_nd == 1 and b_nd == 1:
        return out.reshape(())
    if a_nd == 1:
        return out.reshape(shape[:-2] + shape[-1:])
    return out.reshape(shape[:-1])


@op("matmul", method=("matmul", "__matmul__"))
def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with NumPy/PyTorch semantics: 1-D @ 1-D is a dot product, a 1-D operand is
    promoted to a matrix and its dim removed afterwards, and batch dims broadcast:
    ``(*, n, k) @ (*, k, m) -> (*, n, m)``.

    Example:
        >>> (ember.ones(2, 3, 4) @ ember.ones(4)).shape
        (2, 3)
    """
    if input.__class__ is not Tensor and getattr(input, "is_sparse", False) is True:
        return input.matmul(other)  # ember.sparse's COO tensor: sparse @ dense
    if other.__class__ is not Tensor and not isinstance(other, Tensor):
        other = tensor_operand(other, input, "matmul")
    return _matmul("matmul", input, other)


def _rmatmul(self: Tensor, other) -> Tensor:
    return _matmul("matmul", tensor_operand(other, self, "matmul"), self)


Tensor.__rmatmul__ = _rmatmul


def _check_ndim(name: str, tensors: dict, ndim: int, kind: str) -> None:
    for label, tensor in tensors.items():
        if tensor._array.ndim != ndim:
            raise RuntimeError(
                f"{name}: {label} must be a {kind} ({ndim}-D), got a {tensor._array.ndim}-D tensor "
                f"of shape {tuple(tensor._array.shape)}"
            )


@op("mm", method=True)
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Product of two matrices ``(n, k) @ (k, m) -> (n, m)``; no broadcasting. A sparse COO
    ``input`` (``ember.sparse``) gives ``ember.sparse.mm(input, mat2)``."""
    if input.__class__ is not Tensor and getattr(input, "is_sparse", False) is True:
        return input.mm(mat2)
    _check_ndim("mm", {"input": input, "mat2": mat2}, 2, "matrix")
    return _matmul("mm", input, mat2)


@op("bmm", method=True)
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched product ``(b, n, k) @ (b, k, m) -> (b, n, m)``; batch sizes must be equal."""
    _check_ndim("bmm", {"input": input, "mat2": mat2}, 3, "batch of matrices")
    if input._array.shape[0] != mat2._array.shape[0]:
        raise RuntimeError(
            f"bmm: batch sizes differ: input has shape {tuple(input._array.shape)} and mat2 "
            f"{tuple(mat2._array.shape)}"
        )
    return _matmul("bmm", input, mat2)


@op("dot", method=True)
def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of the same length (a 0-d result)."""
    _check_ndim("dot", {"input": input, "tensor": tensor}, 1, "vector")
    if input._array.shape != tensor._array.shape:
        raise RuntimeError(
            f"dot: inconsistent tensor size, expected tensors of the same number of elements, "
            f"but got {input._array.shape[0]} and {tensor._array.shape[0]}"
        )
    return _matmul("dot", input, tensor)


@op("outer", method=("outer", "ger"))
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors: ``(n,), (m,) -> (n, m)``."""
    _check_ndim("outer", {"input": input, "vec2": vec2}, 1, "vector")
    return input.reshape(input._array.shape[0], 1) * vec2.reshape(1, vec2._array.shape[0])


@op("addmm", method=True)
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``; with ``beta == 0`` input is ignored (nan too)."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


@op("baddbmm", method=True)
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


@op("addbmm", method=True)
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``: ``(n, p)`` from ``(b, n, m)``
    and ``(b, m, p)``.

    Example:
        >>> ember.addbmm(ember.zeros(2, 2), ember.ones(3, 2, 4), ember.ones(3, 4, 2))
        tensor([[12., 12.],
                [12., 12.]])
    """
    return _scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha)


def _scaled_sum(input, product, beta, alpha):
    if alpha != 1:
        product = product * alpha
    if beta == 0:  # input only has to broadcast; its values (nan included) are not read
        return product
    return product + (input if beta == 1 else input * beta)


# ---- linear ------------------------------------------------------------------------------------


def _as_matrix(t: Tensor) -> Tensor:
    """``(*, n)`` flattened to ``(prod(*), n)``: itself when already 2-D."""
    shape = t._array.shape
    if len(shape) == 2:
        return t
    return t.reshape(math.prod(shape[:-1]), shape[-1])


@primitive("linear")
class Linear(Function):
    """``x @ weight^T + bias``: ``(*, in), (out, in), (out,) -> (*, out)``."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        ctx.save_for_backward(x, weight)
        if x.ndim > 2:  # one BLAS call over all leading dims instead of one per batch entry
            lead = x.shape[:-1]
            out = (x.reshape(math.prod(lead), x.shape[-1]) @ weight.T).reshape(
                lead + (weight.shape[0],)
            )
        else:
            out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        grad_rows = _as_matrix(grad)  # (N, out)
        grad_x = grad_w = grad_b = None
        if needs[0]:
            grad_x = Matmul.apply(grad_rows, weight, transpose_a=False, transpose_b=False)
            if grad_x._array.shape != x._array.shape:
                grad_x = grad_x.reshape(x._array.shape)
        if needs[1]:
            grad_w = Matmul.apply(grad_rows, _as_matrix(x), transpose_a=True, transpose_b=False)
        if len(needs) > 2 and needs[2]:
            grad_b = Sum.apply(grad_rows, axes=(0,), keepdim=False, dtype=None)
        return grad_x, grad_w, grad_b

    @staticmethod
    def backward_arrays(ctx, grad):
        x, weight = ctx.saved_arrays
        needs = ctx.needs_input_grad
        if grad.ndim != 2:
            grad = grad.reshape(math.prod(grad.shape[:-1]), grad.shape[-1])
        grad_x = grad_w = grad_b = None
        if needs[0]:
            grad_x = (grad @ weight).reshape(x.shape)
        if needs[1]:
            rows = x if x.ndim == 2 else x.reshape(grad.shape[0], x.shape[-1])
            grad_w = grad.T @ rows
        if len(needs) > 2 and needs[2]:
            grad_b = grad.sum(axis=0)
        return grad_x, grad_w, grad_b


@op("linear")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``input @ weight.T + bias`` (``nn.functional.linear``).

    Shapes: input ``(*, in_features)``, weight ``(out_features, in_features)``, bias
    ``(out_features,)`` -> ``(*, out_features)``. The bias gradient is summed over all leading dims.

    Example:
        >>> ember.linear(ember.ones(2, 3), ember.ones(4, 3), ember.zeros(4)).shape
        (2, 4)
    """
    dtype = input._array.dtype
    if weight._array.dtype is not dtype or (bias is not None and bias._array.dtype is not dtype):
        _same_dtype("linear", input, weight)
        if bias is not None:
            _same_dtype("linear", input, bias)
    if weight._array.ndim != 2 or input._array.ndim == 0:
        raise RuntimeError(
            f"linear: expected input (*, in_features) and a 2-D weight (out_features, "
            f"in_features), got input {tuple(input._array.shape)} and weight "
            f"{tuple(weight._array.shape)}"
        )
    if input._array.shape[-1] != weight._array.shape[1]:
        raise RuntimeError(
            f"linear: input {tuple(input._array.shape)} cannot be multiplied with weight "
            f"{tuple(weight._array.shape)} transposed ({input._array.shape[-1]} != "
            f"{weight._array.shape[1]})"
        )
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)


# ---- trace -------------------------------------------------------------------------------------


@primitive("trace")
class Trace(Function):
    """Sum of the main diagonal of a matrix."""

    @staticmethod
    def forward(ctx, a):
        ctx.shape = a.shape
        return ctx.xp.trace(a, dtype="int64" if a.dtype.kind in "biu" else None)

    @staticmethod
    def backward(ctx, grad):
        return grad * Tensor(ctx.xp.eye(*ctx.shape, dtype=grad._array.dtype))


@op("trace", method=True)
def trace(input: Tensor) -> Tensor:
    """Sum of the diagonal of a 2-D tensor (integers sum in int64)."""
    _check_ndim("trace", {"input": input}, 2, "matrix")
    return Trace.apply(input)


# ---- einsum ------------------------------------------------------------------------------------


@primitive("einsum")
class Einsum(Function):
    """Einstein summation with an explicit equation (``"ij,jk->ik"``, no ellipsis left)."""

    @staticmethod
    def forward(ctx, *operands, equation):
        ctx.save_for_backward(*operands)
        # Path optimisation (BLAS contractions, pairwise order) pays off beyond tiny inputs.
        optimize = len(operands) > 2 or sum(o.size for o in operands) > 4096
        return ctx.xp.einsum(equation, *operands, optimize=optimize)

    @staticmethod
    def backward(ctx, grad):
        operands = ctx.saved_tensors
        lhs, output = ctx.attrs["equation"].split("->")
        terms = lhs.split(",")
        return tuple(
            _einsum_grad(index, grad, operands, terms, output) if need else None
            for index, need in enumerate(ctx.needs_input_grad)
        )


def _einsum_grad(index, grad, operands, terms, output):
    """Gradient of one einsum operand: the output gradient contracted with the other operands,
    broadcast along labels only this operand has, and put back on the diagonal for labels it
    repeats (``"ii->i"``)."""
    term = terms[index]
    others = [t for j, t in enumerate(terms) if j != index]
    available = set(output).union(*others)
    unique = "".join(dict.fromkeys(term))
    kept = "".join(c for c in unique if c in available)
    equation = ",".join([output, *others]) + "->" + kept
    rest = [o for j, o in enumerate(operands) if j != index]
    result = Einsum.apply(grad, *rest, equation=equation)
    shape = operands[index]._array.shape
    size = {c: shape[term.index(c)] for c in unique}
    if len(kept) < len(unique):
        got = dict(zip(kept, result._array.shape))
        result = result.reshape(tuple(got.get(c, 1) for c in unique))
        result = result.expand(*(got.get(c, size[c]) for c in unique))
    if len(unique) < len(term):
        spare = iter(c for c in _LETTERS if c not in set("".join(terms) + output))
        placed, eye_terms, eyes = "", [], []
        for c in term:
            if c in placed:
                fresh = next(spare)
                placed += fresh
                eye_terms.append(c + fresh)
                eyes.append(_eye(grad, size[c]))
            else:
                placed += c
        equation = ",".join([unique, *eye_terms]) + "->" + placed
        result = Einsum.apply(result, *eyes, equation=equation)
    return result


def _eye(like: Tensor, n: int) -> Tensor:
    return Tensor(xp_of(like._array).eye(n, dtype=like._array.dtype))


@functools.lru_cache(maxsize=256)
def _explicit_equation(equation: str, shapes: tuple) -> str:
    """``equation`` with the ellipsis spelled out as letters and the output made explicit."""
    equation = equation.replace(" ", "")
    lhs, arrow, output = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(
            f"einsum(): the equation {equation!r} has {len(terms)} operand(s) but "
            f"{len(shapes)} were given"
        )
    for part in terms + [output]:
        bad = set(part.replace("...", "")) - set(_LETTERS)
        if bad or part.count("...") > 1:
            raise RuntimeError(
                f"einsum(): invalid subscript {part!r} in {equation!r}: subscripts must be letters "
                "[a-zA-Z] with at most one ellipsis per operand"
            )
    spare = iter(c for c in _LETTERS if c not in equation)
    ellipsis_ndim = 0
    for term, shape in zip(terms, shapes):
        if "..." in term:
            ellipsis_ndim = max(ellipsis_ndim, len(shape) - len(term) + 3)
    ellipsis = "".join(next(spare) for _ in range(ellipsis_ndim))
    explicit = []
    for index, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term) - 3 if "..." in term else len(term)
        if named > len(shape) or ("..." not in term and named != len(shape)):
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({named}) does not match "
                f"the number of dimensions ({len(shape)}) for operand {index}"
                + ("" if "..." in term else " and no ellipsis was given")
            )
        own = len(shape) - named
        explicit.append(term.replace("...", ellipsis[ellipsis_ndim - own:]))
    sizes: dict = {}
    for index, (term, shape) in enumerate(zip(explicit, shapes)):
        for label, n in zip(term, shape):
            seen, where = sizes.get(label, (1, index))
            if n != seen and n != 1 and seen != 1:
                raise RuntimeError(
                    f"einsum(): subscript {label} has size {seen} for operand {where} which does "
                    f"not broadcast with size {n} for operand {index} (shapes {list(shapes)})"
                )
            if n != 1:
                sizes[label] = (n, index)
    if arrow:
        output = output.replace("...", ellipsis)
        missing = set(output) - set("".join(explicit))
        if missing:
            raise RuntimeError(
                f"einsum(): output subscript(s) {''.join(sorted(missing))} in {equation!r} "
                "appear in no operand"
            )
    else:
        counts = Counter("".join(terms).replace("...", ""))
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))
    return ",".join(explicit) + "->" + output


@op("einsum")
def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over ``operands`` as PyTorch's ``einsum`` (ellipsis and implicit
    output included); also accepts the operands as one list.

    Example:
        >>> ember.einsum("ij,jk->ik", ember.ones(2, 3), ember.ones(3, 4)).shape
        (2, 4)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    first = operands[0]
    for other in operands[1:]:
        if other._array.dtype is not first._array.dtype:
            _same_dtype("einsum", first, other)
    explicit = _explicit_equation(equation, tuple(o._array.shape for o in operands))
    return Einsum.apply(*operands, equation=explicit)
