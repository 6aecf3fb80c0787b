"""Tree-nets batched by level (Tree-LSTMs, RNTN, recursive NN) and RNN language models.

Recurrent layers themselves (``LSTM``, ``GRU``) live in ``ember.nn``.
"""

from ember_text.nn.classifiers import CELLS, BagOfWords, TreeClassifier
from ember_text.nn.fold import tree_fold
from ember_text.nn.recursive import RNTN, RecursiveNN
from ember_text.nn.tree_lstm import BinaryTreeLSTM, ChildSumTreeLSTM

__all__ = ["CELLS", "RNTN", "BagOfWords", "BinaryTreeLSTM", "ChildSumTreeLSTM", "RecursiveNN",
           "TreeClassifier", "tree_fold"]
