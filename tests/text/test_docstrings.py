"""The docstring examples of ember_text run and print what they say (as tests/core's do).

Examples see their module's globals plus ``ember``, ``Tree``, ``TreeBatch`` and the cells of
``ember_text.nn``.
"""

import pytest

import ember
import ember_text.nn as text_nn
from docstrings import modules_with_examples, run_examples
from ember_text.trees import Tree, TreeBatch

#: modules whose every example is skipped, with the reason
ALL_SKIPPED = {
    "ember_text.datasets.sst": "reads ../shared/data relative to the working directory",
    "ember_text.datasets.corpus": "reads ../shared/data relative to the working directory",
}
NAMES = {"ember": ember, "Tree": Tree, "TreeBatch": TreeBatch,
         **{n: getattr(text_nn, n) for n in text_nn.__all__}}


@pytest.mark.parametrize("name", modules_with_examples("ember_text", exclude=ALL_SKIPPED))
def test_docstring_examples(name):
    run_examples(name, NAMES)
