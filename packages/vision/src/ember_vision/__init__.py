"""Ember Vision: images, datasets, transforms and a CNN model zoo on top of Ember.

Planned modules: ``datasets`` (MNIST/Fashion-MNIST IDX, CIFAR-10, ImageFolder via Pillow),
``transforms``, ``models`` (LeNet, VGG, ResNet, MobileNet) and ``utils`` (make_grid, save_image).
"""

from ember_vision import datasets, transforms, utils

__version__ = "0.1.0"

__all__ = ["datasets", "models", "transforms", "utils"]


def __getattr__(name: str):
    # The model zoo loads on first use (``ember_vision.models``), keeping the import light.
    if name == "models":
        import importlib

        return importlib.import_module("ember_vision.models")
    raise AttributeError(f"module 'ember_vision' has no attribute '{name}'")
