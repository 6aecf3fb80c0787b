"""Convolution, pooling and normalization layers through the shared module harness."""

import numpy as np
import pytest
from module_harness import ModuleCase, check_module

import ember
from ember import nn

CASES = [
    ModuleCase("Conv1d", lambda: nn.Conv1d(2, 3, 3, stride=2, padding=1), shapes=[(2, 2, 7)],
               output_shape=(2, 3, 4), gradgrad=True),
    ModuleCase("Conv2d", lambda: nn.Conv2d(2, 4, 3, padding=1, groups=2), shapes=[(2, 2, 5, 4)],
               output_shape=(2, 4, 5, 4), gradgrad=True),
    ModuleCase("Conv2d-reflect", lambda: nn.Conv2d(1, 2, (3, 2), padding=1,
                                                   padding_mode="reflect", bias=False),
               shapes=[(1, 1, 4, 4)], output_shape=(1, 2, 4, 5)),
    ModuleCase("Conv2d-same", lambda: nn.Conv2d(1, 2, 4, padding="same"), shapes=[(1, 1, 5, 5)],
               output_shape=(1, 2, 5, 5)),
    ModuleCase("ConvTranspose2d", lambda: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1,
                                                             output_padding=1),
               shapes=[(1, 2, 3, 3)], output_shape=(1, 3, 6, 6), gradgrad=True),
    ModuleCase("MaxPool2d", lambda: nn.MaxPool2d(2), shapes=[(2, 2, 4, 4)],
               output_shape=(2, 2, 2, 2), inputs=lambda rng, dtype: [
                   rng.permutation(64).reshape(2, 2, 4, 4).astype(dtype) / 10]),
    ModuleCase("MaxPool1d", lambda: nn.MaxPool1d(3, stride=2, padding=1), shapes=[(2, 2, 6)],
               output_shape=(2, 2, 3), inputs=lambda rng, dtype: [
                   rng.permutation(24).reshape(2, 2, 6).astype(dtype) / 10]),
    ModuleCase("AvgPool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1), shapes=[(1, 2, 5, 5)],
               output_shape=(1, 2, 3, 3), gradgrad=True),
    ModuleCase("AvgPool1d", lambda: nn.AvgPool1d(2), shapes=[(2, 3, 6)], output_shape=(2, 3, 3)),
    ModuleCase("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), shapes=[(1, 2, 5, 7)],
               output_shape=(1, 2, 2, 3), gradgrad=True),
    ModuleCase("AdaptiveMaxPool2d", lambda: nn.AdaptiveMaxPool2d(2), shapes=[(1, 2, 5, 4)],
               output_shape=(1, 2, 2, 2)),
    ModuleCase("BatchNorm1d", lambda: nn.BatchNorm1d(3), shapes=[(4, 3)], stochastic=True),
    ModuleCase("BatchNorm1d-3d", lambda: nn.BatchNorm1d(3, affine=False), shapes=[(4, 3, 2)],
               stochastic=True),
    ModuleCase("BatchNorm2d", lambda: nn.BatchNorm2d(2), shapes=[(3, 2, 2, 2)], stochastic=True),
    ModuleCase("LayerNorm", lambda: nn.LayerNorm((2, 3)), shapes=[(4, 2, 3)], gradgrad=True),
    ModuleCase("GroupNorm", lambda: nn.GroupNorm(2, 4), shapes=[(2, 4, 3)], gradgrad=True),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_layer(case, device):
    check_module(case, device)


def test_batch_norm_layer_trains_running_stats_then_evaluates_with_them():
    bn = nn.BatchNorm2d(2, momentum=None)  # cumulative average over batches
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((4, 2, 3, 3)) * (i + 1) + i for i in range(3)]
    for b in batches:
        bn(ember.tensor(b, dtype=ember.float32))
    assert bn.num_batches_tracked.item() == 3
    expected_mean = np.mean([b.mean(axis=(0, 2, 3)) for b in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean.numpy(), expected_mean, rtol=1e-5)
    bn.eval()
    x = rng.standard_normal((2, 2, 3, 3))
    out = bn(ember.tensor(x, dtype=ember.float32)).detach().numpy()
    ref = (x - bn.running_mean.numpy().reshape(1, 2, 1, 1)) / np.sqrt(
        bn.running_var.numpy().reshape(1, 2, 1, 1) + bn.eps)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expected 4D input"):
        bn(ember.zeros(2, 2))


def test_conv_layer_default_init_bounds_follow_pytorch():
    conv = nn.Conv2d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 9)  # kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), ...)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    assert conv.weight.shape == (8, 4, 3, 3)
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
    assert "kernel_size=(3, 3)" in repr(conv)
