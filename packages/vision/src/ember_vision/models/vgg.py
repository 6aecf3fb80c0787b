"""VGG (Simonyan and Zisserman, 2014) with torchvision's structure, names and initialisation."""

from __future__ import annotations

import ember
from ember import nn
from ember_vision.models._registry import register_model
from ember_vision.models._weights import build_model

__all__ = ["VGG", "make_layers", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]

#: channels of each 3x3 convolution, "M" for 2x2 max pooling (configurations A and D)
CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_layers(config: list[int | str], batch_norm: bool = False,
                in_channels: int = 3) -> nn.Sequential:
    """The ``features`` of a VGG: conv3x3(-BN)-ReLU per int of ``config``, max pooling per "M"."""
    layers: list[nn.Module] = []
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, item, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(item))
        layers.append(nn.ReLU(inplace=True))
        in_channels = item
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network: ``features``, adaptive pooling to 7x7 and a 4096-4096 ``classifier``.

    Args:
        features: the convolutional part (``make_layers``), ending in 512 channels.
        num_classes: outputs of the classifier.
        init_weights: torchvision's init (Kaiming-normal fan_out convs, Linear N(0, 0.01)).
        dropout: dropout probability in the classifier.

    Shape:
        (N, C, H, W) -> (N, num_classes); any H, W >= 32 (pooled to 7x7 before the classifier).

    Example:
        >>> vgg11_bn(num_classes=10)(ember.zeros(1, 3, 32, 32)).shape
        (1, 10)
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.constant_(module.bias, 0)
                elif isinstance(module, nn.BatchNorm2d):
                    nn.init.constant_(module.weight, 1)
                    nn.init.constant_(module.bias, 0)
                elif isinstance(module, nn.Linear):
                    nn.init.normal_(module.weight, 0, 0.01)
                    nn.init.constant_(module.bias, 0)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.classifier(ember.flatten(self.avgpool(self.features(x)), 1))


def _builder(name: str, config: str, batch_norm: bool):
    def builder(*, weights=None, progress: bool = True, **kwargs) -> VGG:
        def factory(**options) -> VGG:
            return VGG(make_layers(CONFIGS[config], batch_norm), **options)

        return build_model(name, factory, weights, None, kwargs)

    depth = sum(isinstance(item, int) for item in CONFIGS[config]) + 3
    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (f"VGG-{depth} (configuration {config}){' with batch norm' * batch_norm}, "
                       "as torchvision's; no pretrained weights ship (``weights`` must be None). "
                       "``progress`` is accepted for torchvision compatibility.")
    return register_model(name)(builder)


vgg11 = _builder("vgg11", "A", batch_norm=False)
vgg11_bn = _builder("vgg11_bn", "A", batch_norm=True)
vgg16 = _builder("vgg16", "D", batch_norm=False)
vgg16_bn = _builder("vgg16_bn", "D", batch_norm=True)
