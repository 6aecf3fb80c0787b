"""Fashion-MNIST with a small CNN: Ember's training stack from data files to checkpoints.

Reads the IDX files with ``ember_vision.datasets.FashionMNIST`` (PIL images, made normalised
tensors by ``ToTensor`` and ``Normalize``), batches them with a shuffling ``DataLoader``, trains
with Adam under a one-cycle learning-rate schedule, reports the test accuracy after every epoch
and writes a checkpoint (model, optimizer, scheduler, epoch and RNG state) after every epoch, so
``--resume`` continues the run exactly where it stopped.

    python examples/fashion_mnist.py                                  # bundled 12k/2k subset
    python examples/fashion_mnist.py --data ../shared/data/fashion-mnist --epochs 6   # full set
    python examples/fashion_mnist.py --resume                         # continue the last run

Porting from PyTorch: ``import ember`` for ``import torch``, ``ember_vision`` for
``torchvision``; the rest of this file reads as the PyTorch script would.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tqdm import tqdm

import ember
import ember.nn.functional as F
from ember import nn
from ember.utils.data import DataLoader
from ember_vision import transforms
from ember_vision.datasets import FashionMNIST

REPO = Path(__file__).resolve().parent.parent
MEAN, STD = 0.2860, 0.3530  # of the Fashion-MNIST training images, pixels scaled to [0, 1]
# What a checkpoint's run was started with: --resume takes these from the checkpoint.
RUN_SETTINGS = ("epochs", "batch_size", "lr", "seed")


class Net(nn.Module):
    """Two conv-relu-pool stages and a two-layer classifier: (N, 1, 28, 28) -> (N, 10) logits."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),   # (N, 32, 13, 13)
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),  # (N, 64, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.classifier(self.features(x))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "fashion-mnist-subset",
                        help="folder with the four Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (one-cycle)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-workers", type=int, default=0,
                        help="DataLoader worker processes (0: load in the main process)")
    parser.add_argument("--checkpoint", type=Path,
                        default=REPO / "checkpoints" / "fashion_mnist.safetensors")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run saved in --checkpoint (its settings win)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    return parser.parse_args(argv)


def rng_state(device: ember.device) -> dict:
    """Every random stream training draws from: dropout, shuffling, worker seeds."""
    state = {"cpu": ember.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = ember.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: ember.device) -> None:
    ember.set_rng_state(state["cpu"])
    if "cuda" in state:
        ember.cuda.set_rng_state(state["cuda"], device)


def train_epoch(model, loader, optimizer, scheduler, device, description: str) -> float:
    """One pass over ``loader``; returns the mean training loss."""
    model.train()
    total, count = 0.0, 0
    progress = tqdm(loader, desc=description, unit="batch", leave=False, dynamic_ncols=True)
    for images, labels in progress:
        images, labels = images.to(device), labels.to(device)
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total += loss.item()
        count += 1
        progress.set_postfix(loss=f"{total / count:.4f}", refresh=False)
    return total / max(count, 1)


def evaluate(model, loader, device) -> float:
    """Top-1 accuracy (a fraction) of ``model`` on ``loader``."""
    model.eval()
    correct = seen = 0
    with ember.no_grad():
        for images, labels in loader:
            predictions = model(images.to(device)).argmax(dim=1)
            correct += int((predictions == labels.to(device)).sum().item())
            seen += len(labels)
    return correct / seen


def main(argv=None) -> float:
    """Trains (or resumes) and returns the final test accuracy."""
    args = parse_args(argv)
    device = ember.device(args.device)
    checkpoint = ember.load(args.checkpoint) if args.resume else None
    if checkpoint is not None:
        for name in RUN_SETTINGS:
            setattr(args, name, checkpoint["settings"][name])
    ember.manual_seed(args.seed)

    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    train_set = FashionMNIST(args.data, train=True, transform=to_input)
    test_set = FashionMNIST(args.data, train=False, transform=to_input)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              num_workers=args.num_workers)
    test_loader = DataLoader(test_set, batch_size=500, num_workers=args.num_workers)

    model = Net().to(device)
    optimizer = ember.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = ember.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=len(train_loader))
    start_epoch = 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        set_rng_state(checkpoint["rng"], device)
        start_epoch = checkpoint["epoch"]
        print(f"resumed from {args.checkpoint} after epoch {start_epoch} of {args.epochs}")
    print(f"Fashion-MNIST from {args.data}: {len(train_set)} training and {len(test_set)} test "
          f"images; {sum(p.numel() for p in model.parameters()):,} parameters on {device}")

    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    accuracy = checkpoint["accuracy"] if checkpoint is not None else 0.0
    start = time.perf_counter()
    for epoch in range(start_epoch + 1, args.epochs + 1):
        loss = train_epoch(model, train_loader, optimizer, scheduler, device,
                           f"epoch {epoch}/{args.epochs}")
        accuracy = evaluate(model, test_loader, device)
        print(f"epoch {epoch}/{args.epochs}: train loss {loss:.4f}, test accuracy "
              f"{100 * accuracy:.2f}% ({time.perf_counter() - start:.0f} s)")
        ember.save({
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "accuracy": accuracy,
            "rng": rng_state(device),
            "settings": {name: getattr(args, name) for name in RUN_SETTINGS},
        }, args.checkpoint)
    return accuracy


if __name__ == "__main__":
    main()
