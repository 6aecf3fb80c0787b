"""A character-level LSTM language model (Tiny Shakespeare or any text file), trained by
truncated backpropagation through time.

The text's last 10% is held out; the validation loss is reported in nats per character after
every epoch, with a sample of generated text. Adam under a cosine schedule, gradient-norm
clipping, the recurrent state carried across segments (detached). A checkpoint is written after
every epoch (``--resume`` continues from it) and the best model beside it. With
``--tensorboard``, the losses, the learning rate and a histogram of every parameter go to
TensorBoard events in the log folder after each epoch (``tensorboard --logdir runs``).

    python examples/text/char_lm.py --data ../shared/data/tinyshakespeare/input.txt
    python examples/text/char_lm.py --data input.txt --rnn gru --hidden-size 256 --epochs 3
    python examples/text/char_lm.py --resume runs/char-lm/checkpoint.safetensors --epochs 8
    python examples/text/char_lm.py --resume runs/char-lm/best.safetensors --sample-only \\
        --prompt "ROMEO:" --temperature 0.8 --top-k 10
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from tqdm import tqdm

import ember
import ember.nn.functional as F
from ember_text.bptt import batchify, bptt_batches
from ember_text.datasets import TextCorpus
from ember_text.nn import RNNLanguageModel, detach_state, sample
from ember_text.vocab import Vocab

REPO = Path(__file__).resolve().parents[2]
#: what a checkpoint's run was started with: --resume takes these from the checkpoint
RUN_SETTINGS = ("rnn", "embedding_dim", "hidden_size", "num_layers", "dropout", "tie_weights",
                "batch_size", "bptt", "lr", "clip", "seed", "valid_fraction", "train_limit")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared" / "data" / "tinyshakespeare" / "input.txt")
    parser.add_argument("--rnn", default="lstm", choices=("lstm", "gru"))
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--tie-weights", action="store_true",
                        help="decoder shares the embedding (needs embedding-dim == hidden-size)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="total epochs (default 6, or the resumed run's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--bptt", type=int, default=100, help="steps per truncated segment")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam, peak of a cosine schedule")
    parser.add_argument("--clip", type=float, default=5.0, help="gradient-norm clipping")
    parser.add_argument("--valid-fraction", type=float, default=0.1)
    parser.add_argument("--train-limit", type=int, default=None,
                        help="train on the first N characters only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="checkpoints (default: runs/char-lm)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="log losses, learning rate and parameter histograms as TensorBoard "
                             "events in LOG_DIR (needs tensorboardX)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue the run saved in this checkpoint (its settings win)")
    parser.add_argument("--sample-only", action="store_true",
                        help="with --resume: print a sample and stop")
    parser.add_argument("--sample-length", type=int, default=300)
    parser.add_argument("--prompt", default="\n")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def train_epoch(model, source, optimizer, scheduler, args, epoch: int) -> float:
    """One pass over ``source`` ``(T, N)``; returns the mean loss in nats per character."""
    model.train()
    state, total, count = None, 0.0, 0
    progress = tqdm(bptt_batches(source, args.bptt), total=-(-(source.shape[0] - 1) // args.bptt),
                    desc=f"epoch {epoch}/{args.epochs}", unit="segment", leave=False,
                    disable=args.quiet or None)
    parameters = list(model.parameters())
    for inputs, targets in progress:
        state = detach_state(state)
        logits, state = model(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        ember.nn.utils.clip_grad_norm_(parameters, args.clip)
        optimizer.step()
        scheduler.step()
        total, count = total + loss.item() * targets.numel(), count + targets.numel()
        progress.set_postfix(loss=f"{total / count:.3f}", refresh=False)
    return total / count


def evaluate(model, source, bptt: int) -> float:
    """Mean loss in nats per character over ``source`` ``(T, N)``, state carried throughout."""
    model.eval()
    state, total, count = None, 0.0, 0
    with ember.no_grad():
        for inputs, targets in bptt_batches(source, bptt):
            logits, state = model(inputs, state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                     reduction="sum").item()
            count += targets.numel()
    return total / count


def generate(model, vocab: Vocab, args, generator=None) -> str:
    """The prompt and ``--sample-length`` characters drawn after it (characters the vocabulary
    lacks are skipped when reading the prompt)."""
    prompt = [vocab[c] for c in args.prompt if c in vocab] or [0]
    drawn = sample(model, prompt, args.sample_length, args.temperature, args.top_k, generator)
    return args.prompt + "".join(vocab.lookup_tokens(drawn))


def build(args, vocab_size: int) -> RNNLanguageModel:
    return RNNLanguageModel(vocab_size, args.embedding_dim, args.hidden_size, args.num_layers,
                            args.rnn, args.dropout, args.tie_weights)


def main(argv=None) -> dict:
    """Trains (or resumes); returns the best validation loss (nats/char) and a sample."""
    args = parse_args(argv)
    checkpoint = ember.load(args.resume) if args.resume is not None else None
    if checkpoint is not None:
        for name in RUN_SETTINGS:
            setattr(args, name, checkpoint["settings"].get(name, getattr(args, name)))
        args.log_dir = args.log_dir or args.resume.parent
        args.epochs = args.epochs or checkpoint.get("epochs")
    args.epochs = args.epochs or 6
    args.log_dir = args.log_dir or Path("runs") / "char-lm"
    ember.manual_seed(args.seed)
    vocab = None if checkpoint is None else Vocab(checkpoint["vocab"])
    corpus = TextCorpus(args.data, "char", args.valid_fraction, vocab=vocab)
    model = build(args, len(corpus.vocab))
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
    generator = ember.Generator().manual_seed(args.seed)
    if args.sample_only:
        text = generate(model, corpus.vocab, args, generator)
        print(text)
        return {"sample": text}

    train = batchify(corpus.train[:args.train_limit], args.batch_size)
    valid = batchify(corpus.valid, 16)
    steps_per_epoch = -(-(train.shape[0] - 1) // args.bptt)
    optimizer = ember.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * steps_per_epoch, eta_min=args.lr / 20)
    start_epoch, best = 0, math.inf
    if checkpoint is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        ember.set_rng_state(checkpoint["rng"])
        start_epoch, best = checkpoint["epoch"], checkpoint["best"]
        print(f"resumed from {args.resume} after epoch {start_epoch} of {args.epochs}")
    print(f"{args.rnn.upper()} language model on {args.data}: {corpus}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, {steps_per_epoch} "
          f"segments of {args.bptt}x{args.batch_size} per epoch")

    args.log_dir.mkdir(parents=True, exist_ok=True)
    settings = {name: getattr(args, name) for name in RUN_SETTINGS}
    writer = None
    if args.tensorboard:
        from ember.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(args.log_dir))
    start = time.perf_counter()
    text = ""
    for epoch in range(start_epoch + 1, args.epochs + 1):
        train_loss = train_epoch(model, train, optimizer, scheduler, args, epoch)
        valid_loss = evaluate(model, valid, args.bptt)
        improved = valid_loss < best
        if improved:
            best = valid_loss
            ember.save({"model": model.state_dict(), "vocab": corpus.vocab.itos, "epoch": epoch,
                        "best": best, "settings": settings}, args.log_dir / "best.safetensors")
        text = generate(model, corpus.vocab, args, generator)
        if writer is not None:
            writer.add_scalar("train/loss", train_loss, epoch)
            writer.add_scalar("valid/loss", valid_loss, epoch)
            writer.add_scalar("lr", optimizer.param_groups[0]["lr"], epoch)
            writer.add_text("sample", text, epoch)
            for name, parameter in model.named_parameters():
                writer.add_histogram(name, parameter, epoch)
        print(f"epoch {epoch}/{args.epochs}: train {train_loss:.4f}, validation {valid_loss:.4f} "
              f"nats/char{' (best)' if improved else ''} ({time.perf_counter() - start:.0f} s)\n"
              f"--- sample ---\n{text}\n--------------", flush=True)
        ember.save({  # atomic: a crash mid-write leaves the previous checkpoint intact
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "epoch": epoch, "epochs": args.epochs,
            "best": best, "vocab": corpus.vocab.itos, "rng": ember.get_rng_state(),
            "settings": settings,
        }, args.log_dir / "checkpoint.safetensors")
    if writer is not None:
        writer.close()
    print(f"best validation loss {best:.4f} nats/char ({time.perf_counter() - start:.0f} s)")
    return {"valid": best, "sample": text}


if __name__ == "__main__":
    main()
