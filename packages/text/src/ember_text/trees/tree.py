"""``Tree``: a labelled parse tree read from PTB/SST s-expressions.

A node is ``(label child child ...)``; a child is a node or a token (a word). SST writes every
word as its own labelled node, ``(2 film)``, so a node whose children are all tokens is a *leaf*
of the tree-net: ``is_leaf`` is True for it and ``leaves()`` returns its tokens. Tokens are kept
exactly as written (``-LRB-``, ``\\/``, ``''``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A parenthesis, or a run of anything else that is not ASCII white space (SST has a token with a
# no-break space inside: "8\xa01\\/2").
_TOKEN = re.compile(r"\(|\)|[^\s()]+", re.ASCII)


class Tree:
    """A labelled tree node.

    Attributes:
        label: the node's label (a string; SST's sentiment classes are ``"0"`` to ``"4"``).
        children: its children, each a ``Tree`` or a token string.

    Example:
        >>> tree = Tree.fromstring("(3 (2 not) (4 (3 very) (4 good)))")
        >>> tree.leaves(), tree.height(), len(tree)
        (['not', 'very', 'good'], 3, 5)
    """

    __slots__ = ("label", "children")

    def __init__(self, label: str, children=()) -> None:
        self.label = label
        self.children = list(children)

    # ---- reading -------------------------------------------------------------------------------

    @classmethod
    def fromstring(cls, text: str) -> Tree:
        """Parses exactly one s-expression; ``ValueError`` names the line and column of a fault.

        Example:
            >>> str(Tree.fromstring("(1 (2 -LRB-) (1 bad))"))
            '(1 (2 -LRB-) (1 bad))'
        """
        trees = parse_trees(text)
        first = next(trees, None)
        if first is None:
            raise ValueError("Tree.fromstring: no tree in the input (expected '(label ...)')")
        extra = next(trees, None)
        if extra is not None:
            raise ValueError("Tree.fromstring: more than one tree in the input "
                             f"(the second is {str(extra)[:40]!r}); use parse_trees")
        return first

    # ---- structure -----------------------------------------------------------------------------

    @property
    def is_leaf(self) -> bool:
        """True when no child is a ``Tree`` (SST's ``(2 word)``, or a childless node)."""
        return not any(isinstance(child, Tree) for child in self.children)

    def subtrees(self) -> Iterator[Tree]:
        """Every node, in pre-order (this node first), without recursion."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed([c for c in node.children if isinstance(c, Tree)]))

    def leaves(self) -> list[str]:
        """The tokens, left to right."""
        tokens = []
        stack = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, Tree):
                stack.extend(reversed(item.children))
            else:
                tokens.append(item)
        return tokens

    def height(self) -> int:
        """Nodes on the longest path from here down to a leaf node: 1 for a leaf node."""
        heights = {}
        for node in reversed(list(self.subtrees())):  # children before parents
            below = [heights[id(c)] for c in node.children if isinstance(c, Tree)]
            heights[id(node)] = 1 + max(below, default=0)
        return heights[id(self)]

    def __len__(self) -> int:
        """The number of nodes (tokens are not nodes)."""
        return sum(1 for _ in self.subtrees())

    def __eq__(self, other) -> bool:
        return isinstance(other, Tree) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    # ---- writing -------------------------------------------------------------------------------

    def __str__(self) -> str:
        """One line, SST's format: ``(label child child)``, single spaces."""
        parts = []
        stack: list = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, Tree):
                parts.append("(" + item.label)
                stack.append(")")
                for child in reversed(item.children):
                    stack.append(child)
                    stack.append(" ")
            else:
                parts.append(item)
        return "".join(parts)

    def __repr__(self) -> str:
        text = str(self)
        return f"Tree.fromstring({text if len(text) <= 60 else text[:57] + '...'!r})"

    def pformat(self, width: int = 80, indent: int = 2) -> str:
        """Indented form: a node that fits in ``width`` stays on one line, else its children go
        on their own lines, ``indent`` spaces deeper.

        Example:
            >>> print(Tree.fromstring("(3 (2 not) (4 (3 very) (4 good)))").pformat(width=24))
            (3
              (2 not)
              (4 (3 very) (4 good)))
        """
        return "\n".join(_pformat_lines(self, 0, width, indent))

    def pretty_print(self, width: int = 80, indent: int = 2) -> None:
        """Prints ``pformat(width, indent)``."""
        print(self.pformat(width, indent))


def _pformat_lines(tree: Tree, depth: int, width: int, indent: int) -> list[str]:
    pad = " " * (depth * indent)
    flat = str(tree)
    if len(pad) + len(flat) <= width or tree.is_leaf:
        return [pad + flat]
    lines = [pad + "(" + tree.label]
    for child in tree.children:
        if isinstance(child, Tree):
            lines.extend(_pformat_lines(child, depth + 1, width, indent))
        else:
            lines.append(" " * ((depth + 1) * indent) + child)
    lines[-1] += ")"
    return lines


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def parse_trees(text: str) -> Iterator[Tree]:
    """Every s-expression in ``text`` (any white space between and inside), without recursion.

    Raises:
        ValueError: naming the line and column of an unbalanced parenthesis, a missing label or
            a token outside any tree.
    """
    stack: list[tuple[Tree, int]] = []  # open nodes and the offsets of their '('
    expect_label = False
    for match in _TOKEN.finditer(text):
        token, offset = match.group(), match.start()
        if token == "(":
            node = Tree("")
            if expect_label:  # "((" : an unlabelled node, as PTB's outer "( (S ...) )"
                expect_label = False
            if stack:
                stack[-1][0].children.append(node)
            stack.append((node, offset))
            expect_label = True
        elif token == ")":
            if not stack:
                raise ValueError(f"Tree: unexpected ')' at {_position(text, offset)} "
                                 "(no open node)")
            node, start = stack.pop()
            if expect_label:
                raise ValueError(f"Tree: empty node '()' at {_position(text, start)} "
                                 "(expected a label)")
            if not stack:
                yield node
        else:
            if not stack:
                raise ValueError(f"Tree: token {token!r} outside any tree at "
                                 f"{_position(text, offset)} (expected '(')")
            if expect_label:
                stack[-1][0].label = token
                expect_label = False
            else:
                stack[-1][0].children.append(token)
    if stack:
        raise ValueError(f"Tree: unclosed '(' at {_position(text, stack[-1][1])} "
                         "(input ended; expected ')')")


def read_trees(path) -> list[Tree]:
    """The trees of a file (one or many per line, or spread over lines)."""
    with open(path, encoding="utf-8") as file:
        return list(parse_trees(file.read()))
