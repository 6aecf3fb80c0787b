"""Residual networks (He et al., 2015/2016): torchvision's ImageNet ResNets and the CIFAR ones.

``ResNet`` has torchvision's structure and module names (``conv1``, ``bn1``, ``relu``,
``maxpool``, ``layer1``..``layer4``, ``avgpool``, ``fc``; blocks with ``downsample``), so a
torchvision state dict converted to safetensors loads as it is. ``CifarResNet`` is the 6n+2-layer
network of the paper's CIFAR-10 experiments: a 3x3 stem of 16 channels, three stages of 16, 32
and 64 channels with n basic blocks each, and parameter-free "option A" shortcuts.
"""

from __future__ import annotations

from collections.abc import Callable

import ember
import ember.nn.functional as F
from ember import nn
from ember_vision.models._registry import register_model
from ember_vision.models._weights import build_model

__all__ = ["BasicBlock", "Bottleneck", "CifarBasicBlock", "CifarResNet", "ResNet", "resnet18",
           "resnet20", "resnet32", "resnet34", "resnet50", "resnet56"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding, without bias (a batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without bias."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions and an identity (or ``downsample``) shortcut."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("dilation > 1 is not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided, as torchvision's "ResNet V1.5"), 1x1 expand by 4, shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _init_residual_network(model: nn.Module, zero_init_residual: bool,
                           last_norms: dict[type, str]) -> None:
    """torchvision's ResNet init: Kaiming-normal (fan_out) convs, BN weight 1 and bias 0.

    With ``zero_init_residual`` the last BN of every block (named in ``last_norms`` per block
    type) starts at zero, so each block starts as the identity (Goyal et al., 2017).
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(module.weight, 1)
            nn.init.constant_(module.bias, 0)
    if zero_init_residual:
        for module in model.modules():
            name = last_norms.get(type(module))
            if name is not None:
                nn.init.constant_(getattr(module, name).weight, 0)


class ResNet(nn.Module):
    """The ImageNet ResNet of torchvision: a 7x7 stem, four stages, global pooling, ``fc``.

    Args:
        block: ``BasicBlock`` (ResNet-18/34) or ``Bottleneck`` (ResNet-50 and deeper).
        layers: blocks per stage, e.g. ``[2, 2, 2, 2]``.
        num_classes: outputs of ``fc``.
        zero_init_residual: start every block's last BN at zero (each block an identity).
        groups, width_per_group: grouped bottlenecks (ResNeXt, wide ResNets).
        replace_stride_with_dilation: per stage 2-4, dilate instead of striding.
        norm_layer: the normalisation layer (default ``nn.BatchNorm2d``).

    Shape:
        (N, 3, H, W) -> (N, num_classes); H, W >= 32 (the network downsamples by 32).

    Example:
        >>> resnet18(num_classes=5)(ember.zeros(1, 3, 64, 64)).shape
        (1, 5)
    """

    def __init__(self, block: type[BasicBlock | Bottleneck], layers: list[int],
                 num_classes: int = 1000, zero_init_residual: bool = False, groups: int = 1,
                 width_per_group: int = 64, replace_stride_with_dilation: list[bool] | None = None,
                 norm_layer: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        self._norm_layer = norm_layer or nn.BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, 7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        _init_residual_network(self, zero_init_residual, {Bottleneck: "bn3", BasicBlock: "bn2"})

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                         dilation=self.dilation, norm_layer=norm_layer) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(ember.flatten(self.avgpool(x), 1))


class PadShortcut(nn.Module):
    """Option-A shortcut: subsample by 2 and zero-pad the new channels (no parameters)."""

    def __init__(self, planes: int) -> None:
        super().__init__()
        self.pad = planes // 4  # on each side: planes / 2 input channels become planes

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class CifarBasicBlock(nn.Module):
    """Basic block of the CIFAR ResNets; downsampling blocks use the option-A shortcut."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = (PadShortcut(planes) if stride != 1 or inplanes != planes
                         else nn.Identity())

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    """The 6n+2-layer ResNet for 32x32 images (He et al., 2016, section 4.2).

    Args:
        depth: 6n+2 layers (20, 32, 44, 56, 110 ...).
        num_classes: outputs of ``fc``.
        in_channels: channels of the input images.
        zero_init_residual: start every block's last BN at zero.

    Shape:
        (N, in_channels, H, W) -> (N, num_classes); designed for H = W = 32.

    Example:
        >>> CifarResNet(20)(ember.zeros(2, 3, 32, 32)).shape
        (2, 10)
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3,
                 zero_init_residual: bool = False) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CifarResNet: depth must be 6n+2 with n >= 1, got {depth}")
        blocks = (depth - 2) // 6
        self.inplanes = 16
        self.conv1 = conv3x3(in_channels, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(16, blocks, 1)
        self.layer2 = self._make_layer(32, blocks, 2)
        self.layer3 = self._make_layer(64, blocks, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        _init_residual_network(self, zero_init_residual, {CifarBasicBlock: "bn2"})

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        layers = []
        for index in range(blocks):
            layers.append(CifarBasicBlock(self.inplanes, planes, stride if index == 0 else 1))
            self.inplanes = planes
        return nn.Sequential(*layers)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(ember.flatten(self.avgpool(x), 1))


def _imagenet_builder(name: str, block: type, layers: list[int]):
    def builder(*, weights=None, progress: bool = True, **kwargs) -> ResNet:
        return build_model(name, lambda **config: ResNet(block, layers, **config), weights,
                           None, kwargs)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (f"{name.replace('resnet', 'ResNet-')} for ImageNet-shaped inputs, as "
                       f"torchvision's; no pretrained weights ship (``weights`` must be None). "
                       f"Blocks per stage: {layers}. ``progress`` is accepted for torchvision "
                       "compatibility.")
    return register_model(name)(builder)


def _cifar_builder(depth: int):
    name = f"resnet{depth}"

    def builder(*, weights=None, progress: bool = True, **kwargs) -> CifarResNet:
        return build_model(name, lambda **config: CifarResNet(depth, **config), weights, None,
                           kwargs)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (f"ResNet-{depth} for 32x32 images (CIFAR, option-A shortcuts); no "
                       "pretrained weights ship (``weights`` must be None).")
    return register_model(name)(builder)


resnet18 = _imagenet_builder("resnet18", BasicBlock, [2, 2, 2, 2])
resnet34 = _imagenet_builder("resnet34", BasicBlock, [3, 4, 6, 3])
resnet50 = _imagenet_builder("resnet50", Bottleneck, [3, 4, 6, 3])
resnet20 = _cifar_builder(20)
resnet32 = _cifar_builder(32)
resnet56 = _cifar_builder(56)
