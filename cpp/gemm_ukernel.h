// gemm_ukernel.h — the micro-kernel contract (after BLIS's KernelsHowTo), shared by gemm.cpp and
// the per-ISA files. Deliberately minimal: the ISA files are compiled with their own -m flags, so
// they must not instantiate any inline code that other translation units could also pick up.
#pragma once

#include <cstdint>

namespace fastnn {

// C[m×n] = alpha · Ap·Bp + beta · C, with m <= MR, n <= NR, over k steps.
//   Ap: packed A micro-panel, k × MR (MR values per step: A's column p, rows 0..MR-1)
//   Bp: packed B micro-panel, k × NR (NR values per step: B's row p, columns 0..NR-1)
//   C:  row-major, row stride ldc, column stride 1.
// Panels are zero-padded to MR/NR, so a kernel may compute a full tile and store only m×n.
// beta == 0 means C is never read: it may hold garbage or NaN.
using GemmMicroKernel = void (*)(int64_t k, const float* Ap, const float* Bp, float* C,
                                 int64_t ldc, int64_t m, int64_t n, float alpha, float beta);

struct GemmKernelInfo {
    const char* name;
    int MR, NR;      // register block
    int MC, KC, NC;  // cache blocks: Ap block MC×KC in L2, Bp block KC×NC in L3
    GemmMicroKernel ukernel;
};

extern const GemmKernelInfo gemm_kernel_generic;
#ifdef FASTNN_X86_KERNELS
extern const GemmKernelInfo gemm_kernel_avx2;
extern const GemmKernelInfo gemm_kernel_avx512;
// FMA throughput probes, one per ISA file (GFLOP/s on the calling thread).
double fma_probe_avx2(double seconds);
double fma_probe_avx512(double seconds);
#endif
double fma_probe_generic(double seconds);

}  // namespace fastnn
