"""The docstring examples of ember_vision run and print what they say (as tests/core's do).

Examples see their module's globals plus ``ember`` and ``nn``; the ``F`` of the transforms is
their module's own (``ember_vision.transforms.functional``). They run in the repository root,
where the datasets' examples find the bundled ``data/fashion-mnist-subset``.
"""

from pathlib import Path

import pytest

import ember
import ember.nn
from docstrings import modules_with_examples, run_examples

ROOT = Path(__file__).resolve().parents[2]
#: modules whose every example is skipped, with the reason
ALL_SKIPPED = {"ember_vision.datasets.cifar": "CIFAR-10 is not in the repository (no download)"}


@pytest.mark.parametrize("name", modules_with_examples("ember_vision", exclude=ALL_SKIPPED))
def test_docstring_examples(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    run_examples(name, {"ember": ember, "nn": ember.nn})
