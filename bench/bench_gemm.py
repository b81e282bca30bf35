"""SGEMM: fastnn.ops.matmul against numpy.matmul, validated first, then timed side by side.

Prints, per shape and thread count: medians (p10-p90) in ms, GFLOP/s, the ratio fastnn/NumPy
speed (> 1 means fastnn is faster) and the fraction of the machine's FMA peak measured by the
probe at the top (the GEMM micro-kernel's ISA, all threads running at once).

    python bench/bench_gemm.py [--threads 1 2] [--reps 30] [--quick] [--kernel avx2-fma]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as H  # noqa: E402

import fastnn  # noqa: E402

SQUARE = [256, 512, 1024, 2048]
MODEL_SHAPES = [(m, k, n) for m in (32, 128, 256) for (k, n) in ((784, 256), (256, 256), (256, 10), (28, 512), (128, 512))]


def validate(m, k, n, rng):
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    got = fastnn.ops.matmul(a, b)
    err = np.abs(got - ref).max() / (np.sqrt(k) * 1.0)
    if not err < 1e-5:
        raise SystemExit(f"bench_gemm: validation FAILED for {m}x{k}x{n}: max error/sqrt(K) = {err:.3g}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="fewer shapes and repetitions (smoke run)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--kernel", default="auto", choices=["auto", "avx512", "avx2-fma", "generic"],
                    help="force this micro-kernel (and its FMA probe): e.g. the AVX2 path on an AVX-512 CPU, "
                         "against OpenBLAS's Haswell kernel with OPENBLAS_CORETYPE=Haswell")
    args = ap.parse_args(argv)
    if not fastnn._core._select_gemm_kernel(args.kernel):
        raise SystemExit(f"bench_gemm: this CPU (or build) has no {args.kernel!r} GEMM kernel")

    rng = np.random.default_rng(0)
    square = [256, 1024] if args.quick else SQUARE
    model = MODEL_SHAPES[:5] if args.quick else MODEL_SHAPES
    reps = 10 if args.quick else args.reps
    shapes = [(n, n, n) for n in square] + model
    for m, k, n in shapes + [(128, 10, 128)]:
        validate(m, k, n, rng)

    max_threads = max(args.threads)
    single, peak_all = H.fma_peak(max_threads)
    print(f"fastnn {fastnn.__version__}  kernel={fastnn._core.gemm_kernel()}  NumPy {np.__version__} BLAS: {H.blas_info()}")
    print(f"FMA peak probe ({fastnn._core.gemm_kernel()}): {single:.1f} GFLOP/s on 1 core, {peak_all:.1f} on {max_threads} at once")
    print("validation: all shapes agree with float64 NumPy to float32 accuracy\n")

    rows = []
    print("| M×K×N | thr | fastnn ms [p10-p90] | NumPy ms [p10-p90] | fastnn GFLOP/s | NumPy GFLOP/s | ratio | % peak |")
    print("|---|---|---|---|---|---|---|---|")
    for t in args.threads:
        peak = single if t == 1 else peak_all * t / max_threads
        for m, k, n in shapes:
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)
            r = 3 if m * k * n >= 2048**3 else 1
            with H.threads(t):
                res = H.compare({"fastnn": lambda: fastnn.ops.matmul(a, b), "numpy": lambda: np.matmul(a, b)},
                                reps=max(6, reps // r), blocks=3 if args.quick else 6)
            flops = 2.0 * m * n * k
            gf = {name: flops / v[0] * 1e-9 for name, v in res.items()}
            ratio = res["numpy"][0] / res["fastnn"][0]
            frac = gf["fastnn"] / peak
            rows.append(dict(m=m, k=k, n=n, threads=t, fastnn_ms=res["fastnn"][0] * 1e3, numpy_ms=res["numpy"][0] * 1e3,
                             fastnn_gflops=gf["fastnn"], numpy_gflops=gf["numpy"], ratio=ratio, peak_fraction=frac))
            print(f"| {m}×{k}×{n} | {t} | {H.fmt_ms(res['fastnn'])} | {H.fmt_ms(res['numpy'])} | {gf['fastnn']:7.1f} | "
                  f"{gf['numpy']:7.1f} | {ratio:5.2f} | {100 * frac:5.1f} |")

    # Thread scaling, measured side by side: fastnn at 1 vs 2 threads.
    if 1 in args.threads and max_threads > 1:
        print("\nthread scaling (fastnn, same run):")
        for m, k, n in [(1024, 1024, 1024), (128, 10, 128)]:
            a = rng.standard_normal((m, k), dtype=np.float32)
            b = rng.standard_normal((k, n), dtype=np.float32)

            def at(th):
                def f():
                    fastnn.set_num_threads(th)
                    fastnn.ops.matmul(a, b)
                return f

            old = fastnn.get_num_threads()
            res = H.compare({"1": at(1), str(max_threads): at(max_threads)}, reps=reps * (10 if m < 1024 else 1))
            fastnn.set_num_threads(old)
            speedup = res["1"][0] / res[str(max_threads)][0]
            print(f"  {m}×{k}×{n}: 1 thread {H.fmt_ms(res['1'])} ms, {max_threads} threads "
                  f"{H.fmt_ms(res[str(max_threads)])} ms, speed-up {speedup:.2f}×")
            rows.append(dict(m=m, k=k, n=n, scaling=speedup))
    if args.json:
        args.json.write_text(json.dumps(dict(peak_single=single, peak_all=peak_all, rows=rows), indent=1))


if __name__ == "__main__":
    main()
