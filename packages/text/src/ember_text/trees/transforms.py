"""Tree rewrites for binary tree-nets: binarization and unary-chain collapsing."""

from __future__ import annotations

from ember_text.trees.tree import Tree


def binarize(tree: Tree, factor: str = "right", collapse_unary: bool = True,
             joiner: str = "|") -> Tree:
    """A copy of ``tree`` where every internal node has exactly two children.

    A node with ``k > 2`` children becomes a chain of binary nodes labelled ``label + joiner``
    (``"NP|"``): right-factored ``(A a (A| b c))`` or left-factored ``(A (A| a b) c)``. Such
    labels are not integers, so ``TreeBatch.labels`` marks them ignored. With
    ``collapse_unary``, a node with one ``Tree`` child is replaced by that child, keeping the upper
    label (``(S (NP (N dog)))`` becomes ``(S dog)``); tokens under a leaf node stay as they are.

    Example:
        >>> str(binarize(Tree.fromstring("(A (B b) (C c) (D d))")))
        '(A (B b) (A| (C c) (D d)))'
    """
    if factor not in ("right", "left"):
        raise ValueError(f"binarize: factor must be 'right' or 'left', got {factor!r}")
    copies: dict[int, Tree] = {}
    for node in reversed(list(tree.subtrees())):  # children before parents: no recursion
        if node.is_leaf:
            copies[id(node)] = Tree(node.label, node.children)
            continue
        children = [copies[id(c)] if isinstance(c, Tree) else Tree(node.label, [c])
                    for c in node.children]
        if len(children) == 1:
            only = children[0]
            copies[id(node)] = (Tree(node.label, only.children) if collapse_unary
                                else Tree(node.label, children))
            continue
        label = node.label + joiner
        if factor == "right":
            while len(children) > 2:
                children = children[:-2] + [Tree(label, children[-2:])]
        else:
            while len(children) > 2:
                children = [Tree(label, children[:2])] + children[2:]
        copies[id(node)] = Tree(node.label, children)
    return copies[id(tree)]


def is_binary(tree: Tree) -> bool:
    """True when every non-leaf node has exactly two children, all of them ``Tree`` nodes."""
    return all(node.is_leaf or (len(node.children) == 2
                                and all(isinstance(c, Tree) for c in node.children))
               for node in tree.subtrees())
