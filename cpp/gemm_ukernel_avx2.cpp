// gemm_ukernel_avx2.cpp — the AVX2/FMA micro-kernel, MR×NR = 6×16 (BLIS's Haswell/Zen shape):
// per k step two 8-float loads of B, six broadcasts of A, 12 FMAs into 12 ymm accumulators.
// Compiled with -mavx2 -mfma and called only when the CPU reports both (gemm.cpp).

#include <immintrin.h>

#include <chrono>
#include <cmath>

#include "gemm_ukernel.h"

namespace fastnn {

namespace {
constexpr int MR = 6, NR = 16;

// A is packed (PACKED: A(i, p) = A[p·MR + i]) or read in place from row-major storage (A(i, p) =
// A[i·lda + p]; rows past m alias row 0, so nothing past the array is read). Same FMA chain per
// element either way, so results do not depend on packing.
template <bool PACKED>
void ukernel_any_a(int64_t k, const float* A, int64_t lda, const float* Bp, float* C, int64_t ldc, int64_t m,
                   int64_t n, float alpha, float beta) {
    // Every loop over acc fully unrolled: an indexed access left in a loop makes GCC keep acc in
    // memory, and the k loop then stores all 12 accumulators every step (half speed on 2 FMA ports).
    __m256 acc[MR][2];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    const float* rows[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) rows[i] = PACKED ? A + i : A + (i < m ? i : 0) * lda;
    const int64_t a_step = PACKED ? MR : 1;
#pragma GCC unroll 4
    for (int64_t p = 0; p < k; p++) {
        const __m256 b0 = _mm256_loadu_ps(Bp), b1 = _mm256_loadu_ps(Bp + 8);
        const int64_t off = p * a_step;
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 a = _mm256_broadcast_ss(rows[i] + off);
            acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
        }
        Bp += NR;
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (m == MR && n == NR) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            float* c = C + i * ldc;
            __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), r0);
                r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), r1);
            }
            _mm256_storeu_ps(c, r0);
            _mm256_storeu_ps(c + 8, r1);
        }
        return;
    }
    // Edge tile: spill the accumulators, then touch only the m×n valid entries of C.
    alignas(32) float tile[MR][NR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm256_store_ps(tile[i], acc[i][0]);
        _mm256_store_ps(tile[i] + 8, acc[i][1]);
    }
    for (int64_t i = 0; i < m; i++) {
        float* c = C + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < n; j++) c[j] = alpha * tile[i][j];
        } else {
            for (int64_t j = 0; j < n; j++) c[j] = alpha * tile[i][j] + beta * c[j];
        }
    }
}

void ukernel_avx2(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc, int64_t m, int64_t n,
                  float alpha, float beta) {
    ukernel_any_a<true>(k, Ap, MR, Bp, C, ldc, m, n, alpha, beta);
}

void ukernel_rows_a_avx2(int64_t k, const float* A, int64_t lda, const float* Bp, float* C, int64_t ldc, int64_t m,
                         int64_t n, float alpha, float beta) {
    ukernel_any_a<false>(k, A, lda, Bp, C, ldc, m, n, alpha, beta);
}

// Direct kernel, DMR×NR = 4×16: 8 ymm accumulators; per k step 2 loads of B and 4 broadcasts
// of A for 8 FMAs, so it stays FMA-bound without packing.
constexpr int DMR = 4;

// FULL: n == NR, so B and C are read and written without masks (vmaskmovps stores are microcoded
// on AMD cores); otherwise B's columns past n load as zeros and each C row goes through a spilled row.
template <bool FULL>
void direct_tile(int64_t k, const float* A, int64_t rs_a, int64_t cs_a, const float* B, int64_t ldb, float* C,
                 int64_t ldc, int64_t m, int64_t n, float alpha, float beta) {
    // Rows past m alias row 0 (valid memory; their results are never stored).
    const float* a[DMR];
    for (int i = 0; i < DMR; i++) a[i] = A + (i < m ? i : 0) * rs_a;
    // Lane masks for B's columns: lane j of half h is live when 8h + j < n.
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n - 8), lane);
    __m256 acc[DMR][2];  // loops over acc fully unrolled (see ukernel_avx2)
#pragma GCC unroll 4
    for (int i = 0; i < DMR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; p++, B += ldb) {
        const __m256 b0 = FULL ? _mm256_loadu_ps(B) : _mm256_maskload_ps(B, m0);
        const __m256 b1 = FULL ? _mm256_loadu_ps(B + 8) : _mm256_maskload_ps(B + 8, m1);
        const int64_t off = p * cs_a;
#pragma GCC unroll 4
        for (int i = 0; i < DMR; i++) {
            const __m256 av = _mm256_broadcast_ss(a[i] + off);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 4
    for (int i = 0; i < DMR; i++) {
        if (i >= m) break;
        float* c = C + i * ldc;
        __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
        if (FULL) {
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), r0);
                r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), r1);
            }
            _mm256_storeu_ps(c, r0);
            _mm256_storeu_ps(c + 8, r1);
        } else {
            alignas(32) float row[NR];
            _mm256_store_ps(row, r0);
            _mm256_store_ps(row + 8, r1);
            for (int64_t j = 0; j < n; j++) c[j] = beta != 0.0f ? std::fma(beta, c[j], row[j]) : row[j];  // as fmadd above
        }
    }
}

void direct_avx2(int64_t k, const float* A, int64_t rs_a, int64_t cs_a, const float* B, int64_t ldb, float* C,
                 int64_t ldc, int64_t m, int64_t n, float alpha, float beta) {
    if (n == NR)
        direct_tile<true>(k, A, rs_a, cs_a, B, ldb, C, ldc, m, n, alpha, beta);
    else
        direct_tile<false>(k, A, rs_a, cs_a, B, ldb, C, ldc, m, n, alpha, beta);
}

// Dot kernel (gemm_ukernel.h), DOT_MR = 4 rows × up to 2 columns per block: 8 accumulators + 4 A
// vectors + 1 B vector of the 16 ymm registers. Per 8 k steps: 4 + cols loads for 4·cols FMAs, all
// lanes live (the direct kernel spends 6 loads on 8 FMAs whose lanes past n are wasted). It re-reads
// A for every 2 columns, so it only pays for narrow C: measured against the direct kernel, 1 thread,
// K = 256: 4.3x at N = 1, 2.1x at N = 4, 1.3x at N = 6, 0.86-1.2x at N = 10, 0.7x at N = 16.
constexpr int DOT_MR = 4, DOT_MAX_COLS = 2, DOT_MAX_N = 6;

// Lane q of the result = the sum of v_q's 8 lanes.
inline __m128 sum4(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
    // per 128-bit half: [v0, v1, v2, v3] partial sums, then the two halves added
    const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

template <int COLS>
void dot_block(int64_t k, const float* const* a, const float* Bt, int64_t ldbt, float* C, int64_t ldc, int64_t m,
               float alpha, float beta) {
    __m256 acc[DOT_MR * COLS];  // DOT_MR * COLS is 4 or 8: whole sum4 groups
#pragma GCC unroll 8
    for (int q = 0; q < DOT_MR * COLS; q++) acc[q] = _mm256_setzero_ps();
    // One 8-float k step, its vectors read by load(pointer).
    auto step = [&](int64_t p, auto load) {
        __m256 av[DOT_MR];
#pragma GCC unroll 4
        for (int i = 0; i < DOT_MR; i++) av[i] = load(a[i] + p);
#pragma GCC unroll 2
        for (int j = 0; j < COLS; j++) {
            const __m256 bv = load(Bt + j * ldbt + p);
#pragma GCC unroll 4
            for (int i = 0; i < DOT_MR; i++) acc[i * COLS + j] = _mm256_fmadd_ps(av[i], bv, acc[i * COLS + j]);
        }
    };
    // plain loads while 8 values remain, then a masked step (masked-off lanes load zeros)
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) step(p, [](const float* x) { return _mm256_loadu_ps(x); });
    if (p < k) {
        const __m256i mk = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(k - p)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        step(p, [mk](const float* x) { return _mm256_maskload_ps(x, mk); });
    }
    alignas(16) float sums[DOT_MR * COLS];
#pragma GCC unroll 2
    for (int q = 0; q < DOT_MR * COLS; q += 4) _mm_store_ps(sums + q, sum4(acc[q], acc[q + 1], acc[q + 2], acc[q + 3]));
    for (int i = 0; i < DOT_MR && i < m; i++)
        for (int j = 0; j < COLS; j++) {
            float* c = C + i * ldc + j;
            *c = beta == 0.0f ? alpha * sums[i * COLS + j] : alpha * sums[i * COLS + j] + beta * *c;
        }
}

void dot_avx2(int64_t k, const float* A, int64_t lda, const float* Bt, int64_t ldbt, float* C, int64_t ldc, int64_t m,
              int64_t n, float alpha, float beta) {
    // Rows past m alias row 0 (valid memory; their results are never stored).
    const float* a[DOT_MR];
    for (int i = 0; i < DOT_MR; i++) a[i] = A + (i < m ? i : 0) * lda;
    for (int64_t j0 = 0; j0 < n; j0 += DOT_MAX_COLS) {
        if (n - j0 >= 2)
            dot_block<2>(k, a, Bt + j0 * ldbt, ldbt, C + j0, ldc, m, alpha, beta);
        else
            dot_block<1>(k, a, Bt + j0 * ldbt, ldbt, C + j0, ldc, m, alpha, beta);
    }
}
}  // namespace

const GemmKernelInfo gemm_kernel_avx2 = {"avx2-fma", MR,  NR,          144,    256,       4080,    false,
                                         ukernel_avx2, ukernel_rows_a_avx2, DMR, direct_avx2, DOT_MR, DOT_MAX_N, dot_avx2};

double fma_probe_avx2(double seconds) {
    // 12 independent ymm chains (latency 4-5 × up to 2 FMA ports), each starting at its own value.
    constexpr int R = 12;
    __m256 acc[R];
    for (int r = 0; r < R; r++) acc[r] = _mm256_set1_ps(0.001f * (r + 1));
    const __m256 mul = _mm256_set1_ps(0.9999999f), add = _mm256_set1_ps(1e-7f);
    int64_t iters = 0;
    auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    do {
        for (int it = 0; it < 4096; it++) {
#pragma GCC unroll 12
            for (int r = 0; r < R; r++) acc[r] = _mm256_fmadd_ps(acc[r], mul, add);
        }
        iters += 4096;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (elapsed < seconds);
    __m256 sum = acc[0];
    for (int r = 1; r < R; r++) sum = _mm256_add_ps(sum, acc[r]);
    alignas(32) float out[8];
    _mm256_store_ps(out, sum);
    volatile float keep = out[0];
    (void)keep;
    return 2.0 * 8.0 * R * (double)iters / elapsed * 1e-9;
}

}  // namespace fastnn
