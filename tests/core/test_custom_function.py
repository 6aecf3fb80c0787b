"""Custom ops with ember.autograd.Function, and gradcheck catching wrong backwards."""

import numpy as np
import pytest

import ember
from ember.autograd import Function, GradcheckError, gradcheck, gradgradcheck
from ember.autograd.custom import once_differentiable


def leaf(values, device="cpu"):
    return ember.tensor(values, dtype=ember.float64, device=device, requires_grad=True)


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x**2


class ScaledProduct(Function):
    """``scale * a * b`` with a non-tensor argument and a recorded ``needs_input_grad``."""

    seen_needs = None

    @staticmethod
    def forward(ctx, a, scale, b):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        ScaledProduct.seen_needs = ctx.needs_input_grad
        return a * b * scale

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        grad_a = grad_output * b * ctx.scale if ctx.needs_input_grad[0] else None
        grad_b = grad_output * a * ctx.scale if ctx.needs_input_grad[2] else None
        return grad_a, None, grad_b


class SumAndProduct(Function):
    """Two outputs: ``a + b`` and ``a * b``."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a + b, a * b

    @staticmethod
    def backward(ctx, grad_sum, grad_product):
        a, b = ctx.saved_tensors
        return grad_sum + grad_product * b, grad_sum + grad_product * a


class ExpSavingOutput(Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * y


class MaxWithIndex(Function):
    """Returns the values and (non-differentiable) float positions of a row-wise maximum."""

    @staticmethod
    def forward(ctx, x):
        index = x.detach().numpy().argmax(axis=-1)
        values = ember.Tensor(np.take_along_axis(x.detach().numpy(), index[..., None], -1)[..., 0])
        positions = ember.Tensor(index.astype(x.detach().numpy().dtype))
        ctx.mark_non_differentiable(positions)
        ctx.index = index
        ctx.shape = x.shape
        return values, positions

    @staticmethod
    def backward(ctx, grad_values, grad_positions):
        grad = np.zeros(ctx.shape)
        np.put_along_axis(grad, ctx.index[..., None], grad_values.numpy()[..., None], -1)
        return ember.Tensor(grad)


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x**2  # should be 3 x^2


class DetachedCube(Cube):
    """Right first derivative, but its backward cuts the graph: second order is wrong."""

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return (grad_output * 3 * x**2).detach()


class SetupContextSquare(Function):
    """PyTorch 2 style: forward without ctx, saving in setup_context."""

    @staticmethod
    def forward(x):
        return x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        (x,) = inputs
        ctx.save_for_backward(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x * grad_output


def test_forward_backward_and_gradchecks(device):
    x = leaf([0.5, -1.0, 2.0], device)
    y = Cube.apply(x)
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), 3 * np.array([0.25, 1.0, 4.0]))
    assert gradcheck(Cube.apply, (leaf([0.3, -0.7], device),))
    assert gradgradcheck(Cube.apply, (leaf([0.3, -0.7], device),))


def test_repr_names_the_custom_node():
    assert "grad_fn=<CubeBackward" in repr(Cube.apply(leaf([1.0])))


def test_forward_runs_without_recording():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(ember.is_grad_enabled())
            out = x * 2
            seen.append(out.requires_grad)
            return out

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * 2

    Probe.apply(leaf([1.0]))
    assert seen == [False, False]


def test_non_tensor_arguments_and_needs_input_grad():
    a, b = leaf([2.0]), ember.tensor([5.0], dtype=ember.float64)
    out = ScaledProduct.apply(a, 3.0, b)
    assert ScaledProduct.seen_needs == (True, False, False)
    out.sum().backward()
    assert a.grad.tolist() == [15.0] and b.grad is None
    gradcheck(lambda p, q: ScaledProduct.apply(p, -1.5, q), (leaf([0.3, 1.0]), leaf([2.0, 4.0])))


def test_multiple_outputs():
    a, b = leaf([2.0]), leaf([3.0])
    total, product = SumAndProduct.apply(a, b)
    assert total.grad_fn is product.grad_fn
    (total * 10 + product).sum().backward()
    assert a.grad.tolist() == [10 + 3] and b.grad.tolist() == [10 + 2]
    gradcheck(SumAndProduct.apply, (leaf([0.5, 1.5]), leaf([-1.0, 2.0])))
    gradgradcheck(SumAndProduct.apply, (leaf([0.5, 1.5]), leaf([-1.0, 2.0])))


def test_an_unused_output_gets_a_zero_gradient():
    a, b = leaf([2.0]), leaf([3.0])
    _, product = SumAndProduct.apply(a, b)
    product.sum().backward()  # backward receives zeros for the sum
    assert a.grad.tolist() == [3.0] and b.grad.tolist() == [2.0]


def test_mark_non_differentiable():
    x = leaf([[1.0, 5.0, 2.0], [7.0, 0.0, 1.0]])
    values, positions = MaxWithIndex.apply(x)
    assert values.requires_grad and not positions.requires_grad
    assert positions.tolist() == [1.0, 0.0]
    values.sum().backward()
    assert x.grad.tolist() == [[0, 1, 0], [1, 0, 0]]


def test_saved_output_and_version_check():
    x = leaf([0.0, 1.0])
    y = ExpSavingOutput.apply(x)
    y.sum().backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]))
    gradcheck(ExpSavingOutput.apply, (leaf([0.2, -0.4]),))
    z = Cube.apply(x)
    x.data[0] = 3.0  # simulating an in-place op on the saved input
    x._bump_version()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_freed_custom_graph_raises_on_second_walk():
    x = leaf([1.0])
    y = Cube.apply(x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_graph_when_nothing_requires_grad():
    out = Cube.apply(ember.tensor([2.0]))
    assert not out.requires_grad and out.grad_fn is None
    with ember.no_grad():
        assert Cube.apply(leaf([2.0])).grad_fn is None


def test_custom_function_inside_a_larger_graph_and_higher_order():
    x = leaf([1.5])
    y = Cube.apply(x * 2) + x
    (g,) = ember.autograd.grad(y.sum(), x, create_graph=True)
    assert g.item() == pytest.approx(3 * 3.0**2 * 2 + 1)
    (gg,) = ember.autograd.grad(g.sum(), x)
    assert gg.item() == pytest.approx(6 * 3.0 * 4)


def test_setup_context_style():
    x = leaf([3.0])
    SetupContextSquare.apply(x).sum().backward()
    assert x.grad.tolist() == [6.0]
    gradcheck(SetupContextSquare.apply, (leaf([0.5, -2.0]),))


def test_once_differentiable_backward_records_no_graph():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return 2 * x * grad_output

    x = leaf([2.0])
    (g,) = ember.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [4.0] and not g.requires_grad


def test_backward_returning_too_few_gradients_raises():
    class Broken(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    with pytest.raises(RuntimeError, match="expected 2"):
        Broken.apply(leaf([1.0]), leaf([2.0])).sum().backward()


# ---- gradcheck must catch wrong backwards ----------------------------------------------------


def test_gradcheck_catches_a_wrong_backward():
    x = leaf([0.4, -1.3, 2.0])
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongCube.apply, (x,))
    assert gradcheck(WrongCube.apply, (x,), raise_exception=False) is False


def test_gradcheck_fast_mode_catches_a_wrong_backward():
    x = leaf(np.linspace(0.5, 2.0, 20))
    assert gradcheck(Cube.apply, (x,), fast_mode=True)
    with pytest.raises(GradcheckError, match="mismatch"):
        gradcheck(WrongCube.apply, (x,), fast_mode=True)


def test_gradgradcheck_catches_a_non_differentiable_backward():
    x = leaf([0.4, -1.3])
    assert gradcheck(DetachedCube.apply, (x,))  # first order is right ...
    with pytest.raises(GradcheckError):
        gradgradcheck(DetachedCube.apply, (x,))  # ... second order is not


def test_gradcheck_requires_float64_inputs():
    with pytest.raises(GradcheckError, match="float64"):
        gradcheck(Cube.apply, (ember.ones(2, requires_grad=True),))
    with pytest.raises(GradcheckError, match="no input requires grad"):
        gradcheck(Cube.apply, (ember.ones(2, dtype=ember.float64),))
