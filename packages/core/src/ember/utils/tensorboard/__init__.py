"""``ember.utils.tensorboard``: TensorBoard logging with PyTorch's ``SummaryWriter`` API."""

from ember.utils.tensorboard.writer import SummaryWriter

__all__ = ["SummaryWriter"]
