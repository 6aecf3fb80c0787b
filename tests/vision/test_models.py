"""The model zoo: registry, parameter counts, shapes, gradients, initialisation, shipped weights."""

import dataclasses
import functools
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember_vision import models
from ember_vision.datasets import FashionMNIST
from ember_vision.models.resnet import PadShortcut

SUBSET = Path(__file__).resolve().parents[2] / "data" / "fashion-mnist-subset"

# Published counts (torchvision's for the ImageNet models; He et al. 2016 option A for CIFAR).
PARAMETERS = {
    "lenet5": 61_706, "resnet20": 269_722, "resnet32": 464_154, "resnet56": 853_018,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872, "vgg11": 132_863_336, "vgg16": 138_357_544,
    "vgg11_bn": 132_868_840, "vgg16_bn": 138_365_992,
}


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def values(tensor) -> np.ndarray:
    return tensor.detach().numpy()


def make(name: str) -> nn.Module:
    # VGG's own init draws 120M normals (seconds here): the structure tests skip it.
    return models.get_model(name, **({"init_weights": False} if "vgg" in name else {}))


@functools.cache
def shared(name: str) -> nn.Module:
    return make(name)


def build(name: str) -> nn.Module:
    """The default model ``name``; the large ones are built once and shared by the tests."""
    return shared(name) if name in ("resnet18", "mobilenet_v2", "vgg11_bn") else make(name)


# ---- registry ---------------------------------------------------------------------------------


def test_list_models_and_filters():
    assert set(PARAMETERS) | {"small_cnn"} == set(models.list_models())
    assert models.list_models(include="vgg*", exclude="*_bn") == ["vgg11", "vgg16"]
    assert models.list_models(module=models.resnet) == models.list_models(include="resnet*")


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(ValueError, match=r"unknown model 'resnet19'.*resnet18.*vgg16_bn"):
        models.get_model("resnet19")


def test_weights_lookup():
    enum = models.SmallCNN_Weights
    assert models.get_model_weights("small_cnn") is enum
    assert models.get_model_weights(models.small_cnn) is enum
    assert models.get_weight("SmallCNN_Weights.DEFAULT") is enum.FASHIONMNIST_V2
    assert enum.verify("SmallCNN_Weights.FASHIONMNIST_V2") is enum.DEFAULT
    assert enum.verify("FASHIONMNIST_V1") is not enum.DEFAULT
    with pytest.raises(ValueError, match="ships no pretrained weights.*small_cnn"):
        models.get_model_weights("resnet18")
    with pytest.raises(ValueError, match="unknown weights"):
        models.get_weight("ResNet18_Weights.IMAGENET1K_V1")
    with pytest.raises(ValueError, match="has no weights 'IMAGENET'.*FASHIONMNIST_V1"):
        models.small_cnn(weights="IMAGENET")
    with pytest.raises(TypeError, match="weights must be None"):
        models.small_cnn(weights=1)


def test_weights_refused_where_none_ship():
    with pytest.raises(ValueError, match="resnet20: no pretrained weights"):
        models.resnet20(weights="DEFAULT")


# ---- structure --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PARAMETERS))
def test_parameter_count(name):
    assert count(build(name)) == PARAMETERS[name]


@pytest.mark.parametrize("name, config, shape, out", [
    ("lenet5", {}, (2, 1, 28, 28), (2, 10)),
    ("lenet5", {"image_size": 32, "in_channels": 3, "num_classes": 7}, (2, 3, 32, 32), (2, 7)),
    ("small_cnn", {"image_size": 32, "in_channels": 3}, (2, 3, 32, 32), (2, 10)),
    ("resnet20", {}, (2, 3, 32, 32), (2, 10)),
    ("resnet32", {"in_channels": 1, "num_classes": 4}, (1, 1, 28, 28), (1, 4)),
    ("resnet18", {}, (1, 3, 64, 64), (1, 1000)),
    ("resnet50", {"num_classes": 10}, (1, 3, 64, 64), (1, 10)),
    ("mobilenet_v2", {}, (1, 3, 32, 32), (1, 1000)),
    ("mobilenet_v2", {"width_mult": 0.5, "num_classes": 3}, (1, 3, 32, 32), (1, 3)),
    ("vgg11_bn", {}, (1, 3, 32, 32), (1, 1000)),
])
def test_forward_shape(name, config, shape, out):
    model = models.get_model(name, **config) if config else build(name)
    with ember.no_grad():
        logits = model.eval()(ember.randn(*shape))
    assert logits.shape == out and logits.dtype == ember.float32
    assert np.isfinite(values(logits)).all()


@pytest.mark.parametrize("name, shape", [
    ("lenet5", (4, 1, 28, 28)), ("small_cnn", (4, 1, 28, 28)), ("resnet20", (2, 3, 32, 32)),
    ("resnet18", (2, 3, 32, 32)), ("mobilenet_v2", (2, 3, 32, 32)), ("vgg11_bn", (2, 3, 32, 32)),
])
def test_backward_reaches_every_parameter(name, shape):
    model = build(name).train()
    model.zero_grad()
    loss = F.cross_entropy(model(ember.randn(*shape)), ember.tensor([0, 1, 2, 3][:shape[0]]))
    loss.backward()
    for pname, parameter in model.named_parameters():
        assert parameter.grad is not None, pname
        assert parameter.grad.shape == parameter.shape, pname
        assert np.isfinite(values(parameter.grad)).all(), pname


def test_bottleneck_backward():
    model = models.ResNet(models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=3)
    F.cross_entropy(model.train()(ember.randn(2, 3, 32, 32)), ember.tensor([0, 2])).backward()
    assert all(np.isfinite(values(p.grad)).all() for p in model.parameters())
    assert model.layer1[0].downsample is not None  # 64 -> 256 channels


def test_torchvision_names():
    resnet = build("resnet18").state_dict()
    assert len(resnet) == 122  # as torchvision's, num_batches_tracked included
    assert {"conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.running_var",
            "fc.bias"} <= set(resnet)
    mobilenet = build("mobilenet_v2")
    assert len(mobilenet.state_dict()) == 314
    depthwise = mobilenet.features[2].conv[1][0]  # 16 -> 96 hidden channels, depthwise 3x3
    assert depthwise.groups == depthwise.in_channels == depthwise.out_channels == 96
    assert isinstance(mobilenet.features[2].conv[1][2], nn.ReLU6)
    assert mobilenet.features[3].use_res_connect and not mobilenet.features[2].use_res_connect


def test_option_a_shortcut_subsamples_and_zero_pads():
    x = ember.randn(2, 16, 8, 8)
    y = values(PadShortcut(32)(x))
    assert y.shape == (2, 32, 4, 4)
    np.testing.assert_array_equal(y[:, 8:24], x.numpy()[:, :, ::2, ::2])
    assert not y[:, :8].any() and not y[:, 24:].any()
    assert not any(isinstance(m, nn.Conv2d) for block in models.resnet20().layer2
                   for m in block.shortcut.modules())


def test_cifar_depth_must_be_6n_plus_2():
    with pytest.raises(ValueError, match="6n\\+2"):
        models.CifarResNet(21)


# ---- initialisation ---------------------------------------------------------------------------


def kaiming_fan_out_std(weight) -> float:
    return math.sqrt(2 / (weight.shape[0] * weight.shape[2] * weight.shape[3]))


def test_resnet_init_and_zero_init_residual():
    model = build("resnet18")
    for conv in (model.conv1, model.layer3[0].conv2):
        assert values(conv.weight).std() == pytest.approx(kaiming_fan_out_std(conv.weight),
                                                          rel=0.05)
    assert (values(model.bn1.weight) == 1).all() and (values(model.bn1.bias) == 0).all()
    assert (values(model.layer1[0].bn2.weight) == 1).all()
    zeroed = models.resnet20(zero_init_residual=True)
    assert all((values(block.bn2.weight) == 0).all()
               for stage in (zeroed.layer1, zeroed.layer2, zeroed.layer3) for block in stage)
    assert (values(zeroed.layer1[0].bn1.weight) == 1).all()


def test_mobilenet_init():
    model = build("mobilenet_v2")
    head = model.classifier[1]
    assert values(head.weight).std() == pytest.approx(0.01, rel=0.05)
    assert not values(head.bias).any()
    stem = model.features[0][0]
    assert values(stem.weight).std() == pytest.approx(kaiming_fan_out_std(stem.weight), rel=0.1)
    assert (values(model.features[0][1].weight) == 1).all()


# ---- shipped weights --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["DEFAULT", "FASHIONMNIST_V1"])
def test_shipped_weights_load_and_classify_fashion_mnist(name):
    weights = models.SmallCNN_Weights.verify(name)
    model = models.get_model("small_cnn", weights=name).eval()
    assert count(model) == weights.meta["num_params"]
    assert len(weights.meta["categories"]) == 10
    test_set = FashionMNIST(SUBSET, train=False)
    preprocess = weights.transforms()
    images = ember.stack([preprocess(test_set.data[i]) for i in range(400)])
    with ember.no_grad():
        predictions = model(images).argmax(dim=1)
    accuracy = (predictions == test_set.targets[:400]).float().mean().item()
    assert accuracy >= 0.85  # the weights reach 90%+ on the full test set


def test_weights_fix_the_config_they_need():
    with pytest.raises(ValueError, match="need num_classes=10, got num_classes=5"):
        models.small_cnn(weights=models.SmallCNN_Weights.DEFAULT, num_classes=5)


def test_tampered_weights_file_is_rejected(tmp_path):
    weights = models.SmallCNN_Weights.DEFAULT.value
    copy = tmp_path / "copy.safetensors"
    shutil.copyfile(weights.path, copy)
    intact = dataclasses.replace(weights, file=str(copy))
    assert set(intact.get_state_dict()) == set(models.small_cnn().state_dict())
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0x01  # one bit of one parameter
    copy.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="SHA-256 .* expected .*corrupt or was altered"):
        intact.get_state_dict()
    with pytest.raises(FileNotFoundError, match="missing"):
        dataclasses.replace(weights, file=str(tmp_path / "absent.safetensors")).get_state_dict()


def test_preset_transform_on_arrays_and_tensors():
    preset = models.ImageClassification(mean=(0.5,), std=(0.25,))
    image = np.full((28, 28), 255, dtype=np.uint8)
    np.testing.assert_allclose(preset(image).numpy(), np.full((1, 28, 28), 2.0))
    np.testing.assert_allclose(preset(ember.zeros(1, 28, 28)).numpy(), np.full((1, 28, 28), -2.0))
    with pytest.raises(ValueError, match="1 channel"):
        preset(np.zeros((28, 28, 3), dtype=np.uint8))
