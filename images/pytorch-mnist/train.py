"""Distributed MNIST training with PyTorch: gloo backend, DistributedDataParallel.

Configured only from what the Kubeflow training operator injects into a PyTorchJob's pods
(MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK); without them it trains in one process. Prints progress
like `Train Epoch: 1 [640/60000 (1%)] loss=2.2135`, and rank 0 ends with machine-readable lines:
    data=mnist-full (...) train=60000 test=10000
    accuracy=0.9812
Flags (or env): --epochs (EPOCHS), --batch-size (BATCH_SIZE), --lr (LR), --data-dir (DATA_DIR),
--train-limit (TRAIN_LIMIT), --test-limit (TEST_LIMIT), --seed (SEED).
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as functional
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def read_idx(directory: Path, stem: str) -> np.ndarray:
    """Reads an IDX file (plain or .gz; '-idx' or '.idx' naming) into a numpy array."""
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        path = directory / name
        if path.exists():
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as handle:
                data = handle.read()
            magic, count = struct.unpack(">II", data[:8])
            if magic == 2051:
                rows, columns = struct.unpack(">II", data[8:16])
                return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, columns)
            if magic == 2049:
                return np.frombuffer(data, dtype=np.uint8, offset=8)
            raise ValueError(f"{path}: not an IDX image/label file (magic {magic})")
    raise FileNotFoundError(f"no {stem}[.gz] in {directory}")


def load_split(directory: Path, split: str, limit: int) -> TensorDataset:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(directory, f"{prefix}-images-idx3-ubyte")
    labels = read_idx(directory, f"{prefix}-labels-idx1-ubyte")
    if limit:
        images, labels = images[:limit], labels[:limit]
    pixels = (torch.from_numpy(images.astype(np.float32)) / 255.0 - MNIST_MEAN) / MNIST_STD
    return TensorDataset(pixels.unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.fc1 = nn.Linear(32 * 4 * 4, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = functional.max_pool2d(functional.relu(self.conv1(x)), 2)
        x = functional.max_pool2d(functional.relu(self.conv2(x)), 2)
        x = functional.relu(self.fc1(x.flatten(1)))
        return functional.log_softmax(self.fc2(x), dim=1)


def evaluate(model: nn.Module, dataset: TensorDataset) -> tuple[float, float]:
    model.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for images, labels in DataLoader(dataset, batch_size=1000):
            output = model(images)
            loss += functional.nll_loss(output, labels, reduction="sum").item()
            correct += int((output.argmax(dim=1) == labels).sum())
    return correct / len(dataset), loss / len(dataset)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="Distributed MNIST with PyTorch (gloo)")
    parser.add_argument("--epochs", type=int, default=int(env.get("EPOCHS", "1")))
    parser.add_argument("--batch-size", type=int, default=int(env.get("BATCH_SIZE", "64")))
    parser.add_argument("--lr", type=float, default=float(env.get("LR", "0.001")))
    parser.add_argument("--data-dir", type=Path, default=Path(env.get("DATA_DIR", "/data/mnist")))
    parser.add_argument("--train-limit", type=int, default=int(env.get("TRAIN_LIMIT", "0")))
    parser.add_argument("--test-limit", type=int, default=int(env.get("TEST_LIMIT", "0")))
    parser.add_argument("--seed", type=int, default=int(env.get("SEED", "1")))
    parser.add_argument("--log-interval", type=int, default=int(env.get("LOG_INTERVAL", "10")))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    distributed = world_size > 1
    if distributed:
        # env:// reads MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK, as the operator sets them.
        dist.init_process_group(backend="gloo", init_method="env://")
        rank = dist.get_rank()
        print(f"Using distributed PyTorch with gloo backend: rank {rank} of {world_size}", flush=True)
    else:
        rank = 0
        print("Training in a single process (no WORLD_SIZE > 1 in the environment)", flush=True)

    train = load_split(args.data_dir, "train", args.train_limit)
    sampler = DistributedSampler(train, num_replicas=world_size, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler)
    model: nn.Module = ConvNet()
    if distributed:
        model = DistributedDataParallel(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    started = time.monotonic()
    for epoch in range(1, args.epochs + 1):
        model.train()
        sampler.set_epoch(epoch)
        for batch, (images, labels) in enumerate(loader):
            optimizer.zero_grad()
            loss = functional.nll_loss(model(images), labels)
            loss.backward()
            optimizer.step()
            if batch % args.log_interval == 0 and rank == 0:
                seen = batch * args.batch_size * world_size
                progress = f"[{seen}/{len(train)} ({100.0 * seen / len(train):.0f}%)]"
                print(f"Train Epoch: {epoch} {progress} loss={loss.item():.4f}", flush=True)
    elapsed = time.monotonic() - started

    if rank == 0:
        test = load_split(args.data_dir, "test", args.test_limit)
        accuracy, test_loss = evaluate(model.module if distributed else model, test)
        source_file = args.data_dir / "SOURCE"
        source = source_file.read_text().strip() if source_file.exists() else str(args.data_dir)
        print(f"data={source} train={len(train)} test={len(test)}", flush=True)
        print(f"training_seconds={elapsed:.1f} world_size={world_size} test_loss={test_loss:.4f}", flush=True)
        print(f"accuracy={accuracy:.4f}", flush=True)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
