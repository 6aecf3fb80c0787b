"""LeNet-5 (LeCun et al., 1998) and a small batch-normalised CNN for 28x28 / 32x32 images."""

from __future__ import annotations

import ember
from ember import nn
from ember_vision.models._registry import register_model
from ember_vision.models._weights import ImageClassification, Weights, WeightsEnum, build_model

__all__ = ["LeNet5", "SmallCNN", "SmallCNN_Weights", "lenet5", "small_cnn"]

FASHION_MNIST_CATEGORIES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                            "Shirt", "Sneaker", "Bag", "Ankle boot"]
# of the 60,000 Fashion-MNIST training images, pixels scaled to [0, 1]
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)


def _check_image_size(model: str, image_size: int) -> None:
    if image_size not in (28, 32):
        raise ValueError(f"{model}: image_size must be 28 (MNIST) or 32 (the original LeNet "
                         f"input, CIFAR), got {image_size}")


class LeNet5(nn.Module):
    """LeNet-5: two 5x5 conv-pool stages and three fully connected layers (61,706 parameters).

    The modern form of LeCun et al. (1998): ReLU and max pooling instead of scaled tanh and
    trainable subsampling, every C3 map connected to all S2 maps, a linear output layer instead
    of RBF units. A 28x28 input is zero-padded by 2 in the first convolution, so the second stage
    sees the 5x5 maps of the original 32x32 design.

    Args:
        num_classes: outputs of the last layer.
        in_channels: channels of the input images.
        image_size: 28 (MNIST, Fashion-MNIST) or 32 (the original input size, CIFAR).

    Shape:
        (N, in_channels, image_size, image_size) -> (N, num_classes) logits.

    Example:
        >>> LeNet5()(ember.zeros(2, 1, 28, 28)).shape
        (2, 10)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        _check_image_size("LeNet5", image_size)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=(32 - image_size) // 2), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),                                     # (N, 6, 14, 14)
            nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),  # (N, 16, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(inplace=True),
            nn.Linear(120, 84), nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.classifier(ember.flatten(self.features(x), 1))


def _conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """A small VGG-style CNN with batch norm for 28x28 or 32x32 images.

    Two stages of conv3x3-BN-ReLU followed by 2x2 max pooling (``width`` and ``2 * width``
    channels), then dropout and a hidden fully connected layer. On Fashion-MNIST (28x28),
    ``width=32`` (421,738 parameters) reaches 92.4% after 10 epochs
    (``SmallCNN_Weights.DEFAULT``); the default ``width=16`` (206,970) is about twice as fast
    and reaches 91.4% after 7 (``SmallCNN_Weights.FASHIONMNIST_V1``).

    Args:
        num_classes: outputs of the last layer.
        in_channels: channels of the input images.
        width: channels of the first stage (the second has twice as many).
        image_size: 28 or 32.
        hidden: units of the hidden fully connected layer.
        dropout: dropout probability before each fully connected layer.

    Shape:
        (N, in_channels, image_size, image_size) -> (N, num_classes) logits.

    Example:
        >>> SmallCNN(width=8)(ember.zeros(2, 1, 28, 28)).shape
        (2, 10)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, width: int = 16,
                 image_size: int = 28, hidden: int = 128, dropout: float = 0.25) -> None:
        super().__init__()
        _check_image_size("SmallCNN", image_size)
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, width), nn.MaxPool2d(2),      # (N, width, S/2, S/2)
            *_conv_bn_relu(width, 2 * width), nn.MaxPool2d(2),        # (N, 2 width, S/4, S/4)
        )
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(2 * width * (image_size // 4) ** 2, hidden),
            nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, num_classes),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.classifier(ember.flatten(self.features(x), 1))


def _fashion_mnist_meta(config: dict, num_params: int, accuracy: float, recipe: str) -> dict:
    return {
        "categories": FASHION_MNIST_CATEGORIES,
        "config": config,
        "num_params": num_params,
        "min_size": (28, 28),
        "mean": FASHION_MNIST_MEAN,
        "std": FASHION_MNIST_STD,
        "dataset": "Fashion-MNIST",
        "_metrics": {"Fashion-MNIST": {"acc@1": accuracy}},
        "recipe": recipe,
        "_docs": "Trained from scratch on the 60,000 Fashion-MNIST training images with "
                 "examples/vision/train.py; acc@1 is on the 10,000 test images.",
    }


def _fashion_mnist_transforms() -> ImageClassification:
    return ImageClassification(mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD)


def _small_cnn_fashion_mnist(version: int, sha256: str, width: int, num_params: int,
                             accuracy: float, options: str) -> Weights:
    """SmallCNN weights trained on Fashion-MNIST by examples/vision/train.py with ``options``."""
    return Weights(
        file=f"small_cnn_fashionmnist_v{version}.safetensors",
        sha256=sha256,
        transforms=_fashion_mnist_transforms,
        meta=_fashion_mnist_meta(
            {"num_classes": 10, "in_channels": 1, "width": width, "image_size": 28},
            num_params=num_params, accuracy=accuracy,
            recipe="python examples/vision/train.py --model small_cnn --data <fashion-mnist> "
                   + options),
    )


class SmallCNN_Weights(WeightsEnum):  # noqa: N801  (torchvision's naming)
    FASHIONMNIST_V1 = _small_cnn_fashion_mnist(
        1, "25ba03d22e4aa69b2baec8972639d6c62807dd6ecfc4063ed306fd49e81094f1", width=16,
        num_params=206_970, accuracy=0.9140,
        options="--epochs 7 --batch-size 128 --lr 0.1 --seed 0")
    FASHIONMNIST_V2 = _small_cnn_fashion_mnist(
        2, "6250651346b8efe1ee7a738c17fa11cf39b12b09248b74ce1442c6c74ece49af", width=32,
        num_params=421_738, accuracy=0.9242,
        options="--epochs 10 --batch-size 128 --lr 0.05 --weight-decay 1e-4 "
                "--model-option width=32 --model-option dropout=0.1 --seed 0")
    DEFAULT = FASHIONMNIST_V2


@register_model()
def lenet5(*, weights=None, progress: bool = True, **kwargs) -> LeNet5:
    """LeNet-5 (see ``LeNet5``); no pretrained weights ship (``weights`` must be None).

    ``progress`` is accepted for torchvision compatibility; nothing is downloaded.
    """
    return build_model("lenet5", LeNet5, weights, None, kwargs)


@register_model(weights=SmallCNN_Weights)
def small_cnn(*, weights: SmallCNN_Weights | str | None = None, progress: bool = True,
              **kwargs) -> SmallCNN:
    """A small BN CNN (see ``SmallCNN``); ``weights="DEFAULT"`` loads Fashion-MNIST weights.

    ``progress`` is accepted for torchvision compatibility; nothing is downloaded.
    """
    return build_model("small_cnn", SmallCNN, weights, SmallCNN_Weights, kwargs)
