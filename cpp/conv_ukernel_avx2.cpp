// conv_ukernel_avx2.cpp — the gather-GEMM micro-kernel (conv_ukernel.h) for AVX2/FMA: 6 rows × up
// to 16 columns in two ymm vectors (BLIS's Haswell shape), 12 accumulators, six broadcasts straight
// from the input rows per k step. Edge columns use maskload/maskstore. Compiled with -mavx2 -mfma
// and called only when the GEMM chose its AVX2 kernel.

#include <immintrin.h>

#include "conv_ukernel.h"

namespace fastnn {

namespace {

constexpr int MR = 6;

template <int NV>
__attribute__((always_inline)) inline void gather_tile(int64_t k, const float* const* rows, const int64_t* cols,
                                                       const float* B, int64_t ldb, float* C, int64_t ldc, int64_t m,
                                                       int64_t n, bool accumulate, const float* bias, bool relu) {
    __m256 acc[MR][NV];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();
    const float* r[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) r[i] = rows[i];
    __m256i mask[NV];
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - 8 * v)), lane);
    const bool full = n == 8 * NV;
    for (int64_t p = 0; p < k; p++) {
        const int64_t o = cols[p];
        const float* b = B + p * ldb;
        __m256 bv[NV];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) bv[v] = full ? _mm256_loadu_ps(b + 8 * v) : _mm256_maskload_ps(b + 8 * v, mask[v]);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 a = _mm256_broadcast_ss(r[i] + o);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(a, bv[v], acc[i][v]);
        }
    }
    __m256 bb[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) bb[v] = bias ? _mm256_maskload_ps(bias + 8 * v, mask[v]) : _mm256_setzero_ps();
    const __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        if (i >= m) break;
        float* c = C + i * ldc;
        // full tiles store without masks: vmaskmovps to memory is microcoded on AMD cores (on Zen 3 the
        // masked epilogue made the forward and weight-gradient loops ~1.2x slower)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            __m256 t = acc[i][v];
            if (accumulate) t = _mm256_add_ps(t, full ? _mm256_loadu_ps(c + 8 * v) : _mm256_maskload_ps(c + 8 * v, mask[v]));
            if (bias) t = _mm256_add_ps(t, bb[v]);
            if (relu) t = _mm256_max_ps(zero, t);  // maxps returns its second operand for NaN: NaN stays
            if (full)
                _mm256_storeu_ps(c + 8 * v, t);
            else
                _mm256_maskstore_ps(c + 8 * v, mask[v], t);
        }
    }
}

template <int NV>
void gather_kernel(int64_t k, const float* const* rows, const int64_t* cols, const float* B, int64_t ldb, float* C,
                   int64_t ldc, int64_t m, int64_t n, bool accumulate, const float* bias, bool relu) {
    gather_tile<NV>(k, rows, cols, B, ldb, C, ldc, m, n, accumulate, bias, relu);
}

// the tiles of `count` rows in one call: the masks and bias hoisted, and one tile's epilogue
// overlapping the next tile's first FMAs (the 9-tap first layer's forward: 1.13-1.24x, paired)
template <int NV>
void gather_rows(int64_t k, const float* const* rows, int64_t count, const int64_t* cols, const float* B,
                 int64_t ldb, float* C, int64_t ldc, int64_t n, bool accumulate, const float* bias, bool relu) {
    for (int64_t i = 0; i < count; i += MR)
        gather_tile<NV>(k, rows + i, cols, B, ldb, C + i * ldc, ldc, count - i < MR ? count - i : MR, n, accumulate,
                        bias, relu);
}

void kernel_avx2(int64_t k, const float* const* rows, const int64_t* cols, const float* B, int64_t ldb, float* C,
                 int64_t ldc, int64_t m, int64_t n, bool accumulate, const float* bias, bool relu) {
    if (n > 8)
        gather_kernel<2>(k, rows, cols, B, ldb, C, ldc, m, n, accumulate, bias, relu);
    else
        gather_kernel<1>(k, rows, cols, B, ldb, C, ldc, m, n, accumulate, bias, relu);
}

void kernel_rows_avx2(int64_t k, const float* const* rows, int64_t count, const int64_t* cols, const float* B,
                      int64_t ldb, float* C, int64_t ldc, int64_t n, bool accumulate, const float* bias, bool relu) {
    if (n > 8)
        gather_rows<2>(k, rows, count, cols, B, ldb, C, ldc, n, accumulate, bias, relu);
    else
        gather_rows<1>(k, rows, count, cols, B, ldb, C, ldc, n, accumulate, bias, relu);
}

int mr_avx2(int64_t) { return MR; }

void max_update_avx2(float* y, int32_t* argmax, const float* x, int32_t p, int64_t C) {
    const __m256 vp = _mm256_castsi256_ps(_mm256_set1_epi32(p));
    int64_t c = 0;
    for (; c + 8 <= C; c += 8) {
        const __m256 v = _mm256_loadu_ps(x + c), cur = _mm256_loadu_ps(y + c);
        // !(v <= cur) while cur is a number: v > cur, or v is the first NaN
        const __m256 gt = _mm256_and_ps(_mm256_cmp_ps(v, cur, _CMP_NLE_UQ), _mm256_cmp_ps(cur, cur, _CMP_ORD_Q));
        _mm256_storeu_ps(y + c, _mm256_blendv_ps(cur, v, gt));
        const __m256 a = _mm256_loadu_ps(reinterpret_cast<const float*>(argmax + c));
        _mm256_storeu_ps(reinterpret_cast<float*>(argmax + c), _mm256_blendv_ps(a, vp, gt));
    }
    for (; c < C; c++) {
        const float v = x[c], cur = y[c];
        if (!(v <= cur) && cur == cur) {
            y[c] = v;
            argmax[c] = p;
        }
    }
}

}  // namespace

// k_block, grad_pixels: measured on Zen 3 (32 KB L1d), the 64 -> 64 3x3 layer, one thread: whole-K forward
// calls (576) ran 1.13x faster than 128-step ones; 256-pixel weight-gradient blocks 1.10x faster than 64
const ConvKernelInfo conv_kernel_avx2 = {"avx2-fma", 16, mr_avx2, 1024, 256, kernel_avx2, max_update_avx2,
                                         kernel_rows_avx2};

}  // namespace fastnn
