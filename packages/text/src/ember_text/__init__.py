"""Ember Text: vocabularies, tokenizers, parse trees and recursive tree-nets on top of Ember.

- ``ember_text.trees``: ``Tree`` (PTB/SST s-expressions), ``binarize``, ``TreeBatch`` (many trees
  laid out so a tree-net runs one op per level);
- ``ember_text.nn``: ``BinaryTreeLSTM``, ``ChildSumTreeLSTM``, ``RNTN``, ``RecursiveNN``,
  ``tree_fold``, ``TreeClassifier``, ``BagOfWords``, ``RNNLanguageModel`` and ``sample``;
- ``ember_text.vocab``, ``ember_text.tokenizers``, ``ember_text.padding``, ``ember_text.bptt``;
- ``ember_text.datasets``: ``SST`` and ``TextCorpus``.
"""

__version__ = "0.1.0"
