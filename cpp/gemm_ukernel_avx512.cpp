// gemm_ukernel_avx512.cpp — the AVX-512 micro-kernel, MR×NR = 12×32: per k step two 16-float
// loads of B, twelve broadcasts of A, 24 FMAs into 24 zmm accumulators (27 of 32 registers).
// Edge tiles use write masks instead of a spill buffer. Compiled with -mavx512f (+vl, dq) and
// called only when the CPU and the OS (XCR0 zmm state) both report AVX-512F (gemm.cpp).

#include <immintrin.h>

#include <chrono>

#include "gemm_ukernel.h"

namespace fastnn {

namespace {
constexpr int MR = 12, NR = 32;

// The kernel over the first ROWS rows of the 12-row sliver (Ap keeps its MR stride): edge tiles
// with m <= 4 or m <= 8 rows skip the FMAs of rows they would not store, e.g. a 64-row batch slice
// ends in a 4-row sliver at a third of a full tile's cost. Every element's FMA chain is the same
// whatever ROWS, so results do not depend on where a row falls in a sliver.
template <int ROWS>
void ukernel_rows(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc, int64_t m, int64_t n,
                  float alpha, float beta) {
    __m512 acc[ROWS][2];
    for (int i = 0; i < ROWS; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    // C's rows are written after the k loop: start fetching them now
    for (int i = 0; i < ROWS && i < m; i++) _mm_prefetch((const char*)(C + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int64_t p = 0; p < k; p++) {
        // B streams from L2 (the SKX loop order): fetch 8 k-steps (1 KB) ahead into L1
        _mm_prefetch((const char*)(Bp + 8 * NR), _MM_HINT_T0);
        _mm_prefetch((const char*)(Bp + 8 * NR + 16), _MM_HINT_T0);
        const __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
#pragma GCC unroll 12
        for (int i = 0; i < ROWS; i++) {
            const __m512 a = _mm512_set1_ps(Ap[i]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
        Ap += MR;
        Bp += NR;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    // Column masks for the two 16-wide halves of an edge tile.
    const __mmask16 m0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    const __mmask16 m1 = n >= 32 ? (__mmask16)0xFFFF : n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1u);
    const int rows = (int)(m < ROWS ? m : ROWS);
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) {
        if (i >= rows) break;
        float* c = C + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), r1);
        }
        _mm512_mask_storeu_ps(c, m0, r0);
        _mm512_mask_storeu_ps(c + 16, m1, r1);
    }
}

void ukernel_avx512(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc, int64_t m, int64_t n,
                    float alpha, float beta) {
    if (m <= 4)
        ukernel_rows<4>(k, Ap, Bp, C, ldc, m, n, alpha, beta);
    else if (m <= 8)
        ukernel_rows<8>(k, Ap, Bp, C, ldc, m, n, alpha, beta);
    else
        ukernel_rows<MR>(k, Ap, Bp, C, ldc, m, n, alpha, beta);
}
// Direct kernel, DMR×NR = 4×32: 8 zmm accumulators cover the FMA latency × 2 ports; per k step
// 2 loads of B and 4 broadcasts of A for 8 FMAs, so it stays FMA-bound without packing.
constexpr int DMR = 4;

void direct_avx512(int64_t k, const float* A, int64_t rs_a, int64_t cs_a, const float* B, int64_t ldb, float* C,
                   int64_t ldc, int64_t m, int64_t n, float alpha, float beta) {
    // Rows past m alias row 0 (valid memory; their results are never stored).
    const float* a0 = A;
    const float* a1 = A + (m > 1 ? rs_a : 0);
    const float* a2 = A + (m > 2 ? 2 * rs_a : 0);
    const float* a3 = A + (m > 3 ? 3 * rs_a : 0);
    const __mmask16 m0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    const __mmask16 m1 = n >= 32 ? (__mmask16)0xFFFF : n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1u);
    __m512 c00 = _mm512_setzero_ps(), c10 = c00, c20 = c00, c30 = c00;
    __m512 c01 = c00, c11 = c00, c21 = c00, c31 = c00;
    if (n <= 16) {
        // One live column block: even k steps accumulate into c*0, odd ones into c*1, so 8
        // independent FMA chains still cover latency × ports; the halves are summed at the end.
        int64_t p = 0;
        for (; p + 1 < k; p += 2, B += 2 * ldb) {
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, B), b1 = _mm512_maskz_loadu_ps(m0, B + ldb);
            const int64_t off = p * cs_a, off1 = off + cs_a;
            c00 = _mm512_fmadd_ps(_mm512_set1_ps(a0[off]), b0, c00);
            c10 = _mm512_fmadd_ps(_mm512_set1_ps(a1[off]), b0, c10);
            c20 = _mm512_fmadd_ps(_mm512_set1_ps(a2[off]), b0, c20);
            c30 = _mm512_fmadd_ps(_mm512_set1_ps(a3[off]), b0, c30);
            c01 = _mm512_fmadd_ps(_mm512_set1_ps(a0[off1]), b1, c01);
            c11 = _mm512_fmadd_ps(_mm512_set1_ps(a1[off1]), b1, c11);
            c21 = _mm512_fmadd_ps(_mm512_set1_ps(a2[off1]), b1, c21);
            c31 = _mm512_fmadd_ps(_mm512_set1_ps(a3[off1]), b1, c31);
        }
        if (p < k) {
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, B);
            const int64_t off = p * cs_a;
            c00 = _mm512_fmadd_ps(_mm512_set1_ps(a0[off]), b0, c00);
            c10 = _mm512_fmadd_ps(_mm512_set1_ps(a1[off]), b0, c10);
            c20 = _mm512_fmadd_ps(_mm512_set1_ps(a2[off]), b0, c20);
            c30 = _mm512_fmadd_ps(_mm512_set1_ps(a3[off]), b0, c30);
        }
        c00 = _mm512_add_ps(c00, c01), c10 = _mm512_add_ps(c10, c11);
        c20 = _mm512_add_ps(c20, c21), c30 = _mm512_add_ps(c30, c31);
    } else {
        for (int64_t p = 0; p < k; p++, B += ldb) {
            const __m512 b0 = _mm512_maskz_loadu_ps(m0, B), b1 = _mm512_maskz_loadu_ps(m1, B + 16);
            const int64_t off = p * cs_a;
            __m512 av = _mm512_set1_ps(a0[off]);
            c00 = _mm512_fmadd_ps(av, b0, c00);
            c01 = _mm512_fmadd_ps(av, b1, c01);
            av = _mm512_set1_ps(a1[off]);
            c10 = _mm512_fmadd_ps(av, b0, c10);
            c11 = _mm512_fmadd_ps(av, b1, c11);
            av = _mm512_set1_ps(a2[off]);
            c20 = _mm512_fmadd_ps(av, b0, c20);
            c21 = _mm512_fmadd_ps(av, b1, c21);
            av = _mm512_set1_ps(a3[off]);
            c30 = _mm512_fmadd_ps(av, b0, c30);
            c31 = _mm512_fmadd_ps(av, b1, c31);
        }
    }
    const __m512 acc[DMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int64_t i = 0; i < m; i++) {
        float* c = C + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), r1);
        }
        _mm512_mask_storeu_ps(c, m0, r0);
        _mm512_mask_storeu_ps(c + 16, m1, r1);
    }
}
}  // namespace

const GemmKernelInfo gemm_kernel_avx512 = {"avx512", MR, NR, 3072, 384, 480, true, ukernel_avx512, DMR, direct_avx512};

double fma_probe_avx512(double seconds) {
    // 16 independent zmm chains (latency 4 × up to 2 FMA ports), each starting at its own value.
    constexpr int R = 16;
    __m512 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm512_set1_ps(0.001f * (r + 1));
    const __m512 mul = _mm512_set1_ps(0.9999999f), add = _mm512_set1_ps(1e-7f);
    int64_t iters = 0;
    auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    do {
        for (int it = 0; it < 4096; it++) {
#pragma GCC unroll 16
            for (int r = 0; r < R; r++) acc[r] = _mm512_fmadd_ps(acc[r], mul, add);
        }
        iters += 4096;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (elapsed < seconds);
    __m512 sum = acc[0];
    for (int r = 1; r < R; r++) sum = _mm512_add_ps(sum, acc[r]);
    volatile float keep = _mm512_reduce_add_ps(sum);
    (void)keep;
    return 2.0 * 16.0 * R * (double)iters / elapsed * 1e-9;
}

}  // namespace fastnn
