"""Shared benchmark harness: the FMA-peak probe, alternating-block timing, thread matching.

Protocol (../shared/PERFORMANCE.md): one process; libraries timed in alternating blocks
(A B A B ...); >= 5 warm-up calls; the median with p10/p90 over the repetitions. Between blocks
we pause 0.15 s: OpenBLAS's idle workers spin for ~2^28 cycles (~0.1 s) after a call and libgomp's
for a shorter while, and on 2 cores a spinning worker of one library halves the other's threads
(OpenBLAS issue 3187; measured here: fastnn's 2-thread GEMM 20x slower right after a NumPy call).
After the pause each library's worker threads are asleep, and in this VM waking them costs
0.3-11 ms (a 256^3 GEMM's first two calls after a 0.5 s pause: fastnn 6.9 + 4.3 ms, NumPy 11 +
0.3 ms, then ~0.14 ms each): so the first BLOCK_WARMUP calls of every block run untimed, for every
library alike. What is timed is the steady state of back-to-back calls, as in a training loop:
calls shorter than SAMPLE_MIN_S are timed in runs of back-to-back calls (the same count for every
library in the comparison), each sample the run's time divided by its length, so a 10 us product
is not timed as a lone call just after the pause, with its code and data half-cold.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time

import numpy as np

import fastnn


def probe_gflops(threads: int, seconds: float) -> float:
    """The FMA throughput of `threads` cores right now: the probe on that many threads at once (GFLOP/s)."""
    results = [0.0] * threads

    def run(i):
        results[i] = fastnn._core._fma_peak_probe(seconds)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(results)


def fma_peak(threads: int, seconds: float = 0.3) -> tuple[float, float]:
    """(single-core GFLOP/s, all-`threads` GFLOP/s) of the GEMM's ISA, probed concurrently."""
    return fastnn._core._fma_peak_probe(seconds), probe_gflops(threads, seconds)


@contextlib.contextmanager
def threads(n: int):
    """Run fastnn and NumPy's BLAS (and torch, if imported by the caller) with ``n`` threads."""
    old = fastnn.get_num_threads()
    fastnn.set_num_threads(n)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - bench extra not installed
            threadpool_limits = None
        if threadpool_limits is None:
            yield
        else:
            with threadpool_limits(limits=n):
                yield
    finally:
        fastnn.set_num_threads(old)


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (pip install threadpoolctl)"
    infos = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('threading_layer')})"
             for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(infos) or "none found"


BLOCK_WARMUP = 2  # untimed calls at the start of every block: they wake the library's sleeping threads
# ... and at least this long: after the pause, millisecond calls take 10-20 ms of calls to come back
# to speed (a 0.7 ms depthwise convolution: 2.0, 1.3, 1.0, 0.9, 0.87, 0.85 ... 0.75 ms), so two
# calls left most samples of a block in that ramp (its median 1.4 ms against 0.9 after 20 ms)
BLOCK_WARMUP_S = 20e-3
SAMPLE_MIN_S = 1e-3  # a sample is a run of back-to-back calls at least this long (see the module doc)


def compare(funcs: dict, reps: int = 30, warmup: int = 5, blocks: int = 6, pause: float = 0.15, probe=None) -> dict:
    """Time each callable in ``funcs`` in alternating blocks; return {name: (median, p10, p90)} in s.

    With ``probe`` (a callable returning GFLOP/s, e.g. ``lambda: probe_gflops(threads, 0.02)``), each
    round of blocks also probes the FMA peak once, after the same pause, and the result holds
    "peak_gflops": (median, p10, p90) of those probes: the peak available beside the timed calls.
    """
    fastest = float("inf")
    for f in funcs.values():
        time.sleep(pause)
        for _ in range(warmup):
            f()
        t0 = time.perf_counter()
        f()
        fastest = min(fastest, time.perf_counter() - t0)
    run = max(1, min(1000, int(SAMPLE_MIN_S / max(fastest, 1e-7))))  # calls per sample
    samples = {name: [] for name in funcs}
    peaks = []
    per_block = max(1, reps // blocks)
    for _ in range(blocks):
        if probe is not None:
            time.sleep(pause)
            peaks.append(probe())
        for name, f in funcs.items():
            time.sleep(pause)
            t0, calls = time.perf_counter(), 0
            while calls < BLOCK_WARMUP or time.perf_counter() - t0 < BLOCK_WARMUP_S:
                f()
                calls += 1
            for _ in range(per_block):
                t0 = time.perf_counter()
                for _ in range(run):
                    f()
                samples[name].append((time.perf_counter() - t0) / run)
    out = {}
    if peaks:
        samples["peak_gflops"] = peaks
    for name, s in samples.items():
        s.sort()
        q = statistics.quantiles(s, n=10) if len(s) >= 2 else [s[0]] * 9
        out[name] = (statistics.median(s), q[0], q[-1])
    return out


def fmt_ms(t: tuple) -> str:
    med, p10, p90 = t
    return f"{med * 1e3:8.3f} [{p10 * 1e3:.3f}-{p90 * 1e3:.3f}]"


def layer_fns(layer, x, dy):
    """A layer's two timed passes: forward (training mode), and forward + backward from ``dy``."""
    def fwd():
        return layer(x, training=True)

    def fwd_bwd():
        layer(x, training=True)
        return layer.backward(dy)

    return fwd, fwd_bwd


def check_layer_results(bench, name, labels, got, want, tol=1e-4):
    """Exit naming ``bench``, the layer and the result when fastnn's result (``got``, float32) and
    the float64 reference's (``want``) differ by more than ``tol`` relative to the latter's size;
    a result None in both (a gradient not asked for) is skipped."""
    for what, g, r in zip(labels, got, want):
        if g is None and r is None:
            continue
        err = float(np.max(np.abs(g - r)) / (1.0 + np.max(np.abs(r))))
        if err > tol:
            raise SystemExit(f"{bench}: {name} {what} differs from the reference by {err:.3g} (relative)")


def time_layer_passes(name, passes, flops, args, torch_passes=None, width=6):
    """Time one layer's passes and print a row each: ``passes`` is [(label, fastnn callable, FLOP
    multiplier)], ``flops`` the forward's FLOPs. Beside fastnn: the same callable on the NumPy backend
    (unless ``args.no_numpy``) and ``torch_passes[i]`` (when given), in alternating blocks with the FMA
    peak probed; the row shows fastnn's median, GFLOP/s, % of the peak beside it and the ratios."""
    for i, (label, fast, mult) in enumerate(passes):
        funcs = {"fastnn": fast}
        if not args.no_numpy:
            def ref(fast=fast):
                with fastnn.backend("numpy"):
                    fast()
            funcs["numpy"] = ref
        if torch_passes is not None:
            funcs["torch"] = torch_passes[i]
        t = compare(funcs, reps=args.reps, probe=lambda: probe_gflops(args.threads, 0.02))
        med = t["fastnn"][0]
        rate = mult * flops / med / 1e9
        beside = t["peak_gflops"][0]
        ratio = {lib: f"{t[lib][0] / med:8.2f}" if lib in t else f"{'-':>8s}" for lib in ("numpy", "torch")}
        print(f"{name:{width}s} {label:8s} {fmt_ms(t['fastnn']):>26s} {rate:8.1f} {100 * rate / beside:5.0f}% "
              f"{ratio['numpy']} {ratio['torch']}", flush=True)


def layer_bench_setup(doc, layers, quick_only, quick_help, batch=128, use_torch=True):
    """The per-layer benches' command line (--threads --batch --reps --no-numpy --no-torch --only
    --quick), PyTorch when installed and wanted: ``(args, torch or None, layer names to run)``."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=fastnn.get_num_threads())
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--no-numpy", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated layer names (default: all)")
    ap.add_argument("--quick", action="store_true", help=quick_help)
    args = ap.parse_args()
    if args.quick:
        args.reps = min(args.reps, 6)
        args.only = args.only or quick_only
    torch = None
    if use_torch and not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            print("PyTorch not installed: its columns are skipped")
    return args, torch, [n for n in layers if not args.only or n in args.only.split(",")]


def print_layer_header(args, width=6):
    """The machine line (fastnn's SIMD path, NumPy's BLAS, the FMA probe) and the table's header."""
    single, peak = fma_peak(args.threads)
    print(f"fastnn {fastnn.__version__} ({fastnn.info()['simd']}), {args.threads} threads, batch {args.batch}; "
          f"NumPy BLAS: {blas_info()}; FMA probe {single:.1f} GFLOP/s per core, {peak:.1f} for {args.threads}")
    print(f"{'layer':{width}s} {'pass':8s} {'fastnn ms [p10-p90]':>26s} {'GFLOP/s':>8s} {'% pk':>6s} "
          f"{'x NumPy':>8s} {'x torch':>8s}")
