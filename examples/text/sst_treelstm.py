"""Sentiment classification with a Tree-LSTM on the Stanford Sentiment Treebank (Tai et al. 2015).

Every node of every training tree carries a label, so the loss covers all phrases of a sentence
at once (the papers' "train on all phrases", without repeating subtrees). Adagrad with weight
decay for the network, its own learning rate for the word embeddings (randomly initialised:
nothing is downloaded), dropout on embeddings and states. The dev set's sentence accuracy picks
the best epoch; the test accuracy of that model is reported at the end. A checkpoint is written
after every epoch (``--resume`` continues from it) and the best model beside it. With
``--tensorboard``, the training loss, dev accuracies, learning rates and a histogram of every
parameter go to TensorBoard events in the log folder after each epoch.

    python examples/text/sst_treelstm.py --data ../shared/data/sst --epochs 12   # 46.5% fine
    python examples/text/sst_treelstm.py --data ../shared/data/sst --lowercase --epochs 12  # 47.7%
    python examples/text/sst_treelstm.py --data ../shared/data/sst --binary --lowercase \
        --embedding-lr 0.05 --epochs 14                                    # 86.1% binary
    python examples/text/sst_treelstm.py --data data/synthetic-sentiment --model bow
    python examples/text/sst_treelstm.py --resume runs/sst-binary-binary/checkpoint.safetensors \
        --epochs 18                                                        # six more epochs

Results and wall times: docs/text.md.

``--data`` is any folder with ``train.txt``, ``dev.txt`` and ``test.txt`` in SST's format.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import ember
import ember.nn.functional as F
from ember_text.datasets import SST
from ember_text.nn import CELLS, BagOfWords, TreeClassifier
from ember_text.trees import TreeBatch
from ember_text.vocab import Vocab

REPO = Path(__file__).resolve().parents[2]
#: what a checkpoint's run was started with: --resume takes these from the checkpoint
RUN_SETTINGS = ("binary", "lowercase", "model", "batch_size", "embedding_dim", "hidden_size", "lr",
                "embedding_lr", "weight_decay", "dropout", "min_freq", "seed", "train_limit")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "sst",
                        help="folder with train.txt, dev.txt and test.txt")
    parser.add_argument("--binary", action="store_true",
                        help="positive/negative (neutral sentences dropped) instead of 5 classes")
    parser.add_argument("--lowercase", action="store_true", help="lower-case every word")
    parser.add_argument("--model", default="binary", choices=[*CELLS, "bow"],
                        help="tree-net cell, or bow: a bag-of-words baseline")
    parser.add_argument("--epochs", type=int, default=None,
                        help="total epochs (default 10, or the resumed run's)")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--embedding-dim", type=int, default=300)
    parser.add_argument("--hidden-size", type=int, default=150)
    parser.add_argument("--lr", type=float, default=0.05, help="Adagrad, the network")
    parser.add_argument("--embedding-lr", type=float, default=0.1, help="Adagrad, the embeddings")
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--min-freq", type=int, default=2,
                        help="rarer words become <unk> (which so gets trained)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-limit", type=int, default=None,
                        help="use only the first N training sentences")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="checkpoints (default: runs/sst-{binary,fine}-MODEL)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="log loss, dev accuracies, learning rates and parameter histograms "
                             "as TensorBoard events in LOG_DIR (needs tensorboardX)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue the run saved in this checkpoint (its settings win)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def lowercase(trees: list) -> list:
    """The trees with every word lower-cased (in place)."""
    for tree in trees:
        for node in tree.subtrees():
            node.children = [c.lower() if isinstance(c, str) else c for c in node.children]
    return trees


def batches(trees, batch_size: int, shuffle: bool, seed: int = 0):
    """TreeBatches of ``batch_size`` trees, in a seeded random order when ``shuffle``."""
    order = np.random.default_rng(seed).permutation(len(trees)) if shuffle else range(len(trees))
    order = list(order)
    for start in range(0, len(order), batch_size):
        yield TreeBatch([trees[i] for i in order[start:start + batch_size]])


def node_logits(model, batch: TreeBatch, vocab: Vocab):
    """(logits, their labels): every node for a tree-net, the roots for the bag of words."""
    logits = model(batch, batch.leaf_tokens(vocab))
    if isinstance(model, BagOfWords):
        return logits, batch.labels[batch.roots]
    return logits, batch.labels


def train_epoch(model, trees, vocab, optimizer, args, epoch: int) -> float:
    """One pass over ``trees``; returns the mean loss per labelled node."""
    model.train()
    total, count = 0.0, 0
    progress = tqdm(batches(trees, args.batch_size, True, args.seed * 1000 + epoch),
                    total=-(-len(trees) // args.batch_size), desc=f"epoch {epoch}/{args.epochs}",
                    unit="batch", leave=False, disable=args.quiet or None)
    for batch in progress:
        logits, labels = node_logits(model, batch, vocab)
        # Summed over a tree's labelled nodes, averaged over trees (Tai et al.): weight decay
        # then weighs against the loss as in the paper, whatever the trees' sizes.
        loss_sum = F.cross_entropy(logits, labels, reduction="sum")
        optimizer.zero_grad()
        (loss_sum / batch.num_trees).backward()
        optimizer.step()
        total, count = total + loss_sum.item(), count + int((labels >= 0).sum().item())
        progress.set_postfix(loss=f"{total / count:.4f}", refresh=False)
    return total / count


def evaluate(model, trees, vocab, batch_size: int = 200,
             collapse: bool = False) -> tuple[float, float | None]:
    """(sentence accuracy, all-phrase accuracy) over ``trees``; the bag of words classifies
    sentences only (phrase accuracy None). ``collapse``: a 5-class model on binary trees,
    positive when P(3) + P(4) > P(0) + P(1)."""
    model.eval()
    roots = [0, 0]
    phrases = [0, 0]
    with ember.no_grad():
        for batch in batches(trees, batch_size, shuffle=False):
            logits, labels = node_logits(model, batch, vocab)
            if collapse:
                p = logits.softmax(dim=1)
                predicted = (p[:, 3] + p[:, 4] > p[:, 0] + p[:, 1]).long()
            else:
                predicted = logits.argmax(dim=1)
            if isinstance(model, BagOfWords):
                root_hits, root_labels = predicted == labels, labels
            else:
                root_hits, root_labels = (predicted == labels)[batch.roots], labels[batch.roots]
                mask = labels >= 0
                phrases[0] += int(((predicted == labels) & mask).sum().item())
                phrases[1] += int(mask.sum().item())
            roots[0] += int((root_hits & (root_labels >= 0)).sum().item())
            roots[1] += int((root_labels >= 0).sum().item())
    return roots[0] / roots[1], (phrases[0] / phrases[1] if phrases[1] else None)


def percent(fraction: float | None) -> str:
    return "-" if fraction is None else f"{100 * fraction:.2f}%"


def build_model(args, vocab_size: int, num_classes: int):
    if args.model == "bow":
        return BagOfWords(vocab_size, args.embedding_dim, num_classes)
    return TreeClassifier(vocab_size, args.embedding_dim, args.hidden_size, num_classes,
                          cell=args.model, dropout=args.dropout)


def build_optimizer(model, args):
    """Adagrad; the embeddings in their own group (own learning rate, no weight decay)."""
    embedding = list(model.embedding.parameters())
    rest = [p for name, p in model.named_parameters() if not name.startswith("embedding.")]
    return ember.optim.Adagrad([
        {"params": rest, "lr": args.lr, "weight_decay": args.weight_decay},
        {"params": embedding, "lr": args.embedding_lr, "weight_decay": 0.0},
    ])


def log_epoch(writer, model, optimizer, epoch: int, loss: float, dev_sentences: float,
              dev_phrases: float | None) -> None:
    """One epoch's scalars and parameter histograms for TensorBoard."""
    writer.add_scalar("train/loss", loss, epoch)
    writer.add_scalar("dev/sentence_accuracy", dev_sentences, epoch)
    if dev_phrases is not None:
        writer.add_scalar("dev/phrase_accuracy", dev_phrases, epoch)
    writer.add_scalars("lr", {"network": optimizer.param_groups[0]["lr"],
                              "embeddings": optimizer.param_groups[1]["lr"]}, epoch)
    for name, parameter in model.named_parameters():
        writer.add_histogram(name, parameter, epoch)


def main(argv=None) -> dict:
    """Trains (or resumes); returns the best epoch's dev accuracy and its test accuracies."""
    args = parse_args(argv)
    checkpoint = ember.load(args.resume) if args.resume is not None else None
    if checkpoint is not None:
        for name in RUN_SETTINGS:
            setattr(args, name, checkpoint["settings"].get(name, getattr(args, name)))
        args.log_dir = args.log_dir or args.resume.parent
        args.epochs = args.epochs or checkpoint["epochs"]
    args.epochs = args.epochs or 10
    kind = "binary" if args.binary else "fine"
    args.log_dir = args.log_dir or Path("runs") / f"sst-{kind}-{args.model}"
    ember.manual_seed(args.seed)

    splits = {split: SST(args.data, split, fine_grained=not args.binary)
              for split in ("train", "dev", "test")}
    if args.lowercase:
        for split in splits.values():
            lowercase(split.trees)
    train = splits["train"].trees[:args.train_limit]
    if checkpoint is not None:
        vocab = Vocab(checkpoint["vocab"], unk_token="<unk>")
    else:
        vocab = Vocab.build((tree.leaves() for tree in train), min_freq=args.min_freq)
    num_classes = splits["train"].num_classes
    model = build_model(args, len(vocab), num_classes)
    optimizer = build_optimizer(model, args)
    start_epoch, best = 0, {"epoch": 0, "dev": -1.0}
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        ember.set_rng_state(checkpoint["rng"])
        start_epoch, best = checkpoint["epoch"], dict(checkpoint["best"])
        print(f"resumed from {args.resume} after epoch {start_epoch} of {args.epochs}")
    print(f"{args.model} on SST ({kind}, {num_classes} classes) from {args.data}: "
          f"{len(train)}/{len(splits['dev'])}/{len(splits['test'])} sentences, vocabulary "
          f"{len(vocab)}, {sum(p.numel() for p in model.parameters()):,} parameters")

    args.log_dir.mkdir(parents=True, exist_ok=True)
    writer = None
    if args.tensorboard:
        from ember.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(args.log_dir))
    start = time.perf_counter()
    for epoch in range(start_epoch + 1, args.epochs + 1):
        loss = train_epoch(model, train, vocab, optimizer, args, epoch)
        dev_sentences, dev_phrases = evaluate(model, splits["dev"].trees, vocab)
        improved = dev_sentences > best["dev"]
        if improved:
            best = {"epoch": epoch, "dev": dev_sentences}
            ember.save({"model": model.state_dict(), "vocab": vocab.itos, "epoch": epoch,
                        "settings": {name: getattr(args, name) for name in RUN_SETTINGS}},
                       args.log_dir / "best.safetensors")
        if writer is not None:
            log_epoch(writer, model, optimizer, epoch, loss, dev_sentences, dev_phrases)
        print(f"epoch {epoch}/{args.epochs}: train loss {loss:.4f}, dev accuracy "
              f"{percent(dev_sentences)} sentences, {percent(dev_phrases)} phrases"
              f"{' (best)' if improved else ''} ({time.perf_counter() - start:.0f} s)",
              flush=True)
        ember.save({  # atomic: a crash mid-write leaves the previous checkpoint intact
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
            "epochs": args.epochs, "best": best, "vocab": vocab.itos, "rng": ember.get_rng_state(),
            "settings": {name: getattr(args, name) for name in RUN_SETTINGS},
        }, args.log_dir / "checkpoint.safetensors")

    if writer is not None:
        writer.close()
    model.load_state_dict(ember.load(args.log_dir / "best.safetensors")["model"])
    test_sentences, test_phrases = evaluate(model, splits["test"].trees, vocab)
    print(f"test accuracy (model of epoch {best['epoch']}, dev {percent(best['dev'])}): "
          f"{percent(test_sentences)} sentences, {percent(test_phrases)} phrases "
          f"({time.perf_counter() - start:.0f} s)")
    result = {"dev": best["dev"], "test": test_sentences, "test_phrases": test_phrases,
              "epoch": best["epoch"]}
    if not args.binary and args.model != "bow":  # the same model on the binary task
        binary = SST(args.data, "test", fine_grained=False).trees
        binary = lowercase(binary) if args.lowercase else binary
        result["test_binary"], _ = evaluate(model, binary, vocab, collapse=True)
        print(f"binary test accuracy of this 5-class model (neutral sentences dropped, "
              f"P(3) + P(4) against P(0) + P(1)): {percent(result['test_binary'])}")
    return result


if __name__ == "__main__":
    main()
