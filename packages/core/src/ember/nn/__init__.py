"""``ember.nn``: Module, Parameter, layers, losses, ``init``, ``functional`` and ``utils``.

Layer families (convolution, pooling, normalisation, recurrent, attention) each live in their
own module of ``ember.nn.modules`` and are re-exported here.
"""

from ember.nn import functional, init, parallel, utils
from ember.nn.modules import *  # noqa: F403
from ember.nn.modules import __all__ as _modules_all
from ember.nn.parallel import DataParallel
from ember.nn.parameter import Buffer, Parameter

__all__ = ["Buffer", "DataParallel", "Parameter", "functional", "init", "parallel", "utils",
           *_modules_all]
