"""Utilities: data loading (``ember.utils.data``) and TensorBoard logging."""

# ``import ember`` then ``ember.utils.data.DataLoader`` works, as in PyTorch; tensorboard (an
# optional dependency) is imported on its own: ``from ember.utils.tensorboard import ...``.
from ember.utils import data  # noqa: F401
