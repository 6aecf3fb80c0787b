"""Datasets read from local files, as ``torchvision.datasets`` (Ember never downloads).

MNIST / Fashion-MNIST (IDX files), CIFAR-10 / CIFAR-100 (binary batches), ImageFolder and
DatasetFolder (a folder per class, via Pillow), and FakeData (random images for smoke tests).
"""

from ember_vision.datasets.cifar import CIFAR10, CIFAR100
from ember_vision.datasets.fakedata import FakeData
from ember_vision.datasets.folder import DatasetFolder, ImageFolder
from ember_vision.datasets.mnist import MNIST, FashionMNIST
from ember_vision.datasets.vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100", "DatasetFolder", "FakeData", "FashionMNIST", "ImageFolder",
           "MNIST", "VisionDataset"]
