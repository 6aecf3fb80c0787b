"""Sentence classifiers over trees: a tree-net with a per-node softmax, and a bag of words."""

from __future__ import annotations

import ember
from ember import nn
from ember_text.nn.recursive import RNTN, RecursiveNN
from ember_text.nn.tree_lstm import BinaryTreeLSTM, ChildSumTreeLSTM
from ember_text.trees import TreeBatch

#: the cells ``TreeClassifier`` can use, by name
CELLS = {"binary": BinaryTreeLSTM, "childsum": ChildSumTreeLSTM, "rntn": RNTN,
         "recursive": RecursiveNN}


class TreeClassifier(nn.Module):
    """Embedding -> tree-net -> dropout -> linear: a class score for every node (Tai et al.).

    Args:
        vocab_size, embedding_dim: the word embedding table.
        hidden_size: the Tree-LSTMs' state size (the recursive nets keep ``embedding_dim``).
        num_classes: classes per node.
        cell: a name in ``CELLS``.
        dropout: on the embeddings and on the states before the classifier.

    Example:
        >>> model = TreeClassifier(10, 8, 6, 5)
        >>> batch = TreeBatch([Tree.fromstring("(1 (2 a) (1 (2 b) (2 c)))")])
        >>> tuple(model(batch, ember.tensor([1, 2, 3])).shape)
        (5, 5)
    """

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_classes: int,
                 cell: str = "binary", dropout: float = 0.0) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"TreeClassifier: unknown cell {cell!r} (expected one of "
                             f"{sorted(CELLS)})")
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        lstm = cell in ("binary", "childsum")
        self.cell = CELLS[cell](embedding_dim, hidden_size) if lstm else CELLS[cell](embedding_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size if lstm else embedding_dim, num_classes)

    def forward(self, batch: TreeBatch, tokens: ember.Tensor) -> ember.Tensor:
        """``tokens``: ``(num_leaves,)`` ids (``batch.leaf_tokens(vocab)``) -> logits
        ``(num_nodes, num_classes)``; ``logits[batch.roots]`` are the sentences'."""
        states = self.cell(batch, self.dropout(self.embedding(tokens)))
        hidden = states[0] if isinstance(states, tuple) else states
        return self.classifier(self.dropout(hidden))


class BagOfWords(nn.Module):
    """The mean of a tree's word embeddings -> linear: a baseline blind to word order.

    ``forward(batch, tokens)`` returns ``(num_trees, num_classes)`` logits, one row per tree.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, num_classes: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.classifier = nn.Linear(embedding_dim, num_classes)

    def forward(self, batch: TreeBatch, tokens: ember.Tensor) -> ember.Tensor:
        vectors = self.embedding(tokens)
        owner = batch.tree_index[:batch.num_leaves]
        zeros = ember.zeros(batch.num_trees, vectors.shape[1], dtype=vectors.dtype,
                            device=vectors.device)
        counts = ember.zeros(batch.num_trees, 1, dtype=vectors.dtype, device=vectors.device)
        counts = counts.index_add(0, owner, ember.ones_like(vectors[:, :1]))
        return self.classifier(zeros.index_add(0, owner, vectors) / counts)
