"""``nn.DataParallel`` and ``nn.parallel``'s scatter / parallel_apply / gather, as PyTorch's."""

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn.parallel import gather, parallel_apply, scatter

CPU = ember.device("cpu")


def _model():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_transparent_wrapper_without_several_gpus():
    model = _model()
    wrapped = nn.DataParallel(model)
    assert wrapped.module is model
    x = ember.randn(5, 3)
    out = wrapped(x) if not ember.cuda.is_available() else wrapped(x).cpu()
    np.testing.assert_allclose(out.detach().numpy(), model(x.to(out.device)).detach().numpy(),
                               rtol=1e-6)
    assert list(wrapped.state_dict()) == ["module.0.weight", "module.0.bias", "module.2.weight",
                                          "module.2.bias"]
    assert [name for name, _ in wrapped.named_parameters()][0] == "module.0.weight"


@pytest.mark.skipif(ember.cuda.is_available(), reason="the answers on a machine without a GPU")
def test_defaults_on_a_machine_without_gpus():
    wrapped = nn.DataParallel(_model())
    assert wrapped.device_ids == [] and wrapped.output_device is None
    assert wrapped(ember.ones(2, 3)).device == CPU


def test_functional_form_runs_the_module():
    model = _model()
    x = ember.randn(4, 3)
    expected = model(x).detach().numpy()
    out = nn.parallel.data_parallel(model, x, range(0))  # DCGAN's range(ngpu) with ngpu = 0
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5)
    assert nn.parallel.data_parallel(model, (x,), []).shape == (4, 2)


def test_state_dict_round_trip_between_wrapped_and_plain():
    # The checkpoint idiom: save model.module.state_dict(), or strip "module." on load.
    wrapped = nn.DataParallel(_model())
    plain = _model()
    for p in plain.parameters():
        p.data.zero_()
    plain.load_state_dict({k.removeprefix("module."): v for k, v in wrapped.state_dict().items()})
    for a, b in zip(plain.parameters(), wrapped.module.parameters()):
        assert ember.equal(a, b)
    fresh = nn.DataParallel(_model())
    assert not fresh.load_state_dict(wrapped.state_dict()).missing_keys


def test_training_through_the_wrapper_updates_the_module():
    model = _model()
    wrapped = nn.DataParallel(model)
    optimizer = ember.optim.SGD(wrapped.parameters(), lr=0.1)
    before = model[0].weight.detach().clone()
    loss = wrapped(ember.randn(8, 3)).pow(2).mean()
    loss.backward()
    optimizer.step()
    assert not ember.equal(model[0].weight.detach(), before)


def test_scatter_splits_tensors_and_repeats_the_rest():
    x = ember.arange(10.0).reshape(5, 2)
    pieces = scatter((x, "tag", {"mask": ember.ones(5)}), [CPU, CPU], dim=0)
    assert len(pieces) == 2
    assert [p[0].shape for p in pieces] == [(3, 2), (2, 2)]
    assert [p[1] for p in pieces] == ["tag", "tag"]
    assert [p[2]["mask"].shape for p in pieces] == [(3,), (2,)]
    assert len(scatter(ember.ones(1, 2), [CPU, CPU, CPU])) == 1  # fewer pieces than devices


def test_split_batch_equals_whole_batch_forward_and_backward():
    model = _model()
    x = ember.randn(7, 3)
    whole = model(x)
    whole.sum().backward()
    expected = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    devices = [CPU, CPU, CPU]
    outputs = parallel_apply(model, [(piece,) for piece in scatter(x, devices)], [{}] * 3,
                             devices)
    joined = gather(outputs, CPU)
    np.testing.assert_allclose(joined.detach().numpy(), whole.detach().numpy(), rtol=1e-6)
    joined.sum().backward()  # gradients of all pieces add up on the one set of parameters
    for p, grad in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.grad.numpy(), grad, rtol=1e-5, atol=1e-6)


def test_gather_joins_containers_and_scalars():
    outputs = [(ember.ones(2, 3), {"loss": ember.tensor(1.0)}),
               (ember.zeros(1, 3), {"loss": ember.tensor(3.0)})]
    joined, extras = gather(outputs, CPU)
    assert joined.shape == (3, 3) and extras["loss"].tolist() == [1.0, 3.0]
    assert gather([ember.ones(2, 2), ember.ones(2, 1)], CPU, dim=1).shape == (2, 3)


def test_bad_devices_are_named():
    with pytest.raises(ValueError, match="DataParallel: device_ids and output_device must be CUDA "
                                         "devices, got cpu"):
        nn.DataParallel(_model(), device_ids=["cpu"])


@pytest.mark.cuda
def test_module_must_be_on_the_first_device():
    with pytest.raises(RuntimeError, match=r"module must have its parameters and buffers on "
                                           r"device cuda:0 \(device_ids\[0\]\) but found one of "
                                           r"them on device: cpu"):
        nn.DataParallel(_model(), device_ids=[0])(ember.ones(2, 3))


@pytest.mark.cuda
def test_on_the_gpu_split_pieces_reach_the_cpu_parameters():
    # Parameters on the CPU, pieces run on the GPU: copies there are differentiable.
    model = _model()
    x = ember.randn(6, 3)
    model(x).sum().backward()
    expected = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    gpu = ember.device("cuda:0")
    outputs = parallel_apply(model, [(p,) for p in scatter(x, [gpu, gpu])], [{}, {}], [gpu, gpu])
    joined = gather(outputs, CPU)
    joined.sum().backward()
    assert all(p.device == CPU for p in model.parameters())
    for p, grad in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.grad.numpy(), grad, rtol=1e-4, atol=1e-5)
    wrapped = nn.DataParallel(model.to(gpu), device_ids=[0, 0])  # a split over "two" GPUs
    assert wrapped(x).device == gpu and wrapped(x).shape == (6, 2)
