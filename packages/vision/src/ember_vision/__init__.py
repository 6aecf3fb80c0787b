"""Ember Vision: images, datasets, transforms and a CNN model zoo on top of Ember.

Planned modules: ``datasets`` (MNIST/Fashion-MNIST IDX, CIFAR-10, ImageFolder via Pillow),
``transforms``, ``models`` (LeNet, VGG, ResNet, MobileNet) and ``utils`` (make_grid, save_image).
"""

__version__ = "0.1.0"
