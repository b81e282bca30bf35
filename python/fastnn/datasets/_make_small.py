"""Rebuild the bundled Fashion-MNIST subset: ``python -m fastnn.datasets._make_small [SRC_DIR]``.

Reads the full Fashion-MNIST from SRC_DIR (default: Debian's /usr/share/datasets/fashion-mnist),
keeps the first 600 training and first 100 test images of each class in their original order
(fashion_mnist.select_small) and writes them as gzipped IDX files into data/fashion_mnist_small/.
The gzip headers carry no name or time, so a rebuild from the same data is byte-identical.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import _idx, _locate, fashion_mnist


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    src = Path(argv[0]) if argv else Path("/usr/share/datasets/fashion-mnist")
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=src)
    x_train, y_train = fashion_mnist.select_small(x_train, y_train, fashion_mnist.SMALL_TRAIN_PER_CLASS)
    x_test, y_test = fashion_mnist.select_small(x_test, y_test, fashion_mnist.SMALL_TEST_PER_CLASS)
    out = fashion_mnist.SMALL_DIR
    out.mkdir(parents=True, exist_ok=True)
    for base, a in (
        (_locate.TRAIN_IMAGES, x_train),
        (_locate.TRAIN_LABELS, y_train),
        (_locate.TEST_IMAGES, x_test),
        (_locate.TEST_LABELS, y_test),
    ):
        _idx.write_idx(out / (base + ".gz"), a)
        print(f"{out / (base + '.gz')}: {a.shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
