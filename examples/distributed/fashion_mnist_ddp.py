"""Fashion-MNIST's CNN trained data-parallel: one process per core (or machine), each on its own
share of every epoch, gradients averaged by ``DistributedDataParallel``.

    python -m ember.distributed.run --nproc-per-node 2 examples/distributed/fashion_mnist_ddp.py
    mpirun -n 2 python examples/distributed/fashion_mnist_ddp.py --epochs 1   # the same

Each rank reads the data, takes its ``DistributedSampler`` share (``--batch-size`` samples per
rank and step, so the global batch grows with the world size) and prints its own throughput;
rank 0 also evaluates, reports the total throughput and writes the checkpoint (atomically, by
``ember.save``), while the others wait at a barrier. The model is ``examples/fashion_mnist.py``'s.

Porting from PyTorch: ``torch.distributed`` -> ``ember.distributed``, ``backend="gloo"`` ->
``"mpi"``, ``torchrun`` -> ``python -m ember.distributed.run``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import ember
import ember.distributed as dist
import ember.nn.functional as F
from ember.nn.parallel import DistributedDataParallel
from ember.utils.data import DataLoader, DistributedSampler
from ember_vision import transforms
from ember_vision.datasets import FashionMNIST

EXAMPLES = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(EXAMPLES))
from fashion_mnist import MEAN, STD, Net, evaluate  # noqa: E402  (the single-process example)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=EXAMPLES.parent / "data" / "fashion-mnist-subset")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64, help="samples per rank and step")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="mpi", choices=("mpi", "nccl"))
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds a rank waits for the others before the job fails")
    parser.add_argument("--checkpoint", type=Path,
                        default=EXAMPLES.parent / "checkpoints" / "fashion_mnist_ddp.safetensors")
    return parser.parse_args(argv)


def main(argv=None) -> float:
    args = parse_args(argv)
    dist.init_process_group(args.backend, timeout=args.timeout)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = ember.device("cuda" if args.backend == "nccl" else "cpu")
    ember.manual_seed(args.seed)  # the same initial model everywhere (DDP broadcasts rank 0's)

    to_input = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MEAN,), (STD,))])
    train_set = FashionMNIST(args.data, train=True, transform=to_input)
    sampler = DistributedSampler(train_set, shuffle=True, seed=args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, sampler=sampler)
    model = DistributedDataParallel(Net().to(device))
    optimizer = ember.optim.Adam(model.parameters(), lr=args.lr)
    if rank == 0:
        print(f"{world} rank(s) x {args.batch_size} samples per step; {len(sampler)} of "
              f"{len(train_set)} training images per rank and epoch", flush=True)

    accuracy = 0.0
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        dist.barrier()
        start = time.perf_counter()
        seen, total_loss = 0, 0.0
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seen += len(labels)
            total_loss += loss.item() * len(labels)
        rate = seen / (time.perf_counter() - start)
        print(f"epoch {epoch} rank {rank}: {rate:.0f} samples/s, train loss "
              f"{total_loss / seen:.4f}", flush=True)
        total = ember.tensor([rate])
        dist.all_reduce(total)
        if rank == 0:
            test_set = FashionMNIST(args.data, train=False, transform=to_input)
            accuracy = evaluate(model.module, DataLoader(test_set, batch_size=500), device)
            print(f"epoch {epoch}: {total.item():.0f} samples/s over {world} rank(s), test "
                  f"accuracy {100 * accuracy:.2f}%", flush=True)
            args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
            ember.save({"model": model.module.state_dict(), "optimizer": optimizer.state_dict(),
                        "epoch": epoch}, args.checkpoint)
        dist.barrier()  # the others wait for rank 0's evaluation and checkpoint
    dist.destroy_process_group()
    return accuracy


if __name__ == "__main__":
    main()
