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

// The same micro-kernel reading A in place from row-major storage, A(i, p) = A[i·lda + p], so a
// product whose packed B is reused over many calls (an RNN's recurrent weights, every step) need
// not pack A at all. It never reads A rows >= m. Same FMA order as the packed kernel: same results.
using GemmRowsAKernel = void (*)(int64_t k, const float* A, int64_t lda, const float* Bp, float* C, int64_t ldc,
                                 int64_t m, int64_t n, float alpha, float beta);

// Direct micro-kernel for small products, reading its operands in place (no packing):
// C[m×n] = alpha · A·B + beta · C over k, with A(i, p) = A[i·rs_a + p·cs_a] (any transpose) and
// B(p, j) = B[p·ldb + j] (unit stride along j), m <= DMR (its own row count), n <= NR. It never reads A rows >= m or
// B columns >= n, so it is safe at the edges of the arrays.
using GemmDirectKernel = void (*)(int64_t k, const float* A, int64_t rs_a, int64_t cs_a, const float* B,
                                  int64_t ldb, float* C, int64_t ldc, int64_t m, int64_t n, float alpha,
                                  float beta);

// Dot-product kernel for skinny C (n <= 16) with A's rows contiguous along k: C[m×n] = alpha ·
// A·Btᵀ + beta · C with A(i, p) = A[i·lda + p], Bt(j, p) = Bt[j·ldbt + p] (B transposed: each of
// its columns contiguous), m <= DOT_MR. Both operands are read as 16-float vectors along k, so one
// load feeds several FMAs; the broadcast kernels above need one load per FMA when C has a single
// vector of columns (a 10-unit output layer). Partial sums are reduced once at the end, so it pays
// from k of a few vector lengths on.
using GemmDotKernel = void (*)(int64_t k, const float* A, int64_t lda, const float* Bt, int64_t ldbt, float* C,
                               int64_t ldc, int64_t m, int64_t n, float alpha, float beta);

// The packed micro-kernel reading B in place from row-major storage, B(p, j) = B[p·ldb + j], A
// packed: for a product with few rows, whose packed B sliver would serve only a few A slivers, so
// its copy costs more than it saves. All NR columns are read (full slivers only). Same FMA chain
// as the packed kernel: same results.
using GemmInPlaceBKernel = void (*)(int64_t k, const float* Ap, const float* B, int64_t ldb, float* C, int64_t ldc,
                                    int64_t m, int64_t n, float alpha, float beta);

struct GemmKernelInfo {
    const char* name;
    int MR, NR;      // register block
    int MC, KC, NC;  // cache blocks (see b_block_in_l2)
    // Loop order. false (BLIS's Haswell order): JC → PC → IC → JR → IR, the packed A block
    // (MC×KC) in L2 and one B micro-panel (KC×NR) in L1. true (BLIS's SKX order, transposed to
    // row-major): IC → PC → JC → IR → JR, the packed B block (KC×NC) in L2 and one A micro-panel
    // (MR×KC) in L1 — for wide micro-kernels whose B micro-panel would not fit L1.
    bool b_block_in_l2;
    GemmMicroKernel ukernel;
    GemmRowsAKernel ukernel_rows_a;  // null where the ISA has none (A is then packed)
    int DMR;                  // the direct kernel's rows (its columns: NR)
    GemmDirectKernel direct;
    int DOT_MR;               // the dot kernel's rows; 0 (and dot null) where the ISA has none
    int DOT_MAX_N;            // the widest C it beats the direct kernel on (N <= 16 in any case)
    GemmDotKernel dot;
    GemmInPlaceBKernel ukernel_b_in_place = nullptr;  // null where the ISA has none (B is then packed)
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
