"""Running a package's docstring examples as tests: one way for every package (core, vision,
text)."""

import doctest
import importlib
import inspect
import pkgutil


def modules_with_examples(package, exclude=()):
    """Names of the package's modules (the package included) whose source holds a ``>>>``."""
    root = importlib.import_module(package)
    names = [package] + [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")]
    return [n for n in names
            if n not in exclude and ">>>" in inspect.getsource(importlib.import_module(n))]


def run_examples(name, extraglobs):
    """Runs the examples of module ``name`` with its globals plus those of ``extraglobs`` it
    lacks; fails unless some ran and none failed (doctest's report is in the captured output)."""
    module = importlib.import_module(name)
    names = {k: v for k, v in extraglobs.items() if k not in vars(module)}
    result = doctest.testmod(module, extraglobs=names, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
