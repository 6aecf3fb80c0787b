"""``ember.special``: PyTorch's ``torch.special`` names over Ember's ops (all differentiable).

Everything is computed by Ember itself in float64-accurate numpy/cupy code; scipy is not needed.
Not provided yet: ``erfcx``, ``log_ndtr``, ``zeta``, the Bessel functions beyond ``i0``/``i1``.

Example:
    >>> from ember import special
    >>> special.gammaln(ember.tensor([1.0, 5.0]))
    tensor([0.0000, 3.1781])
"""

from __future__ import annotations

from ember.ops.bessel import i0e, i1, i1e
from ember.ops.special_functions import entr, ndtr, ndtri, xlog1py
from ember.tensor.registry import OPS

# The same functions as ember.<name>, under PyTorch's special names.
digamma = OPS["digamma"]
erf = OPS["erf"]
erfc = OPS["erfc"]
erfinv = OPS["erfinv"]
exp2 = OPS["exp2"]
expit = OPS["sigmoid"]
expm1 = OPS["expm1"]
gammaln = OPS["lgamma"]
i0 = OPS["i0"]
log1p = OPS["log1p"]
log_softmax = OPS["log_softmax"]
logit = OPS["logit"]
logsumexp = OPS["logsumexp"]
multigammaln = OPS["mvlgamma"]
polygamma = OPS["polygamma"]
psi = OPS["digamma"]
round = OPS["round"]  # noqa: A001
sinc = OPS["sinc"]
softmax = OPS["softmax"]
xlogy = OPS["xlogy"]

__all__ = [
    "digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "i0", "i0e",
    "i1", "i1e", "log1p",
    "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma", "psi",
    "round", "sinc", "softmax", "xlog1py", "xlogy",
]
