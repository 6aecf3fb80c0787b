"""A Tree-LSTM against a bag of words on the synthetic sentiment treebank shipped in data/.

The labels follow compositional rules (negators flip, intensifiers double, ``X but Y`` takes Y's
sentiment; see data/synthetic-sentiment/generate.py), so word order and structure decide them:
the bag of words stays near the majority class while the Tree-LSTM learns the rules. Both train
with ``examples/text/sst_treelstm.py`` (the SST recipe) on the same 600 sentences; the demo
prints their test accuracies. About half a minute on two cores.

    python examples/text/tree_demo.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sst_treelstm beside this file

import sst_treelstm  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "synthetic-sentiment"
SMALL = ["--embedding-dim", "32", "--hidden-size", "32", "--batch-size", "20", "--quiet"]
RUNS = {  # the bag of words gets more epochs and a larger step: it is cheap, and it still fails
    "Tree-LSTM (binary)": ["--model", "binary", "--epochs", "4", "--dropout", "0",
                           "--lr", "0.05", "--embedding-lr", "0.05"],
    "bag of words": ["--model", "bow", "--epochs", "20", "--lr", "0.3", "--embedding-lr", "0.3"],
}


def main() -> dict[str, float]:
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, options in RUNS.items():
            print(f"== {name}")
            start = time.perf_counter()
            out = sst_treelstm.main(["--data", str(DATA), *SMALL, *options,
                                     "--log-dir", str(Path(folder) / options[1])])
            results[name] = out["test"]
            print(f"   {time.perf_counter() - start:.1f} s\n")
    print("test accuracy (5 classes, sentence level):")
    for name, accuracy in results.items():
        print(f"  {name:<20} {100 * accuracy:6.2f}%")
    return results


if __name__ == "__main__":
    main()
