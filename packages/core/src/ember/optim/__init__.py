"""``ember.optim``: optimizers over parameter groups, and learning-rate schedulers.

Example:
    >>> opt = ember.optim.AdamW(model.parameters(), lr=1e-3)
    >>> scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
"""

from ember.optim import lr_scheduler
from ember.optim.adagrad import Adagrad
from ember.optim.adam import Adam, AdamW
from ember.optim.optimizer import Optimizer
from ember.optim.rmsprop import RMSprop
from ember.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
