"""Pretrained weights: the ``Weights`` record, per-model ``WeightsEnum``s and their loading.

As in torchvision, each model with pretrained parameters has an enum (``SmallCNN_Weights``) whose
members describe one set of weights and whose ``DEFAULT`` alias names the best one. Differences,
on purpose: nothing is downloaded. The weights ship inside ``ember_vision/weights/`` as
safetensors files written by ``ember.save``, a ``Weights`` record names its file and SHA-256
instead of a URL, and the digest is checked on every load.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

import ember
from ember import nn

__all__ = ["ImageClassification", "Weights", "WeightsEnum"]

#: where the shipped weight files live (the package ``ember_vision.weights``)
WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class ImageClassification:
    """The inference preprocessing a set of weights was trained with: scale to [0, 1], normalise.

    Accepts a PIL image, a numpy array or an ember tensor of shape (H, W), (H, W, C) for arrays
    and images, or (C, H, W) / (H, W) for tensors. Integer inputs are scaled by 1/255, float
    tensors are taken as already in [0, 1]. Returns a float32 tensor (C, H, W), normalised per
    channel. Unlike torchvision's preset it does not resize: the images must already have the
    size the model was trained on (``meta["min_size"]``).

    Example:
        >>> preset = ImageClassification(mean=(0.5,), std=(0.25,))
        >>> preset(ember.full((28, 28), 255, dtype=ember.uint8)).shape   # all values 2.0
        (1, 28, 28)
    """

    def __init__(self, *, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean = tuple(mean)
        self.std = tuple(std)

    def __call__(self, image) -> ember.Tensor:
        if isinstance(image, ember.Tensor):
            tensor = image if image.ndim == 3 else image.unsqueeze(0)
        else:  # PIL images and numpy arrays are channels-last
            array = np.asarray(image)
            array = array[:, :, None] if array.ndim == 2 else array
            tensor = ember.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))
        if tensor.shape[0] != len(self.mean):
            raise ValueError(f"ImageClassification: expected an image with {len(self.mean)} "
                             f"channel(s), got shape {tuple(tensor.shape)}")
        scale = 1.0 if tensor.is_floating_point() else 1 / 255
        mean = ember.tensor(self.mean).reshape(-1, 1, 1)
        std = ember.tensor(self.std).reshape(-1, 1, 1)
        return (tensor.float() * scale - mean) / std

    def __repr__(self) -> str:
        return f"ImageClassification(mean={list(self.mean)}, std={list(self.std)})"


@dataclass
class Weights:
    """One set of pretrained parameters shipped with ember_vision.

    Attributes:
        file: the safetensors file, a name inside ``ember_vision/weights/`` (or an absolute path).
        sha256: the hex SHA-256 digest the file must have.
        transforms: a callable returning the inference preprocessing (``ImageClassification``).
        meta: what the weights are: ``categories``, ``num_params``, ``min_size``, ``_metrics``,
            ``recipe``, ``_docs``, as in torchvision.
    """

    file: str
    sha256: str
    transforms: Any
    meta: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file  # an absolute ``file`` replaces the folder

    def get_state_dict(self) -> dict:
        """The parameters as a state dict, after checking the file's SHA-256.

        Raises:
            FileNotFoundError: when the file is missing.
            RuntimeError: when the file's digest is not ``sha256`` (a corrupt or altered file).
        """
        path = self.path
        if not path.is_file():
            raise FileNotFoundError(f"pretrained weights file {path} is missing; reinstall "
                                    "ember-vision (the weights ship inside the package)")
        digest = _sha256(path)
        if digest != self.sha256:
            raise RuntimeError(
                f"pretrained weights file {path} has SHA-256 {digest}, expected {self.sha256}: "
                "the file is corrupt or was altered; reinstall ember-vision")
        return ember.load(path)


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class WeightsEnum(Enum):
    """Base of the per-model weight enums; each member's value is a ``Weights``.

    ``Weights`` attributes read through the member: ``SmallCNN_Weights.DEFAULT.meta``.
    """

    @classmethod
    def verify(cls, obj) -> WeightsEnum | None:
        """Resolves ``None``, a member, or a member's name (``"DEFAULT"``, ``"Cls.NAME"``)."""
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.removeprefix(f"{cls.__name__}.")
            if name not in cls.__members__:
                raise ValueError(f"{cls.__name__} has no weights {obj!r}; available: "
                                 f"{', '.join(cls.__members__)}")
            return cls[name]
        raise TypeError(f"weights must be None, a {cls.__name__} member or its name, "
                        f"got {type(obj).__name__} {obj!r}")

    def get_state_dict(self) -> dict:
        """The verified state dict of these weights (see ``Weights.get_state_dict``)."""
        return self.value.get_state_dict()

    @property
    def file(self) -> str:
        return self.value.file

    @property
    def sha256(self) -> str:
        return self.value.sha256

    @property
    def transforms(self):
        return self.value.transforms

    @property
    def meta(self) -> dict:
        return self.value.meta

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


def build_model(name: str, factory, weights, enum: type[WeightsEnum] | None,
                config: dict) -> nn.Module:
    """What every builder does: resolve ``weights``, fix the config they need, build, load.

    Args:
        name: the model's registry name, for messages.
        factory: the model class (or a function) called with ``config``.
        weights: the builder's ``weights=`` argument (None, a member or its name).
        enum: the model's ``WeightsEnum``, or None when it ships no weights.
        config: the builder's keyword arguments; the weights' ``meta["config"]`` (e.g.
            ``num_classes``) is filled in, and a conflicting value is an error.

    Raises:
        ValueError: weights asked of a model without any, or a config the weights do not fit.
    """
    if weights is not None and enum is None:
        raise ValueError(f"{name}: no pretrained weights ship with ember_vision for this model "
                         "(nothing is downloaded); pass weights=None and train it, or load a "
                         "state dict with ember.load")
    weights = enum.verify(weights) if enum is not None else None
    if weights is not None:
        for key, value in weights.meta["config"].items():
            if config.get(key, value) != value:
                raise ValueError(f"{name}: the pretrained weights {weights!r} need "
                                 f"{key}={value!r}, got {key}={config[key]!r}")
            config[key] = value
    model = factory(**config)
    if weights is not None:
        model.load_state_dict(weights.get_state_dict())
    return model
