"""Tree parsing, printing, binarization."""

import pytest

from ember_text.trees import Tree, binarize, is_binary, parse_trees, read_trees


def test_round_trip_sample(sample_lines):
    for line in sample_lines:
        assert str(Tree.fromstring(line)) == line


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_round_trip_all_sst(sst_dir, split):
    lines = (sst_dir / f"{split}.txt").read_text(encoding="utf-8").splitlines()
    trees = read_trees(sst_dir / f"{split}.txt")
    assert len(trees) == len(lines)
    assert all(str(tree) == line for tree, line in zip(trees, lines))


def test_structure():
    tree = Tree.fromstring("(3 (2 not) (4 (3 very) (4 good)))")
    assert tree.label == "3" and len(tree.children) == 2
    assert tree.leaves() == ["not", "very", "good"]
    assert len(tree) == 5 and tree.height() == 3
    assert not tree.is_leaf and tree.children[0].is_leaf
    assert [node.label for node in tree.subtrees()] == ["3", "2", "4", "3", "4"]
    assert Tree.fromstring("(2 x)").height() == 1 and len(Tree.fromstring("(2 x)")) == 1


def test_escaped_tokens_kept(sample_lines):
    tree = Tree.fromstring(sample_lines[1])
    assert tree.leaves()[:1] == ["-LRB-"] and "-RRB-" in tree.leaves()
    assert Tree.fromstring(sample_lines[2]).leaves() == ["``", "8\xa01\\/2", "''", "..."]


def test_ptb_multiline_and_unlabelled_root():
    text = "( (S\n    (NP (DT The) (NN cat))\n    (VP (VBD sat))))\n"
    tree = Tree.fromstring(text)
    assert tree.label == "" and tree.children[0].label == "S"
    assert str(tree) == "( (S (NP (DT The) (NN cat)) (VP (VBD sat))))"
    assert tree.leaves() == ["The", "cat", "sat"]


def test_deep_tree_no_recursion_limit():
    depth = 5000
    text = "(1 (2 a) " * depth + "(2 z)" + ")" * depth
    tree = Tree.fromstring(text)
    assert tree.height() == depth + 1 and str(tree) == text
    assert len(binarize(tree)) == len(tree)


def test_parse_many():
    trees = list(parse_trees("(1 (2 a))\n(3 (2 b) (4 c))"))
    assert [str(t) for t in trees] == ["(1 (2 a))", "(3 (2 b) (4 c))"]
    with pytest.raises(ValueError, match="more than one tree"):
        Tree.fromstring("(1 a) (2 b)")


@pytest.mark.parametrize("text, where", [
    ("(1 (2 a)", "unclosed '\\(' at line 1, column 1"),
    ("(1 (2 a)))", "unexpected '\\)' at line 1, column 10"),
    ("(1\n  ()\n)", "empty node .* at line 2, column 3"),
    ("(1 a)\n word", "token 'word' outside any tree at line 2, column 2"),
    ("  ", "no tree"),
])
def test_errors_name_line_and_column(text, where):
    with pytest.raises(ValueError, match=where):
        Tree.fromstring(text)


def test_pformat():
    tree = Tree.fromstring("(3 (2 not) (4 (3 very) (4 good)))")
    assert tree.pformat() == str(tree)
    assert tree.pformat(width=24) == "(3\n  (2 not)\n  (4 (3 very) (4 good)))"
    assert Tree.fromstring(tree.pformat(width=10)) == tree


def test_binarize_right_left_and_unary(sample_lines):
    tree = Tree.fromstring("(S (NP (DT the) (JJ big) (NN cat)) (VP (VBD sat)))")
    right = binarize(tree)
    assert str(right) == "(S (NP (DT the) (NP| (JJ big) (NN cat))) (VP sat))"
    assert is_binary(right) and not is_binary(tree)
    left = binarize(tree, factor="left", collapse_unary=False)
    assert str(left) == "(S (NP (NP| (DT the) (JJ big)) (NN cat)) (VP (VBD sat)))"
    assert right.leaves() == tree.leaves() == left.leaves()
    sst = Tree.fromstring(sample_lines[0])
    assert binarize(sst) == sst  # already binary: unchanged
    with pytest.raises(ValueError, match="factor"):
        binarize(tree, factor="middle")


def test_binarize_mixed_children():
    tree = Tree.fromstring("(A x (B y) z)")
    assert str(binarize(tree)) == "(A (A x) (A| (B y) (A z)))"
