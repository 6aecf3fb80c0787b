"""The model zoo on a GPU (skipped where none exists): a training-mode forward and backward there
gives the CPU's outputs and gradients (dropout off: the two devices draw different masks)."""

import copy

import numpy as np
import pytest

import ember
from ember_vision import models

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a CUDA GPU")]

# (model, input shape): the CIFAR and MNIST models at their sizes, the ImageNet ones small.
CASES = [("lenet5", (4, 1, 28, 28)), ("resnet20", (4, 3, 32, 32)),
         ("resnet18", (2, 3, 64, 64)), ("mobilenet_v2", (2, 3, 64, 64))]


def _step(model, images, labels):
    loss = ember.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    return loss.item(), {name: p.grad.cpu().numpy() for name, p in model.named_parameters()}


@pytest.mark.parametrize("name, shape", CASES, ids=[case[0] for case in CASES])
def test_train_step_on_the_gpu_matches_the_cpu(name, shape):
    ember.manual_seed(0)
    model = models.get_model(name)
    for module in model.modules():
        if isinstance(module, ember.nn.Dropout):
            module.p = 0.0
    rng = np.random.default_rng(0)
    images = ember.tensor(rng.standard_normal(shape).astype(np.float32))
    labels = ember.tensor(rng.integers(0, 10, shape[0]))
    on_gpu = copy.deepcopy(model).to("cuda")
    loss_cpu, grads_cpu = _step(model, images, labels)
    loss_gpu, grads_gpu = _step(on_gpu, images.to("cuda"), labels.to("cuda"))
    assert loss_gpu == pytest.approx(loss_cpu, rel=1e-4)
    # Summation orders differ between the devices: against float64, either device's float32
    # gradients are off by about 1e-4 of the tensor's largest (MobileNetV2, batch norm over two
    # images), so small entries are compared on that scale.
    for key, grad in grads_cpu.items():
        np.testing.assert_allclose(grads_gpu[key], grad, rtol=2e-3,
                                   atol=max(2e-5, 1e-3 * float(np.abs(grad).max())), err_msg=key)
    for key, buffer in model.state_dict().items():  # batch norm's running statistics
        expected = buffer.numpy()
        scale = float(np.abs(expected).max()) if expected.size else 0.0
        np.testing.assert_allclose(on_gpu.state_dict()[key].cpu().numpy(), expected, rtol=1e-4,
                                   atol=max(1e-6, 1e-4 * scale), err_msg=key)
