"""The CNN model zoo, as ``torchvision.models``: builders by name, keyword-only ``weights=``.

Models: ``lenet5`` and ``small_cnn`` (28x28 / 32x32 images; Fashion-MNIST weights ship for
``small_cnn``),
``resnet20/32/56`` (CIFAR), ``resnet18/34/50``, ``vgg11(_bn)``, ``vgg16(_bn)`` and
``mobilenet_v2`` (ImageNet shapes, torchvision's structure and parameter names).

Example:
    >>> from ember_vision import models
    >>> models.list_models(include="vgg*")
    ['vgg11', 'vgg11_bn', 'vgg16', 'vgg16_bn']
    >>> model = models.get_model("small_cnn", weights="DEFAULT").eval()
    >>> preprocess = models.SmallCNN_Weights.DEFAULT.transforms()
"""

from ember_vision.models._registry import (
    get_model,
    get_model_builder,
    get_model_weights,
    get_weight,
    list_models,
    register_model,
)
from ember_vision.models._weights import ImageClassification, Weights, WeightsEnum
from ember_vision.models.lenet import (
    LeNet5,
    SmallCNN,
    SmallCNN_Weights,
    lenet5,
    small_cnn,
)
from ember_vision.models.mobilenet import MobileNetV2, mobilenet_v2
from ember_vision.models.resnet import (
    CifarResNet,
    ResNet,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet50,
    resnet56,
)
from ember_vision.models.vgg import VGG, vgg11, vgg11_bn, vgg16, vgg16_bn

__all__ = [
    "VGG", "CifarResNet", "ImageClassification", "LeNet5", "MobileNetV2",
    "ResNet", "SmallCNN", "SmallCNN_Weights", "Weights", "WeightsEnum", "get_model",
    "get_model_builder", "get_model_weights", "get_weight", "lenet5", "list_models",
    "mobilenet_v2", "register_model", "resnet18", "resnet20", "resnet32", "resnet34", "resnet50",
    "resnet56", "small_cnn", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn",
]
