// conv_ukernel_avx512.cpp — the gather-GEMM micro-kernel (conv_ukernel.h) for AVX-512: up to 64
// output columns in four zmm vectors per row. Per k step: one offset load, MR broadcasts straight
// from the input rows, NV loads of B, MR·NV FMAs into 24 (or 12) zmm accumulators. The tile shape
// follows the column block: 6×64, 8×48, 12×32, 12×16, so narrow layers (OC = 32) keep the FMA
// units as busy as wide ones. Edge columns use masks. Compiled with -mavx512f and called only when
// the GEMM chose its AVX-512 kernel (the CPU and OS support it).

#include <immintrin.h>

#include "conv_ukernel.h"

namespace fastnn {

namespace {

template <int MR, int NV>
void gather_kernel(int64_t k, const float* const* rows, const int64_t* cols, const float* B, int64_t ldb, float* C,
                   int64_t ldc, int64_t m, int64_t n, bool accumulate, const float* bias, bool relu) {
    __m512 acc[MR][NV];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[i][v] = _mm512_setzero_ps();
    const float* r[MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) r[i] = rows[i];
    __mmask16 mask[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
        const int64_t left = n - 16 * v;
        mask[v] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1u);
    }
    if (n == 16 * NV) {
#pragma GCC unroll 2
        for (int64_t p = 0; p < k; p++) {
            const int64_t o = cols[p];
            const float* b = B + p * ldb;
            __m512 bv[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) bv[v] = _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 12
            for (int i = 0; i < MR; i++) {
                const __m512 a = _mm512_set1_ps(r[i][o]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(a, bv[v], acc[i][v]);
            }
        }
    } else {
        for (int64_t p = 0; p < k; p++) {
            const int64_t o = cols[p];
            const float* b = B + p * ldb;
            __m512 bv[NV];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) bv[v] = _mm512_maskz_loadu_ps(mask[v], b + 16 * v);
#pragma GCC unroll 12
            for (int i = 0; i < MR; i++) {
                const __m512 a = _mm512_set1_ps(r[i][o]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) acc[i][v] = _mm512_fmadd_ps(a, bv[v], acc[i][v]);
            }
        }
    }
    __m512 bb[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) bb[v] = bias ? _mm512_maskz_loadu_ps(mask[v], bias + 16 * v) : _mm512_setzero_ps();
    const __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        if (i >= m) break;
        float* c = C + i * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 t = acc[i][v];
            if (accumulate) t = _mm512_add_ps(t, _mm512_maskz_loadu_ps(mask[v], c + 16 * v));
            if (bias) t = _mm512_add_ps(t, bb[v]);
            if (relu) t = _mm512_max_ps(zero, t);  // maxps returns its second operand for NaN: NaN stays
            _mm512_mask_storeu_ps(c + 16 * v, mask[v], t);
        }
    }
}

void kernel_avx512(int64_t k, const float* const* rows, const int64_t* cols, const float* B, int64_t ldb, float* C,
                   int64_t ldc, int64_t m, int64_t n, bool accumulate, const float* bias, bool relu) {
    if (n > 48)
        gather_kernel<6, 4>(k, rows, cols, B, ldb, C, ldc, m, n, accumulate, bias, relu);
    else if (n > 32)
        gather_kernel<8, 3>(k, rows, cols, B, ldb, C, ldc, m, n, accumulate, bias, relu);
    else if (n > 16)
        gather_kernel<12, 2>(k, rows, cols, B, ldb, C, ldc, m, n, accumulate, bias, relu);
    else
        gather_kernel<12, 1>(k, rows, cols, B, ldb, C, ldc, m, n, accumulate, bias, relu);
}

int mr_avx512(int64_t n) { return n > 48 ? 6 : n > 32 ? 8 : 12; }

void max_update_avx512(float* y, int32_t* argmax, const float* x, int32_t p, int64_t C) {
    const __m512i vp = _mm512_set1_epi32(p);
    int64_t c = 0;
    for (; c + 16 <= C; c += 16) {
        const __m512 v = _mm512_loadu_ps(x + c), cur = _mm512_loadu_ps(y + c);
        // !(v <= cur) while cur is a number: v > cur, or v is the first NaN
        const __mmask16 gt = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(cur, cur, _CMP_ORD_Q), v, cur, _CMP_NLE_UQ);
        _mm512_mask_storeu_ps(y + c, gt, v);
        _mm512_mask_storeu_epi32(argmax + c, gt, vp);
    }
    if (c < C) {
        const __mmask16 tail = (__mmask16)((1u << (C - c)) - 1u);
        const __m512 v = _mm512_maskz_loadu_ps(tail, x + c), cur = _mm512_maskz_loadu_ps(tail, y + c);
        const __mmask16 gt =
            _mm512_mask_cmp_ps_mask(_mm512_mask_cmp_ps_mask(tail, cur, cur, _CMP_ORD_Q), v, cur, _CMP_NLE_UQ);
        _mm512_mask_storeu_ps(y + c, gt, v);
        _mm512_mask_storeu_epi32(argmax + c, gt, vp);
    }
}

}  // namespace

// k_block, grad_pixels: measured on Ice Lake (48 KB L1d): a 128 × 64 block of B stays in L1; 64-pixel
// weight-gradient blocks ran 1.2x faster than 128
const ConvKernelInfo conv_kernel_avx512 = {"avx512", 64, mr_avx512, 128, 64, kernel_avx512, max_update_avx512};

}  // namespace fastnn
