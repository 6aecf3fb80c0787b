"""numpy's floating-point warnings from inside Ember are not shown: PyTorch gives the IEEE result
(``log(0) = -inf``, ``0 / 0 = nan``, ``exp(1000) = inf``) without a warning, and so does Ember.

``np.errstate`` around every op would cost about 2 us per op (more than the op itself on small
tensors; even numpy's context variable set directly costs 0.25 us), so a warnings filter does it:
numpy attributes the warning to the Python line that called the ufunc, and the filter ignores
those of Ember's own modules. It costs nothing until a warning fires, and leaves warnings of the
user's own numpy code alone. It is appended after every other filter, so explicit choices win:
``-W error::RuntimeWarning``, ``warnings.simplefilter("always")``, ``np.seterr(all="raise")``.

``import ember`` installs it. A ``warnings.catch_warnings()`` block around that import (pytest's
collection is one) restores the filters it saw on entry, dropping this one; each backward pass
puts it back (an identity check of the filter list, once per backward), and
``hide_float_warnings()`` does it at once.
"""

from __future__ import annotations

import warnings

_MESSAGE = r"(divide by zero|invalid value|overflow|underflow) encountered"
_MODULE = r"ember(\.|$)"  # ember and its submodules, not ember_vision & co (their own code)
_installed_in = None  # the filter list hide_float_warnings last checked


def hide_float_warnings() -> None:
    """Appends the filter to ``warnings.filters`` unless it is there already."""
    global _installed_in
    warnings.filterwarnings("ignore", message=_MESSAGE, category=RuntimeWarning, module=_MODULE,
                            append=True)  # append=True keeps an identical entry where it is
    _installed_in = warnings.filters


def ensure_float_warnings_hidden() -> None:
    """hide_float_warnings() if the filter list was swapped since (cheap: an identity check)."""
    if warnings.filters is not _installed_in:
        hide_float_warnings()
