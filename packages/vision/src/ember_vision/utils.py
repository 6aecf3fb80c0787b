"""Image grids, saving tensors as image files, and a confusion matrix, as ``torchvision.utils``."""

from __future__ import annotations

import math
import os
from typing import BinaryIO

import numpy as np
from PIL import Image

import ember
from ember import Tensor

__all__ = ["confusion_matrix", "make_grid", "save_image"]


def _normalize_range(images: Tensor, value_range) -> None:
    """Maps ``value_range`` (the images' own min and max when None) onto [0, 1], in place."""
    low, high = (float(images.min()), float(images.max())) if value_range is None \
        else (float(value_range[0]), float(value_range[1]))
    images.clamp_(min=low, max=high).sub_(low).div_(max(high - low, 1e-5))


def make_grid(tensor: Tensor | list[Tensor], nrow: int = 8, padding: int = 2,
              normalize: bool = False, value_range: tuple[float, float] | None = None,
              scale_each: bool = False, pad_value: float = 0.0) -> Tensor:
    """Lays a batch of images out in a grid, as ``torchvision.utils.make_grid``.

    Args:
        tensor: (B, C, H, W) images, or a list of (C, H, W) images of one size. A (H, W) or
            (C, H, W) tensor is one image. One-channel images are repeated to three channels.
        nrow: images per row; the grid has ceil(B / nrow) rows.
        padding: pixels between images and around the grid, filled with ``pad_value``.
        normalize: map each batch (or each image, with ``scale_each``) from ``value_range``
            (its own min and max when None) onto [0, 1].
        value_range: (low, high) for ``normalize``; values outside are clamped.
        scale_each: normalize every image by its own range.
        pad_value: the value of the padding.

    Returns:
        The (C, (H + padding) * rows + padding, (W + padding) * min(nrow, B) + padding) grid;
        a batch of one image is returned unpadded as (C, H, W).

    Example:
        >>> make_grid(ember.ones(5, 3, 4, 4), nrow=2, padding=1).shape
        (3, 16, 11)
    """
    if isinstance(tensor, (list, tuple)):
        tensor = ember.stack(list(tensor), dim=0)
    if not isinstance(tensor, Tensor):
        raise TypeError(f"make_grid: tensor or list of tensors expected, got {type(tensor)}")
    with ember.no_grad():
        if tensor.dim() == 2:
            tensor = tensor.unsqueeze(0)
        if tensor.dim() == 3:
            tensor = tensor.unsqueeze(0)
        if tensor.dim() != 4:
            raise ValueError(f"make_grid: expected images of shape (B, C, H, W), (C, H, W) or "
                             f"(H, W), got {tuple(tensor.shape)}")
        if tensor.shape[1] == 1:
            tensor = ember.cat([tensor, tensor, tensor], dim=1)
        if normalize:
            tensor = tensor.clone()  # the normalisation works in place
            if scale_each:
                for image in tensor:
                    _normalize_range(image, value_range)
            else:
                _normalize_range(tensor, value_range)
        if tensor.shape[0] == 1:
            return tensor.squeeze(0)
        count, channels, height, width = tensor.shape
        columns = min(nrow, count)
        rows = math.ceil(count / columns)
        cell_height, cell_width = height + padding, width + padding
        grid = tensor.new_full((channels, cell_height * rows + padding,
                                cell_width * columns + padding), pad_value)
        for k in range(count):
            row, column = divmod(k, columns)
            top, left = row * cell_height + padding, column * cell_width + padding
            grid[:, top:top + height, left:left + width] = tensor[k]
        return grid


def save_image(tensor: Tensor | list[Tensor], fp: str | os.PathLike | BinaryIO,
               format: str | None = None, **kwargs) -> None:  # noqa: A002  (torchvision's name)
    """Saves images (float values in [0, 1]) as one image file, through :func:`make_grid`.

    Args:
        tensor: as for :func:`make_grid`.
        fp: a file name or a binary file object.
        format: the image format (e.g. 'PNG'); from the file name's extension when None.
        **kwargs: passed to :func:`make_grid` (nrow, padding, normalize ...).
    """
    grid = make_grid(tensor, **kwargs)
    # Scale, round half up and clamp, as torchvision, so that 0.5 / 255 steps land on integers.
    pixels = (grid.detach().to(ember.float32) * 255 + 0.5).clamp(0, 255).permute(1, 2, 0)
    array = np.ascontiguousarray(pixels.cpu().numpy().astype(np.uint8))
    Image.fromarray(array).save(fp, format=format)


def confusion_matrix(preds: Tensor, targets: Tensor, num_classes: int) -> Tensor:
    """Counts of (true class, predicted class) pairs.

    Args:
        preds: (N,) predicted class indices, or (N, num_classes) scores (their argmax is used).
        targets: (N,) true class indices.
        num_classes: C.

    Returns:
        A (C, C) int64 tensor on ``preds``' device: entry [i, j] counts the samples of true
        class i predicted as class j (rows sum to the class frequencies).

    Example:
        >>> confusion_matrix(ember.tensor([0, 1, 1]), ember.tensor([0, 0, 1]), 2).tolist()
        [[1, 1], [0, 1]]
    """
    preds, targets = ember.as_tensor(preds), ember.as_tensor(targets)
    if preds.dim() == 2:
        preds = preds.argmax(dim=1)
    if preds.dim() != 1 or targets.dim() != 1 or preds.shape[0] != targets.shape[0]:
        raise ValueError(f"confusion_matrix: expected preds (N,) or (N, C) and targets (N,), got "
                         f"preds {tuple(preds.shape)} and targets {tuple(targets.shape)}")
    if preds.is_floating_point() or targets.is_floating_point():
        raise TypeError(f"confusion_matrix: class indices must be integers, got preds "
                        f"{preds.dtype} and targets {targets.dtype}")
    for name, labels in (("preds", preds), ("targets", targets)):
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(f"confusion_matrix: {name} hold class indices in "
                             f"[{int(labels.min())}, {int(labels.max())}], expected values in "
                             f"[0, {num_classes})")
    pairs = targets.to(ember.int64).to(preds.device) * num_classes + preds.to(ember.int64)
    counts = ember.zeros(num_classes * num_classes, dtype=ember.int64, device=pairs.device)
    counts.index_add_(0, pairs, ember.ones_like(pairs))
    return counts.reshape(num_classes, num_classes)
