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

// The kernel over the first ROWS rows of a 12-row sliver: edge tiles with m <= 4 or m <= 8 rows
// skip the FMAs of rows they would not store, e.g. a 64-row batch slice ends in a 4-row sliver at
// a third of a full tile's cost. A is either packed (PACKED: A(i, p) = A[p·MR + i], the sliver keeps
// its MR stride) or read in place from row-major storage (A(i, p) = A[i·lda + p]; rows past m alias
// row 0, so nothing past the array is read). Every element's FMA chain is the same whatever ROWS
// and whichever A, so results do not depend on where a row falls in a sliver or on packing.
// B is packed (B(p, j) = Bp[p·NR + j]) or, with PACKED_B false, read in place from row-major
// storage (B(p, j) = Bp[p·ldb + j]; all NR columns must exist: full slivers only).
template <int ROWS, bool PACKED, bool PACKED_B = true>
void ukernel_rows(int64_t k, const float* A, int64_t lda, const float* Bp, float* C, int64_t ldc, int64_t m, int64_t n,
                  float alpha, float beta, int64_t ldb = NR) {
    __m512 acc[ROWS][2];  // every loop over acc unrolled, or GCC keeps it in memory (ukernel_avx2)
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    const float* rows[ROWS];
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) rows[i] = PACKED ? A + i : A + (i < m ? i : 0) * lda;
    const int64_t a_step = PACKED ? MR : 1;
    // C's rows are written after the k loop: start fetching them now
    for (int i = 0; i < ROWS && i < m; i++) _mm_prefetch((const char*)(C + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
    for (int64_t p = 0; p < k; p++) {
        // B streams from L2 (the SKX loop order): fetch 8 k-steps (1 KB) ahead into L1
        const int64_t b_step = PACKED_B ? NR : ldb;
        _mm_prefetch((const char*)(Bp + 8 * b_step), _MM_HINT_T0);
        _mm_prefetch((const char*)(Bp + 8 * b_step + 16), _MM_HINT_T0);
        const __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
        const int64_t off = p * a_step;
#pragma GCC unroll 12
        for (int i = 0; i < ROWS; i++) {
            const __m512 a = _mm512_set1_ps(rows[i][off]);
            acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
        }
        Bp += b_step;
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    // Column masks for the two 16-wide halves of an edge tile.
    const __mmask16 m0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    const __mmask16 m1 = n >= 32 ? (__mmask16)0xFFFF : n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1u);
    const int rows_stored = (int)(m < ROWS ? m : ROWS);
#pragma GCC unroll 12
    for (int i = 0; i < ROWS; i++) {
        if (i >= rows_stored) break;
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

template <bool PACKED>
void ukernel_any_a(int64_t k, const float* A, int64_t lda, const float* Bp, float* C, int64_t ldc, int64_t m,
                   int64_t n, float alpha, float beta) {
    if (m <= 4)
        ukernel_rows<4, PACKED>(k, A, lda, Bp, C, ldc, m, n, alpha, beta);
    else if (m <= 8)
        ukernel_rows<8, PACKED>(k, A, lda, Bp, C, ldc, m, n, alpha, beta);
    else
        ukernel_rows<MR, PACKED>(k, A, lda, Bp, C, ldc, m, n, alpha, beta);
}

void ukernel_avx512(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc, int64_t m, int64_t n,
                    float alpha, float beta) {
    ukernel_any_a<true>(k, Ap, MR, Bp, C, ldc, m, n, alpha, beta);
}

void ukernel_rows_a_avx512(int64_t k, const float* A, int64_t lda, const float* Bp, float* C, int64_t ldc, int64_t m,
                           int64_t n, float alpha, float beta) {
    ukernel_any_a<false>(k, A, lda, Bp, C, ldc, m, n, alpha, beta);
}

void ukernel_b_in_place_avx512(int64_t k, const float* Ap, const float* B, int64_t ldb, float* C, int64_t ldc,
                               int64_t m, int64_t n, float alpha, float beta) {
    if (m <= 4)
        ukernel_rows<4, true, false>(k, Ap, MR, B, C, ldc, m, n, alpha, beta, ldb);
    else if (m <= 8)
        ukernel_rows<8, true, false>(k, Ap, MR, B, C, ldc, m, n, alpha, beta, ldb);
    else
        ukernel_rows<MR, true, false>(k, Ap, MR, B, C, ldc, m, n, alpha, beta, ldb);
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

// Dot kernel, DOT_MR = 4 rows × up to 6 columns per block: 24 accumulators + 4 A vectors + 1 B
// vector of the 32 zmm registers. Per 16 k steps: 4 + cols loads for 4·cols FMAs (10 columns run as
// 5 + 5: 9 loads for 20 FMAs, where the broadcast kernel needs 25 loads for 20 half-empty FMAs).
constexpr int DOT_MR = 4, DOT_MAX_COLS = 6, DOT_MAX_N = 16;

// Lane q of the result = the sum of v_q's 16 lanes.
inline __m128 sum4(__m512 v0, __m512 v1, __m512 v2, __m512 v3) {
    // 128-bit lanes of a: [v0.0 + v0.2, v0.1 + v0.3, v1.0 + v1.2, v1.1 + v1.3]; b likewise for v2, v3
    const __m512 a = _mm512_add_ps(_mm512_shuffle_f32x4(v0, v1, 0x44), _mm512_shuffle_f32x4(v0, v1, 0xEE));
    const __m512 b = _mm512_add_ps(_mm512_shuffle_f32x4(v2, v3, 0x44), _mm512_shuffle_f32x4(v2, v3, 0xEE));
    // 128-bit lane q of c: four partial sums of v_q
    const __m512 c = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
    __m512 d = _mm512_add_ps(c, _mm512_permute_ps(c, 0x4E));  // within each 128-bit lane: 4 -> 2
    d = _mm512_add_ps(d, _mm512_permute_ps(d, 0xB1));         // 2 -> 1
    const __m512i firsts = _mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(firsts, d));
}

template <int COLS>
void dot_block(int64_t k, const float* const* a, const float* Bt, int64_t ldbt, float* C, int64_t ldc, int64_t m,
               float alpha, float beta) {
    constexpr int NACC = (DOT_MR * COLS + 3) / 4 * 4;  // whole sum4 groups (the padding stays zero)
    __m512 acc[NACC];
#pragma GCC unroll 24
    for (int q = 0; q < NACC; q++) acc[q] = _mm512_setzero_ps();
    // k in 16-float steps; the last one masked (its masked-off lanes load zeros).
    for (int64_t p = 0; p < k; p += 16) {
        const __mmask16 mk = p + 16 <= k ? (__mmask16)0xFFFF : (__mmask16)((1u << (k - p)) - 1u);
        __m512 av[DOT_MR];
#pragma GCC unroll 4
        for (int i = 0; i < DOT_MR; i++) av[i] = _mm512_maskz_loadu_ps(mk, a[i] + p);
#pragma GCC unroll 6
        for (int j = 0; j < COLS; j++) {
            const __m512 bv = _mm512_maskz_loadu_ps(mk, Bt + j * ldbt + p);
#pragma GCC unroll 4
            for (int i = 0; i < DOT_MR; i++) acc[i * COLS + j] = _mm512_fmadd_ps(av[i], bv, acc[i * COLS + j]);
        }
    }
    alignas(16) float sums[NACC];
#pragma GCC unroll 6
    for (int q = 0; q < NACC; q += 4) _mm_store_ps(sums + q, sum4(acc[q], acc[q + 1], acc[q + 2], acc[q + 3]));
    for (int i = 0; i < DOT_MR && i < m; i++)
        for (int j = 0; j < COLS; j++) {
            float* c = C + i * ldc + j;
            *c = beta == 0.0f ? alpha * sums[i * COLS + j] : alpha * sums[i * COLS + j] + beta * *c;
        }
}

void dot_avx512(int64_t k, const float* A, int64_t lda, const float* Bt, int64_t ldbt, float* C, int64_t ldc,
                int64_t m, int64_t n, float alpha, float beta) {
    // Rows past m alias row 0 (valid memory; their results are never stored).
    const float* a[DOT_MR];
    for (int i = 0; i < DOT_MR; i++) a[i] = A + (i < m ? i : 0) * lda;
    // Balanced column blocks: 10 = 5 + 5, 16 = 6 + 5 + 5.
    const int64_t blocks = (n + DOT_MAX_COLS - 1) / DOT_MAX_COLS;
    for (int64_t b = 0, j0 = 0; b < blocks; b++) {
        const int64_t cols = (n - j0 + (blocks - b) - 1) / (blocks - b);
        const float* bt = Bt + j0 * ldbt;
        float* c = C + j0;
        switch (cols) {
            case 1: dot_block<1>(k, a, bt, ldbt, c, ldc, m, alpha, beta); break;
            case 2: dot_block<2>(k, a, bt, ldbt, c, ldc, m, alpha, beta); break;
            case 3: dot_block<3>(k, a, bt, ldbt, c, ldc, m, alpha, beta); break;
            case 4: dot_block<4>(k, a, bt, ldbt, c, ldc, m, alpha, beta); break;
            case 5: dot_block<5>(k, a, bt, ldbt, c, ldc, m, alpha, beta); break;
            default: dot_block<6>(k, a, bt, ldbt, c, ldc, m, alpha, beta); break;
        }
        j0 += cols;
    }
}
}  // namespace

const GemmKernelInfo gemm_kernel_avx512 = {"avx512", MR,     NR, 3072,          384,    480,       true,
                                           ukernel_avx512, ukernel_rows_a_avx512, DMR, direct_avx512, DOT_MR, DOT_MAX_N, dot_avx512,
                                           ukernel_b_in_place_avx512};

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
