"""no_grad, enable_grad, set_grad_enabled and inference_mode as contexts and decorators."""

import asyncio
import gc
import threading

import pytest

import ember
from ember.autograd import function

MODES = {
    "no_grad": (ember.no_grad, False),
    "enable_grad": (ember.enable_grad, True),
    "inference_mode": (ember.inference_mode, False),
}


def _records(x):
    """Whether an op on ``x`` (which requires grad) records a graph right now."""
    y = x * 2
    return y.requires_grad and y.grad_fn is not None


@pytest.fixture
def x():
    return ember.ones(2, requires_grad=True)


@pytest.mark.parametrize("name", list(MODES))
def test_as_context_manager(name, x):
    mode, enabled = MODES[name]
    with ember.no_grad() if enabled else ember.enable_grad():  # start from the other mode
        with mode():
            assert ember.is_grad_enabled() is enabled
            assert _records(x) is enabled
        assert ember.is_grad_enabled() is not enabled
    assert ember.is_grad_enabled()


@pytest.mark.parametrize("name", list(MODES))
@pytest.mark.parametrize("bare", [False, True])
def test_as_decorator(name, bare, x):
    mode, enabled = MODES[name]

    def body(tensor, scale=1.0):
        """Docstring kept."""
        return ember.is_grad_enabled(), _records(tensor * scale)

    decorated = mode(body) if bare else mode()(body)
    assert decorated.__name__ == "body" and decorated.__doc__ == "Docstring kept."
    with ember.no_grad() if enabled else ember.enable_grad():
        assert decorated(x, scale=2.0) == (enabled, enabled)
        assert ember.is_grad_enabled() is not enabled


def test_mode_is_restored_after_exceptions(x):
    @ember.no_grad()
    def fails():
        raise ValueError("boom")

    with pytest.raises(ValueError):
        fails()
    assert ember.is_grad_enabled()
    with pytest.raises(KeyError):
        with ember.no_grad():
            raise KeyError("boom")
    assert ember.is_grad_enabled()


def test_decorated_generators_hold_the_mode_only_while_running(x):
    @ember.no_grad()
    def steps():
        for _ in range(2):
            received = yield ember.is_grad_enabled(), _records(x)
            assert received == "sent"
        return "done"

    generator = steps()
    assert next(generator) == (False, False)
    assert ember.is_grad_enabled()  # the caller runs with its own mode between steps
    assert generator.send("sent") == (False, False)
    with pytest.raises(StopIteration) as stop:
        generator.send("sent")
    assert stop.value.value == "done"


def test_nesting():
    with ember.no_grad():
        with ember.enable_grad():
            assert ember.is_grad_enabled()
            with ember.no_grad():
                assert not ember.is_grad_enabled()
            assert ember.is_grad_enabled()
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()


def test_set_grad_enabled_as_function_context_and_decorator(x):
    ember.set_grad_enabled(False)  # takes effect at once, like PyTorch
    try:
        assert not ember.is_grad_enabled() and not _records(x)
    finally:
        ember.set_grad_enabled(True)
    assert ember.is_grad_enabled()
    for mode in (False, True):
        with ember.set_grad_enabled(mode):
            assert ember.is_grad_enabled() is mode
            assert _records(x) is mode
        assert ember.is_grad_enabled()

    @ember.set_grad_enabled(False)
    def inside():
        return ember.is_grad_enabled()

    assert ember.is_grad_enabled()  # decorating did not switch the mode
    assert inside() is False and ember.is_grad_enabled()


def test_inference_mode_false_changes_nothing(x):
    with ember.no_grad():
        with ember.inference_mode(False):
            assert not ember.is_grad_enabled()
    with ember.inference_mode(mode=False):
        assert _records(x)


def test_no_grad_does_not_touch_flags_of_new_leaves():
    with ember.no_grad():
        w = ember.zeros(2, requires_grad=True)
        y = w * 2
    assert w.requires_grad and w.is_leaf
    assert not y.requires_grad and y.grad_fn is None
    (w * 3).sum().backward()  # graphs made after the block record as usual
    assert w.grad.tolist() == [3.0, 3.0]


def test_manual_update_under_no_grad():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with ember.no_grad():
        updated = w - 0.1 * w.grad
    assert not updated.requires_grad
    assert updated.tolist() == pytest.approx([0.8, 1.6])


def test_backward_runs_with_grad_mode_off_unless_create_graph():
    seen = []
    x = ember.ones(1, requires_grad=True)
    x.register_hook(lambda g: seen.append(ember.is_grad_enabled()))
    (x * 2).sum().backward()
    (x * 2).sum().backward(create_graph=True)
    assert seen == [False, True]
    assert ember.is_grad_enabled()


def _in_thread(fn, *args):
    """Runs ``fn`` in a new thread and returns its result (or raises its exception)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = fn(*args)
        except BaseException as error:  # noqa: BLE001  (handed back to the test)
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_grad_mode_is_thread_local(x):
    # As PyTorch: each thread has its own mode, and a new thread starts with grad enabled.
    with ember.no_grad():
        assert _in_thread(lambda: (ember.is_grad_enabled(), _records(x))) == (True, True)
        assert not _records(x)
        with ember.enable_grad():
            assert _records(x)
        assert not _records(x)

    def disable_and_check():
        ember.set_grad_enabled(False)  # left off when the thread ends
        return ember.is_grad_enabled(), _records(x)

    assert _in_thread(disable_and_check) == (False, False)
    assert ember.is_grad_enabled() and _records(x)
    gc.collect()
    # The finished thread no longer counts: ops are back on the fast path for every thread.
    assert function._grad_enabled


def test_threads_switching_modes_concurrently_keep_their_own(x):
    barrier = threading.Barrier(4)

    def worker(enabled):
        seen = []
        for _ in range(200):
            with ember.set_grad_enabled(enabled):
                if not seen:
                    barrier.wait()  # all four threads inside their own mode at once
                seen.append((ember.is_grad_enabled(), _records(x)))
        return set(seen)

    results = {}
    threads = [threading.Thread(target=lambda e=e, n=n: results.__setitem__(n, worker(e)))
               for n, e in enumerate([True, False, True, False])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {0: {(True, True)}, 1: {(False, False)}, 2: {(True, True)},
                       3: {(False, False)}}
    assert function._grad_enabled and ember.is_grad_enabled()


def test_asyncio_tasks_keep_their_own_mode(x):
    # Ember holds the mode in a context variable: a task awaiting inside no_grad does not turn
    # grad off for the other tasks of its thread (in PyTorch, thread-local, it would).
    async def evaluate(started, resume):
        with ember.no_grad():
            started.set()
            await resume.wait()
            return ember.is_grad_enabled()

    async def train(started, resume):
        await started.wait()
        recorded = _records(x)
        resume.set()
        return recorded

    async def main():
        started, resume = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(evaluate(started, resume), train(started, resume))

    assert asyncio.run(main()) == [False, True]
    assert ember.is_grad_enabled() and function._grad_enabled
