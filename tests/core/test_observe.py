"""ember.autograd.observe: observers see every op and backward node, and leave no trace."""

import numpy as np

import ember
from ember.autograd import function as fn_state
from ember.autograd.observe import Observer, observing


class Recorder(Observer):
    def __init__(self, tag, log):
        self.tag, self.log = tag, log

    def op(self, cls, inputs, attrs, run):
        self.log.append((self.tag, "op", cls.name, len(inputs)))
        return run()

    def backward(self, node, run):
        self.log.append((self.tag, "backward", node.name))
        return run()


def test_sees_every_op_and_backward_node_with_unchanged_results():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    log = []
    with observing(Recorder("r", log)):
        y = (x.exp() * 2.0).sum()
        y.backward()
    ops = [entry[2] for entry in log if entry[1] == "op"]
    assert ops[0] == "exp" and ops[-1] == "sum" and len(ops) == 3
    assert [entry[2] for entry in log if entry[1] == "backward"] == list(reversed(ops))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0, 3.0]), rtol=1e-6)


def test_nested_observers_run_outermost_first_and_each_op_once():
    log = []
    with observing(Recorder("outer", log)), observing(Recorder("inner", log)):
        ember.ones(3).neg()
    assert log == [("outer", "op", "neg", 1), ("inner", "op", "neg", 1)]


def test_an_observer_can_stand_in_for_the_op():
    class Doubling(Observer):
        def op(self, cls, inputs, attrs, run):
            return run() * 2

    with observing(Doubling()):
        result = ember.ones(2).neg()
    np.testing.assert_array_equal(result.numpy(), [-2.0, -2.0])


def test_the_hook_goes_with_the_last_observer_even_after_an_error():
    try:
        with observing(Observer()):
            raise KeyError("boom")
    except KeyError:
        pass
    assert fn_state._observer is None
