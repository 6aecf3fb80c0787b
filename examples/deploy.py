"""Deploying a zoo model: trace it, save it, reload it without its class, export it to ONNX.

1. Loads ``small_cnn`` with its shipped Fashion-MNIST weights (``--train`` trains one instead,
   for one epoch on the bundled subset) and puts it in evaluation mode.
2. Traces it with ``ember.jit.trace`` and checks the traced module against the model.
3. Saves the traced module with ``ember.jit.save`` and reloads it *in a fresh Python process*
   that never imports ``ember_vision``: ``ember.jit.load`` needs no class and runs no code from
   the file.
4. Exports the model with ``ember.onnx.export`` (dynamic batch axis) and runs the file in
   onnxruntime (``pip install 'ember[onnx]'``).
5. Compares the predictions and accuracy of all four on the test images of the subset.

    python examples/deploy.py
    python examples/deploy.py --train --out deploy-artifacts
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import ember
import ember.nn.functional as F
from ember.utils.data import DataLoader
from ember_vision import transforms
from ember_vision.datasets import FashionMNIST
from ember_vision.models import SmallCNN_Weights, small_cnn

REPO = Path(__file__).resolve().parent.parent
MEAN, STD = SmallCNN_Weights.DEFAULT.meta["mean"], SmallCNN_Weights.DEFAULT.meta["std"]

# What the fresh process runs: only ember, numpy and the two files (no model class anywhere).
RELOAD = """
import sys
import numpy as np
import ember
module = ember.jit.load(sys.argv[1])
images = ember.from_numpy(np.load(sys.argv[2]))
with ember.no_grad():
    np.save(sys.argv[3], module(images).numpy())
"""


def test_images(data: Path, count: int):
    """The first ``count`` test images of the subset, normalised, and their labels."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    dataset = FashionMNIST(data, train=False, transform=transform)
    images, labels = next(iter(DataLoader(dataset, batch_size=count)))
    return images, labels


def train_one_epoch(data: Path):
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    loader = DataLoader(FashionMNIST(data, train=True, transform=transform), batch_size=128,
                        shuffle=True)
    model = small_cnn()
    optimizer = ember.optim.Adam(model.parameters(), lr=2e-3)
    traced = None
    for images, labels in loader:
        if images.shape[0] != loader.batch_size:
            continue  # the traced graph was recorded for full batches
        # The traced module is a drop-in for training: same parameters, same gradients.
        traced = traced or ember.jit.trace(model, images)
        loss = F.cross_entropy(traced(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data" / "fashion-mnist-subset")
    parser.add_argument("--train", action="store_true", help="train instead of loading weights")
    parser.add_argument("--out", type=Path, help="folder for the artifacts (default: temporary)")
    parser.add_argument("--count", type=int, default=500, help="test images to compare on")
    args = parser.parse_args()
    ember.manual_seed(0)

    model = train_one_epoch(args.data) if args.train else small_cnn(weights="DEFAULT")
    model.eval()
    images, labels = test_images(args.data, args.count)
    with ember.no_grad():
        eager = model(images).numpy()

    traced = ember.jit.trace(model, images)
    with ember.no_grad():
        replayed = traced(images).numpy()
    print(f"traced graph: {len(traced.graph.nodes)} nodes; "
          f"max |traced - eager| = {np.abs(replayed - eager).max():.2e}")

    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        ember.jit.save(traced, out / "small_cnn.ejit")
        np.save(out / "images.npy", images.numpy())
        subprocess.run([sys.executable, "-c", RELOAD, str(out / "small_cnn.ejit"),
                        str(out / "images.npy"), str(out / "reloaded.npy")], check=True)
        reloaded = np.load(out / "reloaded.npy")
        print(f"reloaded in a fresh process: max |reloaded - eager| = "
              f"{np.abs(reloaded - eager).max():.2e}")

        ember.onnx.export(model, images[:1], out / "small_cnn.onnx", input_names=["images"],
                          output_names=["logits"], dynamic_axes={"images": {0: "batch"},
                                                                 "logits": {0: "batch"}})
        import onnxruntime

        session = onnxruntime.InferenceSession(str(out / "small_cnn.onnx"),
                                               providers=["CPUExecutionProvider"])
        (onnx_logits,) = session.run(None, {"images": images.numpy()})
        print(f"onnxruntime (exported with batch 1, run on {len(images)}): max |onnx - eager| = "
              f"{np.abs(onnx_logits - eager).max():.2e}")

    truth = labels.numpy()
    for name, logits in [("eager", eager), ("traced", replayed), ("reloaded", reloaded),
                         ("onnxruntime", onnx_logits)]:
        predictions = logits.argmax(axis=1)
        agree = (predictions == eager.argmax(axis=1)).mean()
        print(f"{name:>12}: accuracy {(predictions == truth).mean():.3f}, "
              f"same predictions as eager {agree:.1%}")
        assert np.allclose(logits, eager, rtol=1e-4, atol=1e-4), name


if __name__ == "__main__":
    main()
