"""Writes the synthetic sentiment treebank: binarized SST-format trees with compositional labels.

    python data/synthetic-sentiment/generate.py        # rewrites train/dev/test.txt here

Every node carries a sentiment class 0-4 (value -2..2 plus 2) computed bottom-up by fixed rules:

- adjectives have a value of their own (``good`` +1, ``awful`` -1); every other word is 0;
- an intensifier doubles what it modifies, within -2..2 (``very good`` +2);
- a negator flips the sign and caps the size at 1 (``not very good`` -1, ``not bad`` +1);
- ``X but Y`` takes Y's value (X's when Y is neutral);
- a noun phrase plus its predicate takes the predicate's value; ``.`` changes nothing.

A bag of words cannot follow these rules: ``not`` and ``very`` appear in sentences of every class,
and ``good but dull`` and ``dull but good`` contain the same words with opposite labels. A tree
model that composes the children can. The output is deterministic (``random.Random(seed)``).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

POSITIVE = ["good", "great", "charming", "funny", "moving", "clever", "lovely", "gripping"]
NEGATIVE = ["bad", "dull", "awful", "boring", "clumsy", "tedious", "bland", "messy"]
INTENSIFIERS = ["very", "really", "truly", "extremely"]
NEGATORS = ["not", "never", "hardly"]
DETERMINERS = ["the", "this", "that"]
NOUNS = ["film", "movie", "plot", "script", "cast", "story", "ending", "score"]
VERBS = ["is", "was", "seems", "feels"]
SPLITS = {"train": 600, "dev": 150, "test": 150}


def node(value: int, *children) -> tuple:
    return (value, children)


def word(text: str, value: int = 0) -> tuple:
    return (value, text)


def render(tree: tuple) -> str:
    value, body = tree
    if isinstance(body, str):
        return f"({value + 2} {body})"
    return f"({value + 2} " + " ".join(render(child) for child in body) + ")"


def adjective_phrase(rng: random.Random, depth: int = 0) -> tuple:
    """ADJ | INT ADJP | NEG ADJP, at most three modifiers deep."""
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        positive = rng.random() < 0.5
        return word(rng.choice(POSITIVE if positive else NEGATIVE), 1 if positive else -1)
    inner = adjective_phrase(rng, depth + 1)
    if roll < 0.7:
        value = max(-2, min(2, 2 * inner[0]))
        return node(value, word(rng.choice(INTENSIFIERS)), inner)
    value = 0 if inner[0] == 0 else (-1 if inner[0] > 0 else 1)
    return node(value, word(rng.choice(NEGATORS)), inner)


def clause(rng: random.Random) -> tuple:
    """(the film) (is ADJP)."""
    subject = node(0, word(rng.choice(DETERMINERS)), word(rng.choice(NOUNS)))
    adjp = adjective_phrase(rng)
    predicate = node(adjp[0], word(rng.choice(VERBS)), adjp)
    return node(predicate[0], subject, predicate)


def sentence(rng: random.Random) -> tuple:
    """CLAUSE . | CLAUSE (but CLAUSE) ."""
    body = clause(rng)
    if rng.random() < 0.45:
        second = clause(rng)
        contrast = node(second[0], word("but"), second)
        body = node(second[0] if second[0] else body[0], body, contrast)
    return node(body[0], body, word("."))


def generate(seed: int = 8) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {split: [render(sentence(rng)) for _ in range(count)]
            for split, count in SPLITS.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    for split, lines in generate(args.seed).items():
        (args.out / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{split}: {len(lines)} trees")


if __name__ == "__main__":
    main()
