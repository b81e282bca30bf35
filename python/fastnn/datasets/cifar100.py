"""CIFAR-100: 60,000 32x32 colour images in 100 classes grouped in 20 superclasses, as Keras loads them.

``load_data(label_mode="fine")`` returns Keras's ``(x_train, y_train), (x_test, y_test)``: uint8
images (50000, 32, 32, 3) and (10000, 32, 32, 3), channels last (C-contiguous; Keras returns a
transposed view of the same values), and labels (50000, 1) and (10000, 1) of NumPy's default
integer type (int64), as Keras gives them: 0..99 (FINE_LABEL_NAMES) with ``label_mode="fine"``,
0..19 (COARSE_LABEL_NAMES) with ``"coarse"``.

It reads the first of these found directly in ``path``, else in ``$FASTNN_DATA/``,
``~/.fastnn/datasets/``, ``~/.keras/datasets/`` (Keras's cache) and ``/usr/share/datasets/``:

    cifar-100-python/                              Keras <= 3.5's extracted download
    cifar-100-python-target/cifar-100-python/      Keras >= 3.6's
    cifar-100-python.tar.gz                        the official archive (Keras <= 3.5 keeps it too)
    cifar-100-python-target_archive                Keras >= 3.6's copy of it
    cifar-100-binary/                              the official binary version, extracted
    cifar-100-binary.tar.gz                        the official binary archive

Archives are read in place, not extracted. Found nowhere, the official archive is downloaded into
``~/.fastnn/datasets/cifar-100-python.tar.gz`` and its SHA-256 (the one Keras pins) checked. The
pickled batches are read with a restricted unpickler that can only rebuild NumPy arrays.
"""

from __future__ import annotations

from . import _checks, _cifar, _locate

FINE_LABEL_NAMES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip
COARSE_LABEL_NAMES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
)  # fmt: skip

LABEL_MODES = ("fine", "coarse")
NUM_CLASSES = {"fine": 100, "coarse": 20}

PYTHON = _cifar.Layout("cifar-100-python", ("train",), ("test",), binary=False)
BINARY = _cifar.Layout("cifar-100-binary", ("train.bin",), ("test.bin",), binary=True)

URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"  # keras.datasets.cifar100's

SPEC = _locate.FileSpec(
    title="CIFAR-100",
    caller="cifar100.load_data",
    forms=_cifar.forms(
        PYTHON, BINARY, ("cifar-100-python.tar.gz", "cifar-100-python-target_archive"), "cifar-100-binary.tar.gz"
    ),
    provide=(
        "CIFAR-100 (the directory cifar-100-python/ or cifar-100-binary/, or the archive "
        "cifar-100-python.tar.gz or cifar-100-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html)"
    ),
    path_hint='pass the directory or the archive: cifar100.load_data(label_mode="fine", path=DIR_OR_ARCHIVE)',
    url=URL,
    download_name="cifar-100-python.tar.gz",
    file_hash=SHA256,
    max_bytes=256 << 20,  # the archive is 169,001,437 bytes
)

# A binary record holds the coarse label byte, then the fine one.
DATASET = _cifar.CifarSet("CIFAR-100", (PYTHON, BINARY), ("coarse_labels", "fine_labels"), SPEC)


def load_data(label_mode="fine", path=None):
    """Load CIFAR-100 as Keras does: ``(x_train, y_train), (x_test, y_test)``.

    Args:
        label_mode: ``"fine"`` (100 classes) or ``"coarse"`` (20 superclasses).
        path: fastnn's addition to Keras's signature: a directory (``cifar-100-python/`` or
            ``cifar-100-binary/`` itself, or one holding one of the forms listed in the module's
            docstring) or an archive. When given, nothing else is searched and nothing is
            downloaded.

    Returns:
        ``x_train`` uint8 (50000, 32, 32, 3), ``y_train`` int64 (50000, 1), ``x_test`` uint8
        (10000, 32, 32, 3), ``y_test`` int64 (10000, 1).

    Raises:
        ValueError: ``label_mode`` is not "fine" or "coarse"; a file is corrupt, truncated, not a
            CIFAR-100 batch, or has a label out of range (named in the message), or pickles
            anything but NumPy arrays.
        DatasetNotFoundError (a FileNotFoundError): not found and not downloadable; the message
            lists every place looked at and how to provide the files.
    """
    _checks.check_choice("cifar100.load_data", "label_mode", label_mode, LABEL_MODES)
    return _cifar.load(DATASET, path, f"{label_mode}_labels", NUM_CLASSES[label_mode], _cifar.KERAS_INT)
