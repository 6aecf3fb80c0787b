"""MobileNetV2 (Sandler et al., 2018) with torchvision's structure, names and initialisation."""

from __future__ import annotations

from collections.abc import Callable

import ember
import ember.nn.functional as F
from ember import nn
from ember_vision.models._registry import register_model
from ember_vision.models._weights import build_model

__all__ = ["Conv2dNormActivation", "InvertedResidual", "MobileNetV2", "mobilenet_v2"]


def _make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """``value`` rounded to a multiple of ``divisor``, never more than 10% below it."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class Conv2dNormActivation(nn.Sequential):
    """Conv (no bias, "same" padding) - norm - activation, as ``torchvision.ops``'s block."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, groups: int = 1,
                 norm_layer: Callable[[int], nn.Module] | None = None,
                 activation_layer: Callable[..., nn.Module] | None = nn.ReLU6) -> None:
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                            padding=(kernel_size - 1) // 2, groups=groups, bias=False),
                  (norm_layer or nn.BatchNorm2d)(out_channels)]
        if activation_layer is not None:
            layers.append(activation_layer(inplace=True))
        super().__init__(*layers)
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """1x1 expansion (ReLU6), 3x3 depthwise (ReLU6), linear 1x1 projection; residual if shapes
    allow (stride 1 and ``inp == oup``)."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int,
                 norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride should be 1 or 2, got {stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               norm_layer=norm_layer))
        layers += [
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                 norm_layer=norm_layer),
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


#: expansion t, output channels c, repeats n, first stride s of each stage (paper, table 2)
INVERTED_RESIDUAL_SETTING = [
    [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
    [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
]


class MobileNetV2(nn.Module):
    """MobileNetV2: a strided stem, inverted-residual ``features`` and a dropout-linear head.

    Args:
        num_classes: outputs of the classifier.
        width_mult: scales the channels of every layer (rounded to ``round_nearest``).
        inverted_residual_setting: stages as ``[t, c, n, s]`` rows (default: the paper's).
        round_nearest: channels are multiples of this.
        block: the residual block class (default ``InvertedResidual``).
        norm_layer: the normalisation layer (default ``nn.BatchNorm2d``).
        dropout: dropout probability before the classifier.

    Shape:
        (N, 3, H, W) -> (N, num_classes); the network downsamples by 32.

    Example:
        >>> mobilenet_v2(num_classes=10, width_mult=0.5)(ember.zeros(2, 3, 32, 32)).shape
        (2, 10)
    """

    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0,
                 inverted_residual_setting: list[list[int]] | None = None,
                 round_nearest: int = 8, block: Callable[..., nn.Module] | None = None,
                 norm_layer: Callable[[int], nn.Module] | None = None,
                 dropout: float = 0.2) -> None:
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        setting = inverted_residual_setting or INVERTED_RESIDUAL_SETTING
        if any(len(row) != 4 for row in setting):
            raise ValueError("inverted_residual_setting should be a non-empty list of "
                             f"4-element lists, got {setting}")
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [
            Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer)]
        for expand_ratio, channels, repeats, stride in setting:
            output_channel = _make_divisible(channels * width_mult, round_nearest)
            for index in range(repeats):
                features.append(block(input_channel, output_channel, stride if index == 0 else 1,
                                      expand_ratio=expand_ratio, norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(ember.flatten(x, 1))


@register_model()
def mobilenet_v2(*, weights=None, progress: bool = True, **kwargs) -> MobileNetV2:
    """MobileNetV2 (see ``MobileNetV2``), as torchvision's; no pretrained weights ship
    (``weights`` must be None). ``progress`` is accepted for torchvision compatibility."""
    return build_model("mobilenet_v2", MobileNetV2, weights, None, kwargs)
