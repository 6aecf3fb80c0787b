"""``ember.optim``: optimizers over parameter groups, and learning-rate schedulers.

Example:
    >>> model = ember.nn.Linear(4, 2)
    >>> opt = ember.optim.AdamW(model.parameters(), lr=1e-3)
    >>> scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
"""

from ember.optim import lr_scheduler, swa_utils
from ember.optim.adadelta import Adadelta
from ember.optim.adagrad import Adagrad
from ember.optim.adam import Adam, AdamW
from ember.optim.adamax import Adamax
from ember.optim.asgd import ASGD
from ember.optim.lbfgs import LBFGS
from ember.optim.nadam import NAdam
from ember.optim.optimizer import Optimizer
from ember.optim.radam import RAdam
from ember.optim.rmsprop import RMSprop
from ember.optim.sgd import SGD

__all__ = ["ASGD", "LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "NAdam",
           "Optimizer", "RAdam", "RMSprop", "lr_scheduler", "swa_utils"]
