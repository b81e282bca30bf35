// conv_ukernel.h — the convolution's "gather GEMM" micro-kernel contract, shared by conv.cpp and
// the per-ISA files conv_ukernel_*.cpp (compiled with their own -m flags, like the GEMM's; hence
// nothing inline here that another translation unit could pick up).
//
// An NHWC convolution reads its im2col matrix as A[i][p] = x[row_i + col_p]: a pixel's base
// offset plus a (tap, channel) offset. The micro-kernel multiplies that A, gathered on the fly by
// broadcasts straight from the input (no im2col, no packing), by a row-major B:
//   C[i][j] = (accumulate ? C[i][j] : 0) + Σ_{p<k} rows[i][cols[p]] · B[p·ldb + j]
//             (+ bias[j] when bias != nullptr) (then max(·, 0) when relu)
// for i < m <= MR(n), j < n <= NR. Forward: i = output pixels, p = (tap, channel), B = the kernel
// (KH·KW·C × OC). Weight gradient: i = (tap, channel), p = output pixels, B = dz (pixels × OC).
// Input gradient (scatter): i = the dz pixels of one output row, p = output channels, B = wᵀ's
// block for one tap, C = the input pixels they read (ldc = stride·C), accumulated into dx.
// rows must hold MR(n) readable pointers (the caller repeats a valid one past m); B and C are
// touched only in columns j < n, C only in rows i < m. conv.cpp passes B packed in column panels
// of NR (ldb = NR), so each k step reads one contiguous row of the panel.
#pragma once

#include <cstdint>

namespace fastnn {

using ConvGatherKernel = void (*)(int64_t k, const float* const* rows, const int64_t* cols, const float* B,
                                  int64_t ldb, float* C, int64_t ldc, int64_t m, int64_t n, bool accumulate,
                                  const float* bias, bool relu);

// The same product for `count` rows (any count, rows[i] for i < count plus MR(n) readable past),
// tile after tile of MR(n) rows, C's row i at C + i·ldc: one call where a chunk would take one per
// tile. It pays where k is short (a first layer's 9 taps of one channel), where the per-call
// setup and the tile's epilogue are most of a call's time.
using ConvGatherRowsKernel = void (*)(int64_t k, const float* const* rows, int64_t count, const int64_t* cols,
                                      const float* B, int64_t ldb, float* C, int64_t ldc, int64_t n,
                                      bool accumulate, const float* bias, bool relu);

// Max pooling's running update over C channels: where x[c] > y[c] (strictly: an equal later value
// never displaces the first maximum), y[c] = x[c] and argmax[c] = p. NaN counts as the maximum,
// as in NumPy and PyTorch: the first NaN of a window wins and stays (a diverged layer's NaN must
// reach the loss, not vanish in a pooling layer).
using MaxUpdateKernel = void (*)(float* y, int32_t* argmax, const float* x, int32_t p, int64_t C);

struct ConvKernelInfo {
    const char* name;
    int NR;                // widest column block
    int (*mr)(int64_t n);  // rows per tile for a column block of width n <= NR
    // k steps per call, at most (conv.cpp cuts k into balanced blocks): each call ends with a read-
    // modify-write of its C tile, so longer is cheaper until B's rows no longer stream well
    int k_block;       // forward and input gradient (k = taps · channels)
    int grad_pixels;   // weight gradient (k = output pixels)
    ConvGatherKernel kernel;
    MaxUpdateKernel max_update;
    ConvGatherRowsKernel kernel_rows = nullptr;  // null: the caller loops over tiles with `kernel`
};

// The kernels matching the GEMM's run-time choice (conv.cpp): forcing a GEMM micro-kernel in
// tests or benchmarks forces these too.
const ConvKernelInfo& conv_kernels();

extern const ConvKernelInfo conv_kernel_generic;
#ifdef FASTNN_X86_KERNELS
extern const ConvKernelInfo conv_kernel_avx2;
extern const ConvKernelInfo conv_kernel_avx512;
#endif

}  // namespace fastnn
