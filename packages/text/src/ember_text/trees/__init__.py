"""Parse trees: ``Tree`` (PTB/SST s-expressions), binarization, and ``TreeBatch``, which lays out
a minibatch of trees so that a tree-net evaluates each level of all of them in one op."""

from ember_text.trees.batch import IGNORE_INDEX, Level, TreeBatch
from ember_text.trees.transforms import binarize, is_binary
from ember_text.trees.tree import Tree, parse_trees, read_trees

__all__ = ["IGNORE_INDEX", "Level", "Tree", "TreeBatch", "binarize", "is_binary", "parse_trees",
           "read_trees"]
