"""The Stanford Sentiment Treebank (Socher et al. 2013) read from its PTB-style tree files."""

from __future__ import annotations

from pathlib import Path

from ember.utils.data import Dataset
from ember_text.trees import Tree, read_trees

SPLITS = ("train", "dev", "test")
#: the label binary SST gives neutral nodes: not an integer, so TreeBatch ignores it
NEUTRAL = "neutral"
_BINARY = {"0": "0", "1": "0", "2": NEUTRAL, "3": "1", "4": "1"}


def _to_binary(tree: Tree) -> Tree:
    """A copy with every label mapped: 0-1 -> "0", 3-4 -> "1", 2 -> ``NEUTRAL``."""
    copies: dict[int, Tree] = {}
    for node in reversed(list(tree.subtrees())):
        children = [copies[id(c)] if isinstance(c, Tree) else c for c in node.children]
        if node.label not in _BINARY:
            raise ValueError(f"SST: label {node.label!r} is not a sentiment class 0-4")
        copies[id(node)] = Tree(_BINARY[node.label], children)
    return copies[id(tree)]


class SST(Dataset):
    """SST sentences (or phrases) as ``Tree``s whose node labels are the sentiment classes.

    Reads ``{root}/{split}.txt`` (``train``, ``dev`` or ``test``; one tree per line, the
    standard ``trainDevTestTrees_PTB`` files). Fine-grained: labels ``"0"`` to ``"4"``. Binary
    (``fine_grained=False``): 0-1 become ``"0"``, 3-4 ``"1"``, 2 ``NEUTRAL`` (ignored by
    ``TreeBatch.labels``), and trees whose root is neutral are dropped. ``phrases=True`` yields
    every labelled subtree (every node), as the papers train, neutral ones dropped when binary.

    Example:
        >>> train = SST("../shared/data/sst", "train", fine_grained=False)
        >>> len(train), train[0].label
        (6920, '1')
    """

    def __init__(self, root, split: str = "train", fine_grained: bool = True,
                 phrases: bool = False) -> None:
        if split not in SPLITS:
            raise ValueError(f"SST: split must be one of {SPLITS}, got {split!r}")
        path = Path(root) / f"{split}.txt"
        if not path.exists():
            raise FileNotFoundError(f"SST: {path} does not exist (expected the {split}.txt tree "
                                    "file of trainDevTestTrees_PTB)")
        trees = read_trees(path)
        if not fine_grained:
            trees = [_to_binary(tree) for tree in trees]
        if phrases:
            trees = [node for tree in trees for node in tree.subtrees()]
        if not fine_grained:
            trees = [tree for tree in trees if tree.label != NEUTRAL]
        self.root, self.split = Path(root), split
        self.fine_grained, self.phrases = fine_grained, phrases
        self.trees = trees

    @property
    def num_classes(self) -> int:
        return 5 if self.fine_grained else 2

    def __len__(self) -> int:
        return len(self.trees)

    def __getitem__(self, index: int) -> Tree:
        return self.trees[index]

    def __repr__(self) -> str:
        kind = "fine-grained" if self.fine_grained else "binary"
        unit = "phrases" if self.phrases else "sentences"
        return f"SST({self.split}, {kind}, {len(self)} {unit})"
