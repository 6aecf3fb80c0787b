"""Train a model of the ember_vision zoo on an image-classification dataset.

The reference recipe, as torchvision's ``references/classification/train.py`` but short: SGD
with momentum and weight decay under a cosine learning-rate schedule, the test accuracy after
every epoch, an atomic checkpoint after every epoch (``--resume`` continues from it), the
scalars in LOG_DIR/scalars.csv, or with ``--tensorboard`` as TensorBoard events in LOG_DIR (losses,
accuracies, learning rate, and a histogram of every parameter after each epoch).

    python examples/vision/train.py                       # SmallCNN, bundled Fashion-MNIST subset
    python examples/vision/train.py --data ../shared/data/fashion-mnist --epochs 7   # full set
    python examples/vision/train.py --data ../shared/data/fashion-mnist --epochs 10 --lr 0.05 \
        --weight-decay 1e-4 --model-option width=32 --model-option dropout=0.1   # 92.4%
    python examples/vision/train.py --augment 2       # random crops (padding 2) and flips
    python examples/vision/train.py --tensorboard && tensorboard --logdir runs
    python examples/vision/train.py --model lenet5 --dataset mnist --data ~/mnist
    python examples/vision/train.py --model resnet20 --dataset cifar10 --data ~/cifar-10-batches-bin
    python examples/vision/train.py --resume runs/small_cnn-fashion-mnist/checkpoint.safetensors

The images are read once into memory and normalised with the training set's per-channel mean
and standard deviation. Models made for small images (LeNet-5, SmallCNN, the CIFAR ResNets) take
the data's channels and size; the ImageNet-shaped ones get 3 channels (grey images repeated) of
at least 32x32 (smaller images zero-padded).
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import ember
import ember.nn.functional as F
from ember.utils.data import DataLoader, TensorDataset
from ember_vision import datasets
from ember_vision.models import get_model, list_models

REPO = Path(__file__).resolve().parents[2]
#: models for small images, with the options that fit them to the data
SMALL_IMAGE_MODELS = {
    "lenet5": ("in_channels", "image_size"),
    "small_cnn": ("in_channels", "image_size"),
    "resnet20": ("in_channels",),
    "resnet32": ("in_channels",),
    "resnet56": ("in_channels",),
}
#: what a checkpoint's run was started with: --resume takes these from the checkpoint
RUN_SETTINGS = ("model", "dataset", "epochs", "batch_size", "lr", "momentum", "weight_decay",
                "seed", "train_limit", "test_limit", "augment", "model_option")


def load_dataset(name: str, root: Path | None, train: bool, limit: int | None):
    """The images (N, H, W, C) uint8 and labels (N,) int64 of a split, read into memory."""
    if name == "fake":  # random images and labels: a smoke test of the pipeline, nothing to learn
        dataset = datasets.FakeData(size=limit or (1000 if train else 200), image_size=(3, 32, 32),
                                    num_classes=10, random_offset=0 if train else 1_000_000)
    else:
        if root is None:
            raise SystemExit(f"--data is required for --dataset {name}")
        kind = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST", "cifar10": "CIFAR10"}[name]
        dataset = getattr(datasets, kind)(root, train=train)
    if hasattr(dataset, "data") and hasattr(dataset, "targets"):
        images = np.asarray(dataset.data)[:limit]
        labels = np.asarray(dataset.targets, dtype=np.int64)[:limit]
    else:
        pairs = [dataset[index] for index in range(min(len(dataset), limit or len(dataset)))]
        images = np.stack([np.asarray(image) for image, _ in pairs])
        labels = np.array([int(label) for _, label in pairs], dtype=np.int64)
    if images.ndim == 3:
        images = images[..., None]
    elif images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):  # (N, C, H, W) tensors
        images = images.transpose(0, 2, 3, 1)
    return images, labels


def to_dataset(images: np.ndarray, labels: np.ndarray, mean, std, channels: int, size: int):
    """(N, H, W, C) uint8 -> normalised (N, channels, size, size) float32 (padded, repeated)."""
    pad = (size - images.shape[1]) // 2
    if pad > 0:
        images = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    x = (images.astype(np.float32) / 255 - mean) / std
    x = np.repeat(x, channels // x.shape[-1], axis=-1)
    return TensorDataset(ember.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))),
                         ember.from_numpy(labels))


def parse_options(pairs: list[str]) -> dict:
    """``["width=32", "dropout=0.3"]`` -> ``{"width": 32, "dropout": 0.3}``."""
    options = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--model-option expects KEY=VALUE, got {pair!r}")
        for kind in (int, float, str):
            try:
                options[key] = kind(text)
                break
            except ValueError:
                continue
    return options


def build(args, images: np.ndarray, num_classes: int):
    """The zoo model for the data, and the (channels, size) its inputs must have."""
    channels, size = images.shape[-1], images.shape[1]
    options = {"num_classes": num_classes, **parse_options(args.model_option)}
    if args.model in SMALL_IMAGE_MODELS:
        wanted = {"in_channels": channels, "image_size": size}
        options.update({key: wanted[key] for key in SMALL_IMAGE_MODELS[args.model]})
    else:
        channels, size = 3, max(size, 32)
    return get_model(args.model, **options), channels, size


class CSVWriter:
    """``add_scalar`` into ``scalars.csv`` (tag, step, value, wall time), SummaryWriter-like."""

    def __init__(self, log_dir: Path) -> None:
        self.file = open(log_dir / "scalars.csv", "a", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.file)
        if self.file.tell() == 0:
            self.writer.writerow(["tag", "step", "value", "wall_time"])

    def add_scalar(self, tag: str, value: float, global_step: int) -> None:
        self.writer.writerow([tag, global_step, value, time.time()])
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def scalar_writer(log_dir: Path, tensorboard: bool):
    """TensorBoard's SummaryWriter with ``--tensorboard`` (it needs tensorboardX), else CSV."""
    log_dir.mkdir(parents=True, exist_ok=True)
    if not tensorboard:
        return CSVWriter(log_dir)
    from ember.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(log_dir))


def augment(images: ember.Tensor, padding: int, fill: np.ndarray) -> ember.Tensor:
    """Per image, a random crop of the batch zero-padded by ``padding`` (``fill`` per channel:
    the normalised black) and a horizontal flip with probability 1/2, from Ember's seeded RNG."""
    x = images.numpy()
    n, c, h, w = x.shape
    canvas = np.empty((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    canvas[...] = fill.reshape(1, c, 1, 1)
    canvas[:, :, padding:padding + h, padding:padding + w] = x
    top, left = (ember.randint(0, 2 * padding + 1, (2, n)).numpy() if padding
                 else np.zeros((2, n), dtype=np.int64))
    rows = top[:, None] + np.arange(h)
    cols = left[:, None] + np.arange(w)
    flip = ember.rand(n).numpy() < 0.5
    cols[flip] = cols[flip, ::-1]
    crops = canvas[np.arange(n)[:, None, None, None], np.arange(c)[:, None, None],
                   rows[:, None, :, None], cols[:, None, None, :]]
    return ember.from_numpy(crops)


def train_epoch(model, loader, optimizer, scheduler, device, description: str, augmentation):
    """One pass over ``loader``; returns (mean loss, accuracy) on the training batches.

    ``augmentation``: None, or (padding, fill) for ``augment``.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    progress = tqdm(loader, desc=description, unit="batch", leave=False, disable=None)
    for images, labels in progress:
        if augmentation is not None:
            images = augment(images, *augmentation)
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.item() * len(labels)
        correct += int((logits.argmax(dim=1) == labels).sum().item())
        seen += len(labels)
        progress.set_postfix(loss=f"{total_loss / seen:.4f}", refresh=False)
    return total_loss / seen, correct / seen


def evaluate(model, loader, device):
    """(mean loss, top-1 accuracy) of ``model`` on ``loader``."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with ember.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == labels).sum().item())
            seen += len(labels)
    return total_loss / seen, correct / seen


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small_cnn", choices=list_models())
    parser.add_argument("--dataset", default="fashion-mnist",
                        choices=("fashion-mnist", "mnist", "cifar10", "fake"))
    parser.add_argument("--data", type=Path, default=None,
                        help="dataset folder (default for fashion-mnist: the bundled 12k/2k "
                             "subset in data/fashion-mnist-subset)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1, help="initial (peak) learning rate")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--augment", type=int, default=None, metavar="PADDING",
                        help="train on random crops of the images padded by PADDING pixels, "
                             "flipped left-right half of the time")
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a keyword argument of the model builder (e.g. width=32; "
                             "repeatable; ints and floats are converted)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-limit", type=int, default=None,
                        help="use only the first N training images")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="use only the first N test images")
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="scalars and the default checkpoint (default: runs/MODEL-DATASET)")
    parser.add_argument("--tensorboard", action="store_true",
                        help="log scalars and parameter histograms as TensorBoard events in "
                             "LOG_DIR (needs tensorboardX) instead of scalars.csv")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="checkpoint written after every epoch (default: "
                             "LOG_DIR/checkpoint.safetensors)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue the run saved in this checkpoint (its settings win)")
    args = parser.parse_args(argv)
    if args.data is None and args.dataset == "fashion-mnist":
        args.data = REPO / "data" / "fashion-mnist-subset"
    args.log_dir = args.log_dir or Path("runs") / f"{args.model}-{args.dataset}"
    args.checkpoint = args.checkpoint or args.log_dir / "checkpoint.safetensors"
    return args


def main(argv=None) -> float:
    """Trains (or resumes) and returns the final test accuracy (a fraction)."""
    args = parse_args(argv)
    checkpoint = ember.load(args.resume) if args.resume is not None else None
    if checkpoint is not None:
        for name in RUN_SETTINGS:
            setattr(args, name, checkpoint["settings"].get(name, getattr(args, name)))
    ember.manual_seed(args.seed)
    device = ember.device(args.device)

    train_images, train_labels = load_dataset(args.dataset, args.data, True, args.train_limit)
    test_images, test_labels = load_dataset(args.dataset, args.data, False, args.test_limit)
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    model, channels, size = build(args, train_images, num_classes)
    model.to(device)
    mean = (train_images.mean(axis=(0, 1, 2)) / 255).astype(np.float32)
    std = (train_images.std(axis=(0, 1, 2)) / 255).astype(np.float32)
    train_set = to_dataset(train_images, train_labels, mean, std, channels, size)
    test_set = to_dataset(test_images, test_labels, mean, std, channels, size)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.workers)
    test_loader = DataLoader(test_set, batch_size=500, num_workers=args.workers)

    optimizer = ember.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                weight_decay=args.weight_decay)
    scheduler = ember.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=args.epochs * len(train_loader))  # stepped per batch
    start_epoch, accuracy = 0, math.nan
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        ember.set_rng_state(checkpoint["rng"])
        start_epoch, accuracy = checkpoint["epoch"], checkpoint["accuracy"]
        print(f"resumed from {args.resume} after epoch {start_epoch} of {args.epochs}")
    print(f"{args.model} on {args.dataset}: {len(train_set)} training and {len(test_set)} test "
          f"images of {channels}x{size}x{size}, {num_classes} classes; "
          f"{sum(p.numel() for p in model.parameters()):,} parameters on {device}")

    writer = scalar_writer(args.log_dir, args.tensorboard)
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    fill = np.repeat(-mean / std, channels // len(mean))  # black, normalised
    augmentation = None if args.augment is None else (args.augment, fill)
    start = time.perf_counter()
    for epoch in range(start_epoch + 1, args.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_accuracy = train_epoch(model, train_loader, optimizer, scheduler,
                                                 device, f"epoch {epoch}/{args.epochs}",
                                                 augmentation)
        test_loss, accuracy = evaluate(model, test_loader, device)
        for tag, value in (("train/loss", train_loss), ("train/accuracy", train_accuracy),
                           ("test/loss", test_loss), ("test/accuracy", accuracy), ("lr", lr)):
            writer.add_scalar(tag, value, epoch)
        if args.tensorboard:
            for name, parameter in model.named_parameters():
                writer.add_histogram(f"parameters/{name}", parameter, epoch)
        print(f"epoch {epoch}/{args.epochs}: train loss {train_loss:.4f} (accuracy "
              f"{100 * train_accuracy:.2f}%), test loss {test_loss:.4f}, test accuracy "
              f"{100 * accuracy:.2f}% ({time.perf_counter() - start:.0f} s)")
        ember.save({  # atomic: a crash mid-write leaves the previous checkpoint intact
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "accuracy": accuracy,
            "rng": ember.get_rng_state(),
            "normalization": {"mean": mean.tolist(), "std": std.tolist()},
            "settings": {name: getattr(args, name) for name in RUN_SETTINGS},
        }, args.checkpoint)
    writer.close()
    print(f"final test accuracy {100 * accuracy:.2f}% ({time.perf_counter() - start:.0f} s)")
    return accuracy


if __name__ == "__main__":
    main()
