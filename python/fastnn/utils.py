"""fastnn.utils — seeding, the default float type, and the data helpers of a Keras course script.

`set_random_seed` seeds every random draw fastnn makes (weight initialisers, dropout masks,
shuffling), so the same seed gives the same weights and the same training trajectory; the
kernels are deterministic, so this holds across thread counts too. Data helpers:
`to_categorical`, `normalize`, `standardize`, `train_test_split`, `kfold_indices`,
`cross_validate`; plotting: `plot_history` (training curves) and `plot_model` (the layer graph).
"""

from __future__ import annotations

import contextlib
import math
import os
import re

import numpy as np

from ._files import atomic_write

# ---- Seeding and the default float type ------------------------------------------------------

_rng = np.random.default_rng()
_scratch_depth = 0  # how many scratch_rng blocks are running
_floatx = "float32"
_name_counters: dict[str, int] = {}


def set_random_seed(seed):
    """Seed fastnn's global random generator (Keras's ``keras.utils.set_random_seed``).

    Layers created afterwards draw the same initial weights, dropout layers the same masks and
    ``fit`` the same shuffles. NumPy's global generator is seeded too, for scripts that use it.
    """
    global _rng
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed: expected a non-negative integer. Received: seed={seed!r}")
    _rng = np.random.default_rng(int(seed))
    np.random.seed(int(seed) % 2**32)


def global_rng() -> np.random.Generator:
    """The generator behind every unseeded random draw in fastnn."""
    return _rng


@contextlib.contextmanager
def scratch_rng():
    """Draws inside the block come from a throwaway generator: a trial run (a Lambda layer's
    shape inference) leaves the seeded sequence untouched (and `fastnn.random.SeedGenerator`s
    where they are: see `in_scratch_rng`)."""
    global _rng, _scratch_depth
    saved, _rng = _rng, np.random.default_rng(0)
    _scratch_depth += 1
    try:
        yield
    finally:
        _rng = saved
        _scratch_depth -= 1


def in_scratch_rng() -> bool:
    """Whether a `scratch_rng` block is running (a trial run, whose draws must not advance any
    random stream)."""
    return _scratch_depth > 0


def draw_seed() -> int:
    """A fresh 31-bit seed from the global generator (for a layer's own random stream)."""
    return int(_rng.integers(0, 2**31 - 1))


def derive_seed(base: int, counter: int) -> int:
    """The ``counter``-th seed of a stream started at ``base`` (a splitmix64 step, 31 bits)."""
    z = (int(base) * 0x9E3779B97F4A7C15 + (int(counter) + 1) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return (z ^ (z >> 31)) & 0x7FFFFFFF


def floatx() -> str:
    """The default dtype of new layers' weights and computations: ``"float32"`` unless set."""
    return _floatx


def set_floatx(value: str) -> None:
    """Set the default dtype of new layers: ``"float32"`` (the C++ kernels) or ``"float64"``.

    float64 models run on the NumPy backend only (``fastnn.backend("numpy")``); it is meant for
    finite-difference gradient checks.
    """
    global _floatx
    if value not in ("float32", "float64"):
        raise ValueError(f"set_floatx: expected 'float32' or 'float64'. Received: value={value!r}")
    _floatx = value


def to_snake_case(name: str) -> str:
    """Keras's names from class names: ``"BatchNormalization"`` -> ``"batch_normalization"``,
    ``"Conv2D"`` -> ``"conv2d"``, ``"TopKCategoricalAccuracy"`` -> ``"top_k_categorical_accuracy"``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """Keras's automatic names: ``dense``, ``dense_1``, ``dense_2``... for the session."""
    n = _name_counters.get(prefix, 0)
    _name_counters[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session() -> None:
    """Reset the automatic layer and model names (Keras's ``clear_session``)."""
    _name_counters.clear()


# ---- Labels and scaling ----------------------------------------------------------------------


def to_categorical(x, num_classes=None, dtype="float32"):
    """One-hot encode integer class labels: (N,) or (N, 1) -> (N, num_classes).

    Args:
        x: integer labels in ``[0, num_classes)``; any shape (a trailing axis of size 1 is dropped).
        num_classes: the number of classes; ``max(x) + 1`` when None.
        dtype: the result's dtype.
    """
    y = np.asarray(x)
    if y.dtype.kind not in "iuf" or y.size and not np.all(np.isfinite(y) & (y == np.floor(y))):
        raise ValueError(f"to_categorical: expected integer class labels. Received: x.dtype={y.dtype}")
    if y.ndim > 1 and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    elif isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"to_categorical: expected a positive integer. Received: num_classes={num_classes!r}")
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), y.shape)
        raise ValueError(f"to_categorical: labels must be in [0, {num_classes}). Received: x[{', '.join(map(str, i))}]={y[i]}")
    out = np.zeros((y.size, int(num_classes)), dtype=dtype)
    out[np.arange(y.size), y.reshape(-1)] = 1
    return out.reshape(y.shape + (int(num_classes),))


def normalize(x, axis=-1, order=2):
    """Scale ``x`` to unit ``order``-norm along ``axis`` (Keras's ``utils.normalize``). A tape or
    symbolic tensor goes through ``ops.normalize``, so its gradient flows (keras.io's supervised
    contrastive loss normalizes its features so), as Keras 3 does for a tensor."""
    from . import autodiff

    if isinstance(x, autodiff.Operators):
        from . import ops

        return ops.normalize(x, axis=axis, order=order)
    x = np.asarray(x, dtype=np.result_type(np.asarray(x).dtype, np.float32))
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    return x / np.where(norm == 0, 1, norm)


def standardize(x, mean=None, std=None, axis=0, epsilon=1e-7):
    """Standardise features to zero mean and unit variance: returns ``(z, mean, std)``.

    Fit on the training set (``mean``/``std`` None), then pass the returned statistics to
    transform the test set the same way: ``x_test_z, _, _ = standardize(x_test, mean, std)``.
    """
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float32
    x = x.astype(dtype, copy=False)
    if mean is None:
        mean = x.mean(axis=axis, keepdims=True)
    if std is None:
        std = x.std(axis=axis, keepdims=True)
    z = (x - mean) / (std + epsilon)
    return z.astype(dtype, copy=False), mean, std


# ---- Splits and cross-validation -------------------------------------------------------------


class Sequence:
    """Keras's base class for data in batches (``keras.utils.Sequence``, Keras 3's ``PyDataset``):
    define ``__len__`` (batches per epoch) and ``__getitem__(index)`` returning ``x``, ``(x, y)``
    or ``(x, y, sample_weight)``; ``on_epoch_end`` runs after each epoch of `Model.fit`. fit,
    evaluate and predict take one as ``x`` (fit shuffles the batches' order when shuffle=True)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        # Keras 3's PyDataset arguments (``super().__init__(**kwargs)``): fastnn reads batches in
        # the training loop's thread, so they are kept but change nothing
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    def on_epoch_end(self):
        pass

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


PyDataset = Sequence


def _n_samples(arrays, fn):
    sizes = [len(a) for a in arrays]
    if len(set(sizes)) > 1:
        raise ValueError(f"{fn}: all arrays must have the same number of samples. Received sizes: {sizes}")
    return sizes[0]


def train_test_split(*arrays, test_size=None, train_size=None, random_state=None, shuffle=True, stratify=None):
    """Split arrays into train and test parts, like scikit-learn's ``train_test_split``.

    Returns ``[a_train, a_test, b_train, b_test, ...]``. ``test_size``/``train_size``: a
    fraction in (0, 1) or a sample count (default test 0.25). ``stratify``: labels whose
    class proportions both parts keep.
    """
    if not arrays:
        raise ValueError("train_test_split: expected at least one array")
    arrays = [np.asarray(a) for a in arrays]
    n = _n_samples(arrays, "train_test_split")

    def count(size, name):
        if isinstance(size, (float, np.floating)) and not isinstance(size, bool):
            if not 0 < size < 1:
                raise ValueError(f"train_test_split: a fractional {name} must be in (0, 1). Received: {name}={size}")
            return size * n
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool) and 0 < size < n:
            return int(size)
        raise ValueError(f"train_test_split: {name} must be a fraction in (0, 1) or a count in [1, {n}). "
                         f"Received: {name}={size!r}")

    if test_size is None and train_size is None:
        test_size = 0.25
    n_test = math.ceil(count(test_size, "test_size")) if test_size is not None else n - math.floor(count(train_size, "train_size"))
    n_train = math.floor(count(train_size, "train_size")) if train_size is not None else n - n_test
    if n_train < 1 or n_test < 1 or n_train + n_test > n:
        raise ValueError(f"train_test_split: with {n} samples the split leaves {n_train} train and {n_test} test "
                         "samples; each part needs at least one")
    rng = np.random.default_rng(random_state)
    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        labels = np.asarray(stratify)
        if labels.ndim > 1:
            labels = labels.argmax(axis=1) if labels.shape[1] > 1 else labels.reshape(-1)
        test_idx = []
        for c in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == c))
            test_idx.append(idx[: int(round(len(idx) * n_test / n))])
        test_idx = np.concatenate(test_idx)
        train_idx = np.setdiff1d(np.arange(n), test_idx)
        test_idx, train_idx = rng.permutation(test_idx), rng.permutation(train_idx)
    else:
        order = rng.permutation(n) if shuffle else np.arange(n)
        train_idx, test_idx = order[:n_train], order[n_train:n_train + n_test]
    out = []
    for a in arrays:
        out += [a[train_idx], a[test_idx]]
    return out


def kfold_indices(n, k=5, shuffle=True, seed=None):
    """Yield ``(train_idx, val_idx)`` for each of ``k`` folds over ``n`` samples."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= n:
        raise ValueError(f"kfold_indices: k must be an integer in [2, n={n}]. Received: k={k!r}")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    for fold in np.array_split(order, k):
        yield np.setdiff1d(order, fold), fold


def cross_validate(build_fn, x, y, k=5, epochs=1, batch_size=32, shuffle=True, seed=None, verbose=0, **fit_kwargs):
    """k-fold cross-validation: train a fresh model per fold, evaluate it on the held-out fold.

    Args:
        build_fn: a function with no arguments returning a new compiled model.
        x, y: the data; k: the number of folds; epochs, batch_size, verbose and ``fit_kwargs``
            go to ``fit``; shuffle, seed: how samples are dealt to folds.

    Returns:
        ``{"folds": [evaluate's dict per fold], "mean": {name: mean}, "std": {name: std}}``.
    """
    x, y = np.asarray(x), np.asarray(y)
    n = _n_samples([x, y], "cross_validate")
    folds = []
    for i, (tr, va) in enumerate(kfold_indices(n, k, shuffle, seed)):
        model = build_fn()
        model.fit(x[tr], y[tr], epochs=epochs, batch_size=batch_size, verbose=verbose, **fit_kwargs)
        scores = model.evaluate(x[va], y[va], batch_size=batch_size, verbose=0, return_dict=True)
        folds.append(scores)
        if verbose:
            print(f"Fold {i + 1}/{k}: " + " - ".join(f"{key}: {v:.4f}" for key, v in scores.items()))
    names = list(folds[0])
    mean = {key: float(np.mean([f[key] for f in folds])) for key in names}
    std = {key: float(np.std([f[key] for f in folds])) for key in names}
    if verbose:
        print("Mean: " + " - ".join(f"{key}: {mean[key]:.4f} (+/- {std[key]:.4f})" for key in names))
    return {"folds": folds, "mean": mean, "std": std}


# ---- Plotting --------------------------------------------------------------------------------


def plot_history(history, path, metrics=None):
    """Write a PNG of the loss (and metric) curves of ``fit``'s History to ``path``.

    Needs matplotlib (``pip install fastnn[plot]``). One panel per quantity, with its ``val_``
    twin on the same axes. Returns ``path``.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plot_history needs matplotlib: pip install 'fastnn[plot]'") from e
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError("plot_history: expected a History (or its .history dict) with at least one quantity")
    names = metrics or [k for k in logs if not k.startswith("val_") and k != "learning_rate"]
    fig = Figure(figsize=(5 * len(names), 4))
    FigureCanvasAgg(fig)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], label=name)
        if "val_" + name in logs:
            ax.plot(epochs, logs["val_" + name], label="val_" + name)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png")
    return path


_RANKDIRS = ("TB", "LR")


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False, show_layer_names=False,
               rankdir="TB", expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False,
               **kwargs):
    """Draw the model's layer graph to ``to_file`` (Keras's ``keras.utils.plot_model``).

    One box per layer (its class, and with the options its name, input and output shapes,
    dtype, activation, whether it trains), an arrow from each layer to the layers it feeds;
    ``rankdir`` "TB" stacks them top to bottom, "LR" left to right. The file's extension picks
    the format: ``.dot`` writes Graphviz source with no extra dependency (render it with
    ``dot -Tpng model.dot -o model.png``); any other (``.png`` when there is none, ``.pdf``,
    ``.svg``, ...) is drawn with matplotlib (``pip install 'fastnn[plot]'``), where Keras needs
    pydot and Graphviz. The file appears whole or not at all. fastnn models do not nest, so
    ``expand_nested`` changes nothing. Returns an ``IPython.display.Image`` of the picture when
    IPython is installed (not for .pdf or .dot), as Keras does, else None.
    """
    fn = "plot_model"
    if kwargs:
        raise TypeError(f"{fn}: unexpected keyword arguments {sorted(kwargs)}")
    if not hasattr(model, "_require_built"):
        raise TypeError(f"{fn}: expected a fastnn model. Received: model of type {type(model).__name__}")
    model._require_built(fn)
    if rankdir not in _RANKDIRS:
        raise ValueError(f"{fn}: rankdir must be one of {_RANKDIRS}. Received: rankdir={rankdir!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not dpi > 0:
        raise ValueError(f"{fn}: dpi must be a positive number. Received: dpi={dpi!r}")
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    nodes = _graph_nodes(model, show_shapes, show_dtype, show_layer_names, show_layer_activations,
                         show_trainable)
    if extension == "dot":
        with atomic_write(to_file, "w", encoding="utf-8") as f:
            f.write(_dot_source(model.name, nodes, rankdir, dpi))
        return None
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import FancyBboxPatch
    except ImportError as e:
        raise ImportError(f"{fn}: drawing {to_file!r} needs matplotlib: pip install 'fastnn[plot]'; or give to_file "
                          "a '.dot' name for a Graphviz file, which needs nothing") from e
    fig = Figure()
    canvas = FigureCanvasAgg(fig)
    formats = canvas.get_supported_filetypes()
    if extension not in formats:
        raise ValueError(f"{fn}: cannot write {to_file!r}: expected an extension among "
                         f"{['dot', *sorted(formats)]}. Received: {extension!r}")
    _draw_graph(fig, FancyBboxPatch, nodes, rankdir)
    with atomic_write(to_file, "wb") as f:
        fig.savefig(f, format=extension, dpi=dpi)
    if extension == "pdf":
        return None
    try:
        from IPython import display
    except ImportError:
        return None
    return display.Image(filename=to_file)


def _graph_nodes(model, show_shapes, show_dtype, show_layer_names, show_layer_activations, show_trainable):
    """[(layer name, label lines, names of the shown layers feeding it)] in topological order."""
    from .models import _display_type, _layer_graph, _shapes_str

    nodes, shown = [], set()
    for layer, inbound, in_shapes, out_shape, _ in _layer_graph(model):
        lines = [f"{layer.name} ({_display_type(layer)})" if show_layer_names else _display_type(layer)]
        activation = layer.get_config().get("activation") if show_layer_activations else None
        if isinstance(activation, str):
            lines.append(f"Activation: {activation}")
        if show_dtype:
            lines.append(f"dtype: {layer.dtype}")
        if show_shapes:
            if in_shapes:
                lines.append(f"Input shape: {_shapes_str(in_shapes[0] if len(in_shapes) == 1 else in_shapes)}")
            lines.append(f"Output shape: {_shapes_str(out_shape)}")
        if show_trainable and layer.weights:
            lines.append("Trainable" if layer.trainable else "Non-trainable")
        nodes.append((layer.name, lines, [name for name in inbound if name in shown]))
        shown.add(layer.name)
    return nodes


def _dot_source(name, nodes, rankdir, dpi):
    def quote(*lines):  # a DOT string; a backslash-n between lines is a centred line break in Graphviz
        return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines) + '"'

    out = [f"digraph {quote(name)} {{", f"  graph [rankdir={rankdir}, dpi={dpi:g}];",
           '  node [shape=box, style=rounded, fontname="monospace"];']
    for node, lines, _ in nodes:
        out.append(f"  {quote(node)} [label={quote(*lines)}];")
    for node, _, inbound in nodes:
        out += [f"  {quote(src)} -> {quote(node)};" for src in inbound]
    return "\n".join(out + ["}", ""])


def _draw_graph(fig, FancyBboxPatch, nodes, rankdir):
    """Lay the nodes out in ranks (a layer one rank after its deepest input) and draw them.
    Sizes are in inches: the axes span the figure with one data unit per inch."""
    font_pt, pad, gap_along, gap_across, margin = 9.0, 0.12, 0.45, 0.3, 0.2
    char_w, line_h = 0.61 * font_pt / 72, 1.3 * font_pt / 72  # a monospace font's advance and line
    rank, size = {}, {}
    for node, lines, inbound in nodes:
        rank[node] = 1 + max((rank[src] for src in inbound), default=-1)
        size[node] = (max(len(line) for line in lines) * char_w + 2 * pad, len(lines) * line_h + 2 * pad)
    ranks = [[n for n, _, _ in nodes if rank[n] == r] for r in range(max(rank.values()) + 1)]
    along, across = (1, 0) if rankdir == "TB" else (0, 1)  # which box side (w, h) runs along the flow
    depths = [max(size[n][along] for n in members) for members in ranks]
    breadths = [sum(size[n][across] for n in members) + gap_across * (len(members) - 1) for members in ranks]
    total_along = sum(depths) + gap_along * (len(ranks) - 1) + 2 * margin
    total_across = max(breadths) + 2 * margin
    centre = {}
    pos_along = margin
    for members, depth, breadth in zip(ranks, depths, breadths):
        pos_across = margin + (total_across - 2 * margin - breadth) / 2
        for n in members:
            centre[n] = (pos_along + depth / 2, pos_across + size[n][across] / 2)
            pos_across += size[n][across] + gap_across
        pos_along += depth + gap_along
    width, height = (total_across, total_along) if rankdir == "TB" else (total_along, total_across)

    def xy(a, c):  # (along, across) -> figure inches, y growing upwards
        return (c, height - a) if rankdir == "TB" else (a, height - c)

    fig.set_size_inches(width, height)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    for node, lines, inbound in nodes:
        w, h = size[node]
        cx, cy = xy(*centre[node])
        ax.add_patch(FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.06",
                                    facecolor="#eef3fb", edgecolor="#4a5a78", linewidth=1.0))
        ax.text(cx, cy, "\n".join(lines), ha="center", va="center", family="monospace", fontsize=font_pt,
                linespacing=1.3)
        for src in inbound:
            a_src, c_src = centre[src]
            a_dst, c_dst = centre[node]
            start = xy(a_src + size[src][along] / 2, c_src)
            end = xy(a_dst - size[node][along] / 2, c_dst)
            ax.annotate("", xy=end, xytext=start,
                        arrowprops=dict(arrowstyle="-|>", color="#4a5a78", linewidth=1.0, shrinkA=0, shrinkB=0))


__all__ = [
    "set_random_seed",
    "floatx",
    "set_floatx",
    "clear_session",
    "to_categorical",
    "normalize",
    "standardize",
    "train_test_split",
    "kfold_indices",
    "cross_validate",
    "plot_history",
    "plot_model",
    "Sequence",
    "PyDataset",
    "timeseries_dataset_from_array",
    "image_dataset_from_directory",
    "text_dataset_from_directory",
    "audio_dataset_from_directory",
    "load_img",
    "img_to_array",
    "array_to_img",
    "save_img",
    "AUTOTUNE",
]

# last: the datasets they return subclass Sequence, defined above
from ._batch_dataset import AUTOTUNE, BatchDataset  # noqa: E402,F401
from ._timeseries import TimeseriesDataset, timeseries_dataset_from_array  # noqa: E402,F401
from ._directory_datasets import (DirectoryDataset, array_to_img, image_dataset_from_directory,  # noqa: E402,F401
                                  img_to_array, load_img, save_img, text_dataset_from_directory)
from ._directory_datasets import audio_dataset_from_directory  # noqa: E402,F401


def unpack_x_y_sample_weight(data):
    """A batch as ``(x, y, sample_weight)``, Keras's rule: a tuple (or list) of 1 to 3 is (x[, y[,
    sample_weight]]), anything else is x (a custom train_step's first line)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if not 1 <= len(data) <= 3:
        raise ValueError(f"unpack_x_y_sample_weight: data must be x, (x,), (x, y) or (x, y, sample_weight). "
                         f"Received a tuple of {len(data)}")
    return data + (None,) * (3 - len(data))


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The inverse of `unpack_x_y_sample_weight`: ``x`` (a list of inputs as ``(x,)``), ``(x, y)`` or
    ``(x, y, sample_weight)``."""
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def split_dataset(dataset, left_size=None, right_size=None, shuffle=False, seed=None):
    """Keras's ``keras.utils.split_dataset``: ``(left, right)`` datasets of the elements of ``dataset``
    (a dataset of single samples, an array, or a tuple/dict of arrays): ``left_size`` / ``right_size``
    a fraction in (0, 1) or a count (the other one the rest); ``shuffle`` (with ``seed``) first."""
    from ._batch_dataset import BatchDataset, TensorSlices, _Elements

    if left_size is None and right_size is None:
        raise ValueError("split_dataset: at least one of left_size and right_size must be given. Received: "
                         "left_size=None and right_size=None")
    source = dataset if isinstance(dataset, BatchDataset) else TensorSlices(dataset)
    if source.endless:
        raise ValueError("split_dataset: the dataset repeats for ever; split it before repeat()")
    n = len(source)
    sizes = []
    for size, side in ((left_size, "left_size"), (right_size, "right_size")):
        if size is None:
            sizes.append(None)
        elif isinstance(size, float) and 0 < size < 1:
            sizes.append(round(size * n))
        elif isinstance(size, (int, np.integer)) and not isinstance(size, bool) and 0 < size < n:
            sizes.append(int(size))
        else:
            raise ValueError(f"split_dataset: {side} must be a float in (0, 1) or an int in (0, {n}) for a dataset of "
                             f"{n} samples. Received: {side}={size!r}")
    left, right = sizes
    left = n - right if left is None else left
    right = n - left if right is None else right
    if left + right > n or not left or not right:
        raise ValueError(f"split_dataset: the sizes {left} + {right} do not fit a dataset of {n} samples (each side "
                         "needs at least one)")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    elements = [source[int(i)] for i in order[:left + right]]
    return _Elements(elements[:left]), _Elements(elements[left:])


def __getattr__(name):
    if name == "Progbar":  # (keras.utils.Progbar: the bar fit prints, for a custom training loop)
        from .callbacks import AveragingProgbar

        return AveragingProgbar
    if name == "FeatureSpace":  # (keras.utils.FeatureSpace: structured-data preprocessing, see fastnn._feature_space)
        from ._feature_space import FeatureSpace

        return FeatureSpace
    raise AttributeError(f"module 'fastnn.utils' has no attribute {name!r}")
