"""``ember.multiprocessing``: tensors shared between processes, and Hogwild training.

Pickling here is only process-to-process (``multiprocessing``'s own pickler); files are never
unpickled.
"""

import multiprocessing as std_multiprocessing
import pickle

import numpy as np
import pytest

import ember
import ember.multiprocessing as mp
from ember import nn
from ember.backend import shared

START_METHODS = ["spawn", "fork"]


def _add_one(tensor):
    tensor.add_(1)


def _fill_from_queue(queue, done):
    tensor = queue.get()
    tensor.fill_(7)
    done.put(tensor.is_shared())


def _hogwild_worker(rank, model, inputs, targets, steps):
    # Each process trains the one shared model on its half of the data, as Hogwild does.
    ember.manual_seed(rank)
    optimizer = ember.optim.SGD(model.parameters(), lr=0.1)
    half = slice(rank * 32, (rank + 1) * 32)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(inputs[half]), targets[half])
        loss.backward()
        optimizer.step()


def _fail(rank):
    if rank == 1:
        raise ValueError("rank 1 fails on purpose")


def test_share_memory_moves_values_in_place():
    weight = nn.Parameter(ember.arange(6.0).reshape(2, 3))
    weight.grad = ember.ones(2, 3)
    assert not weight.is_shared()
    assert weight.share_memory_() is weight
    assert weight.is_shared() and weight.requires_grad and isinstance(weight, nn.Parameter)
    np.testing.assert_array_equal(weight.detach().numpy(), np.arange(6.0).reshape(2, 3))
    assert weight.grad.tolist() == [[1.0] * 3] * 2 and not weight.grad.is_shared()
    view = weight.detach()[1]
    assert view.is_shared()  # views of shared memory are shared
    before = weight.data_ptr()
    weight.share_memory_()  # already shared: nothing moves
    assert weight.data_ptr() == before


def test_module_share_memory_shares_parameters_and_buffers():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert model.share_memory() is model
    assert all(p.is_shared() for p in model.parameters())
    assert all(b.is_shared() for b in model.buffers())
    assert model(ember.randn(5, 3)).shape == (5, 4)


def test_plain_pickle_is_unaffected():
    # Only multiprocessing's pickler shares; pickle.dumps still copies the values.
    tensor = ember.ones(3).share_memory_()
    copied = pickle.loads(pickle.dumps(tensor))
    copied.add_(1)
    assert tensor.tolist() == [1.0, 1.0, 1.0] and not copied.is_shared()


@pytest.mark.parametrize("start_method", START_METHODS)
def test_child_writes_are_seen_by_the_parent(start_method):
    context = mp.get_context(start_method)
    tensor = ember.zeros(4).share_memory_()
    view = tensor.detach()[1:3]  # a view at an offset travels as that view
    process = context.Process(target=_add_one, args=(view,))
    process.start()
    process.join(60)
    assert process.exitcode == 0
    assert tensor.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_a_tensor_put_on_a_queue_is_moved_to_shared_memory():
    context = mp.get_context("spawn")
    queue, done = context.Queue(), context.Queue()
    tensor = ember.zeros(2, 2)
    process = context.Process(target=_fill_from_queue, args=(queue, done))
    process.start()
    queue.put(tensor)  # as PyTorch: sending shares the sender's tensor
    assert done.get(timeout=60) is True
    process.join(60)
    assert tensor.is_shared() and tensor.tolist() == [[7.0, 7.0], [7.0, 7.0]]


def test_non_leaf_requiring_grad_is_refused():
    x = ember.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor"):
        std_multiprocessing.reduction.ForkingPickler.dumps(x)


@pytest.mark.parametrize("start_method", START_METHODS)
def test_hogwild_two_processes_train_one_shared_model(start_method):
    # The program pattern: model.share_memory(), then mp.Process per rank, then join.
    context = mp.get_context(start_method)
    ember.manual_seed(0)
    true_weight = ember.tensor([[2.0, -1.0, 0.5]])
    inputs = ember.randn(64, 3)
    targets = inputs @ true_weight.T
    model = nn.Linear(3, 1)
    model.share_memory()
    initial = nn.functional.mse_loss(model(inputs), targets).item()
    start = model.weight.detach().clone()
    processes = []
    for rank in range(2):
        process = context.Process(target=_hogwild_worker, args=(rank, model, inputs, targets, 50))
        process.start()
        processes.append(process)
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0, 0]
    assert not ember.equal(model.weight.detach(), start)  # the children moved the parent's weights
    final = nn.functional.mse_loss(model(inputs), targets).item()
    assert final < initial / 20
    np.testing.assert_allclose(model.weight.detach().numpy(), true_weight.numpy(), atol=0.1)


def test_spawn_runs_each_rank_and_reports_a_failure():
    mp.spawn(_add_one, args=(), nprocs=0)  # nothing to run
    with pytest.raises(mp.ProcessRaisedException, match="rank 1 fails on purpose") as raised:
        mp.spawn(_fail, nprocs=2)
    assert raised.value.error_index == 1


def test_sharing_strategies():
    assert mp.get_sharing_strategy() == "file_descriptor"
    assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}
    mp.set_sharing_strategy("file_system")  # what scripts set to spare descriptors: accepted
    assert mp.get_sharing_strategy() == "file_system"
    mp.set_sharing_strategy("file_descriptor")
    with pytest.raises(ValueError, match="unknown strategy 'ipc'"):
        mp.set_sharing_strategy("ipc")
    assert mp.Process is std_multiprocessing.Process and mp.cpu_count() >= 1


def test_nothing_is_left_under_dev_shm():
    # Segments are unlinked as soon as they are made: only descriptors keep them.
    import os

    before = set(os.listdir(shared._FOLDER))
    kept = [ember.ones(3).share_memory_() for _ in range(3)]
    assert set(os.listdir(shared._FOLDER)) == before and all(t.is_shared() for t in kept)


def test_data_loader_workers_send_batches_through_shared_memory():
    # With the reducers registered, worker batches cross as shared segments, as in PyTorch.
    dataset = ember.utils.data.TensorDataset(ember.arange(200.0).reshape(100, 2),
                                             ember.arange(100))
    loader = ember.utils.data.DataLoader(dataset, batch_size=7, num_workers=2,
                                         multiprocessing_context="fork")
    for _ in range(2):  # two epochs: fresh workers each time
        batches = list(loader)
        assert all(x.is_shared() and y.is_shared() for x, y in batches)
        assert ember.cat([y for _, y in batches]).tolist() == list(range(100))
        assert ember.cat([x for x, _ in batches]).sum().item() == sum(range(200))

