"""``ember.nn.functional`` (import as ``F``): layers as functions, and the losses.

Every public function defined in a module of this package (activation, dropout, linear, loss,
sparse, and the families added beside them) is exported, like the layers of
``ember.nn.modules``. Registered ops that PyTorch offers here too (relu, gelu, pad, linear ...)
are re-exported as they are, and ``F.<name>`` reaches any other registered op.
"""

import importlib as _importlib
import inspect as _inspect
import pkgutil as _pkgutil

from ember.tensor.registry import OPS as _OPS

#: registered ops that ``torch.nn.functional`` offers under the same name and signature
_FROM_OPS = (
    "celu", "cosine_similarity", "elu", "gelu", "hardshrink", "hardsigmoid", "hardswish",
    "hardtanh", "leaky_relu", "linear", "logsigmoid", "mish", "one_hot", "pad",
    "pairwise_distance", "pixel_shuffle", "pixel_unshuffle", "prelu", "relu", "relu_", "relu6",
    "selu", "sigmoid", "silu",
    "softplus", "softshrink", "softsign", "tanh", "tanhshrink", "threshold",
)

for _info in _pkgutil.iter_modules(__path__):
    if _info.name.startswith("_"):
        continue
    _family = _importlib.import_module(f"{__name__}.{_info.name}")
    for _name, _value in vars(_family).items():
        if (not _name.startswith("_") and _inspect.isfunction(_value)
                and _value.__module__ == _family.__name__):
            globals()[_name] = _value
# after the loop: importing a submodule binds its name here (``linear``), the op must win
globals().update({_name: _OPS[_name] for _name in _FROM_OPS if _name in _OPS})


def __getattr__(name: str):
    if name in _OPS:
        return _OPS[name]
    raise AttributeError(f"module 'ember.nn.functional' has no attribute '{name}'")
