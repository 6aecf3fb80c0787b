"""The docstring examples of ember_text run and print what they say."""

import doctest
import importlib

import pytest

import ember
import ember_text.nn as text_nn
from ember_text.trees import Tree, TreeBatch

# The datasets' examples read ../shared/data relative to the working directory: not run here.
MODULES = ["trees.tree", "trees.batch", "trees.transforms", "nn.tree_lstm", "nn.recursive",
           "nn.classifiers", "nn.language_model", "vocab", "tokenizers", "padding", "bptt"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"ember_text.{name}")
    names = {"ember": ember, "Tree": Tree, "TreeBatch": TreeBatch,
             **{n: getattr(text_nn, n) for n in text_nn.__all__}}
    result = doctest.testmod(module, extraglobs=names, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
