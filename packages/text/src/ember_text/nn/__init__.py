"""Tree-nets batched by level (Tree-LSTMs, RNTN, recursive NN) and RNN language models.

Recurrent layers themselves (``LSTM``, ``GRU``) live in ``ember.nn``.
"""

from ember_text.nn.classifiers import CELLS, BagOfWords, TreeClassifier
from ember_text.nn.fold import tree_fold
from ember_text.nn.language_model import RNNLanguageModel, detach_state, sample, top_k_probabilities
from ember_text.nn.recursive import RNTN, RecursiveNN
from ember_text.nn.tree_lstm import BinaryTreeLSTM, ChildSumTreeLSTM

__all__ = ["CELLS", "RNTN", "BagOfWords", "BinaryTreeLSTM", "ChildSumTreeLSTM", "RNNLanguageModel",
           "RecursiveNN", "TreeClassifier", "detach_state", "sample", "top_k_probabilities",
           "tree_fold"]
