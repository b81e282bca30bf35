// norm.cpp — batch normalisation over every axis but the last (Keras axis=-1), and layer
// normalisation over the last axis, forward and backward. x is seen as (N, C): N rows = batch × every spatial position, C channels.
// Statistics: per-channel sums in DOUBLE of values shifted by the channel's first row, so data
// with a large offset (pixels 0..255, a mean of 1e4) keeps its variance exact to float precision
// without a second pass over x; x - mean uses the mean as a float plus a float remainder, so the
// deviations keep that precision too. Sums run over fixed (row block × channel block) tiles, each tile
// writing its own partial row, and the partials are added in block order: results do not depend
// on the thread count. Parameter gradients (dgamma, dbeta) accumulate. What this file does not
// do: other axes (a layer transposes), masks, synchronised statistics, float16.

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastnn.h"

namespace fastnn {

namespace {

constexpr index_t kRowBlock = 64;     // rows per partial sum
constexpr index_t kChanBlock = 1024;  // channels per task: large C with few rows still splits

#define R FASTNN_RESTRICT

// s1[c] += Σ_rows (x - shift)[c], s2[c] += Σ_rows (x - shift)²[c] over rows [r0, r1), channels [c0, c1).
FASTNN_ELEMENTWISE static void shifted_sums(double* R s1, double* R s2, const float* R x, const float* R shift,
                         index_t r0, index_t r1, index_t c0, index_t c1, index_t C) {
    for (index_t r = r0; r < r1; r++) {
        const float* row = x + r * C;  // seek to row r
        for (index_t c = c0; c < c1; c++) {
            const double d = (double)row[c] - (double)shift[c];
            s1[c] += d;
            s2[c] += d * d;
        }
    }
}

// s1[c] += Σ dy, s2[c] += Σ dy·(x - mean), s3[c] += Σ (x - mean) over rows [r0, r1), channels [c0, c1).
FASTNN_ELEMENTWISE static void grad_sums(double* R s1, double* R s2, double* R s3, const float* R dy, const float* R x,
                      const float* R mean, index_t r0, index_t r1, index_t c0, index_t c1, index_t C) {
    for (index_t r = r0; r < r1; r++) {
        const float* dyr = dy + r * C;
        const float* xr = x + r * C;
        for (index_t c = c0; c < c1; c++) {
            const double d = (double)xr[c] - (double)mean[c];
            s1[c] += (double)dyr[c];
            s2[c] += (double)dyr[c] * d;
            s3[c] += d;
        }
    }
}

// One row of the forward: y = ((x - mean) - rem)·scale + shift. The batch mean is the float mean
// plus the float remainder rem: x - mean is exact near the mean, so a channel with a large offset
// (1e4 + small values) keeps its deviations, which x - (float)mean would round away.
FASTNN_ELEMENTWISE static void forward_row(float* R y, const float* R x, const float* R mean, const float* R rem,
                        const float* R scale, const float* R shift, index_t C) {
    for (index_t c = 0; c < C; c++) y[c] = ((x[c] - mean[c]) - rem[c]) * scale[c] + shift[c];
}

// One row of the backward through the statistics: dx = is·(a·dy - b - ((x - mean) - rem)·k), with
// is = inv_std, a = gamma, b of dy's scale and k of inv_std's (a coefficient of inv_std² would leave
// float's range for a standard deviation beyond ~1e19).
FASTNN_ELEMENTWISE static void backward_row(float* R dx, const float* R dy, const float* R x, const float* R mean,
                                            const float* R rem, const float* R is, const float* R a,
                                            const float* R b, const float* R k, index_t C) {
    for (index_t c = 0; c < C; c++) dx[c] = is[c] * (a[c] * dy[c] - b[c] - ((x[c] - mean[c]) - rem[c]) * k[c]);
}

// Inference (the statistics constant): dx = a·dy, without reading x (a NaN there must not leak in).
FASTNN_ELEMENTWISE static void backward_row_inference(float* R dx, const float* R dy, const float* R a, index_t C) {
    for (index_t c = 0; c < C; c++) dx[c] = a[c] * dy[c];
}

#undef R

// The partial rows of `rblocks` row blocks, P[b] = [s_0 (C) | ... | s_{K-1} (C)], added in block order
// (a result independent of the thread count), channels split among threads: out(c, s) with
// s[k] = Σ_b s_k[c].
template <int K, class Out>
void add_blocks_in_order(const double* P, index_t rblocks, index_t C, Out out) {
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rblocks * C >= kParallelMinElements)
#endif
    for (index_t c = 0; c < C; c++) {
        double s[K] = {};
        for (index_t b = 0; b < rblocks; b++)
            for (int k = 0; k < K; k++) s[k] += P[(b * K + k) * C + c];
        out(c, s);
    }
}

// K per-channel sums over all N rows: sums (K, C) = Σ over row blocks of the tile sums that
// `tile(part, r0, r1, c0, c1)` adds into zeroed partial rows part (K, C), blocks added in order.
template <int K, class Tile>
void channel_sums(double* sums, index_t N, index_t C, Tile tile) {
    const index_t rblocks = std::max<index_t>(1, (N + kRowBlock - 1) / kRowBlock);
    const index_t cblocks = (C + kChanBlock - 1) / kChanBlock;
    std::vector<double> partial((size_t)(rblocks * K * C), 0.0);  // row block b: [s_0 (C) | ... | s_{K-1} (C)]
    double* P = partial.data();
    const index_t tasks = rblocks * cblocks;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * C >= kParallelMinElements)
#endif
    for (index_t t = 0; t < tasks; t++) {
        const index_t b = t / cblocks, cb = t % cblocks;
        const index_t r0 = b * kRowBlock, r1 = std::min(N, r0 + kRowBlock);
        const index_t c0 = cb * kChanBlock, c1 = std::min(C, c0 + kChanBlock);
        tile(P + b * K * C, r0, r1, c0, c1);
    }
    add_blocks_in_order<K>(P, rblocks, C, [=](index_t c, const double* s) {
        for (int k = 0; k < K; k++) sums[k * C + c] = s[k];
    });
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void batchnorm_forward(float* y, float* mean, float* inv_std, float* moving_mean, float* moving_var,
                       const float* x, const float* gamma, const float* beta, index_t N, index_t C,
                       bool training, float momentum, float epsilon) {
    // x, y (N, C); gamma, beta (C,) or nullptr; mean, inv_std, moving_mean, moving_var (C,)
    std::vector<float> scale((size_t)C), shift((size_t)C), rem((size_t)C, 0.0f);
    if (training) {
        std::vector<double> sums((size_t)(2 * C));
        const double *s1 = sums.data(), *s2 = s1 + C;
        const float* first = x;  // row 0 is each channel's shift (N >= 1, checked by the binding)
        channel_sums<2>(sums.data(), N, C, [=](double* part, index_t r0, index_t r1, index_t c0, index_t c1) {
            shifted_sums(part, part + C, x, first, r0, r1, c0, c1, C);
        });
        for (index_t c = 0; c < C; c++) {
            const double d = s1[c] / (double)N;  // mean - shift
            // biased, as ops.moments; clamped at 0 against rounding, with the NaN of a non-finite batch kept
            // (std::max(0.0, NaN) is 0.0: it made inv_std 1/sqrt(epsilon) and moving_var finite)
            const double var = std::max(s2[c] / (double)N - d * d, 0.0);
            const double m = (double)first[c] + d;
            mean[c] = (float)m;
            rem[(size_t)c] = (float)(m - (double)mean[c]);
            inv_std[c] = (float)(1.0 / std::sqrt(var + (double)epsilon));
            // Keras 3: moving = moving·momentum + batch·(1 - momentum), in float32
            moving_mean[c] = moving_mean[c] * momentum + mean[c] * (1.0f - momentum);
            moving_var[c] = moving_var[c] * momentum + (float)var * (1.0f - momentum);
        }
    } else {
        for (index_t c = 0; c < C; c++) {
            mean[c] = moving_mean[c];
            inv_std[c] = (float)(1.0 / std::sqrt((double)moving_var[c] + (double)epsilon));
        }
    }
    // y = (x - mean)·(gamma·inv_std) + beta: subtracting first keeps large offsets exact
    for (index_t c = 0; c < C; c++) {
        scale[(size_t)c] = gamma ? gamma[c] * inv_std[c] : inv_std[c];
        shift[(size_t)c] = beta ? beta[c] : 0.0f;
    }
    const float *S = scale.data(), *B = shift.data(), *M = rem.data();
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * C >= kParallelMinElements)
#endif
    for (index_t r = 0; r < N; r++) forward_row(y + r * C, x + r * C, mean, M, S, B, C);  // row r
}

void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* gamma, const float* mean, const float* inv_std, index_t N,
                        index_t C, bool training) {
    // dy, x, dx (N, C); gamma (C,) or nullptr; mean, inv_std, dgamma, dbeta (C,)
    // With xhat = (x - mean)·inv_std: dbeta = Σ dy, dgamma = Σ dy·xhat. Training (mean and
    // inv_std functions of x): dx = gamma·inv_std·(dy - dbeta/N - xhat·dgamma/N).
    // Inference (statistics constant): dx = gamma·inv_std·dy.
    // Training: the batch mean is the float mean given (the forward's, rounded) plus the remainder
    // rem = mean(x - mean), from sums in double of exact deviations, so a channel with a large offset
    // keeps its deviations x - mean - rem (the forward's).
    const bool need_sums = dgamma || dbeta || (dx && training);
    std::vector<double> sums((size_t)(3 * C), 0.0);
    double *s1 = sums.data(), *s2 = s1 + C;
    const double* s3 = s2 + C;
    if (need_sums && N > 0)
        channel_sums<3>(sums.data(), N, C, [=](double* part, index_t r0, index_t r1, index_t c0, index_t c1) {
            grad_sums(part, part + C, part + 2 * C, dy, x, mean, r0, r1, c0, c1, C);
        });
    std::vector<float> rem((size_t)C, 0.0f);
    for (index_t c = 0; c < C; c++) {
        if (training && N > 0) {
            const double m = s3[c] / (double)N;
            rem[(size_t)c] = (float)m;
            s2[c] -= m * s1[c];  // Σ dy·(x - mean - rem)
        }
        if (dbeta) dbeta[c] += (float)s1[c];
        if (dgamma) dgamma[c] += (float)(s2[c] * (double)inv_std[c]);
    }
    if (!dx) return;
    std::vector<float> a((size_t)C), b((size_t)C), k((size_t)C);
    for (index_t c = 0; c < C; c++) {  // dx = inv_std·gamma·(dy - dbeta/N - xhat·dgamma/N)
        const double g = gamma ? gamma[c] : 1.0, is = inv_std[c];
        a[(size_t)c] = training ? (float)g : (float)(g * is);  // (inference: dx = a·dy)
        b[(size_t)c] = training ? (float)(g * s1[c] / (double)N) : 0.0f;
        k[(size_t)c] = training ? (float)(g * s2[c] * is * is / (double)N) : 0.0f;
    }
    const float *A = a.data(), *B = b.data(), *K = k.data(), *M = rem.data();
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * C >= kParallelMinElements)
#endif
    for (index_t r = 0; r < N; r++) {
        if (training)
            backward_row(dx + r * C, dy + r * C, x + r * C, mean, M, inv_std, A, B, K, C);
        else
            backward_row_inference(dx + r * C, dy + r * C, A, C);
    }
}

// ---------------------------------------------------------------------------------------------
// Layer normalisation over the last axis: each row of x (R, C) by its own mean and biased variance
// (two passes in double: the mean, then the squared deviations), the rows split among threads. The
// row sums keep kLanes partial sums combined in a fixed order, so they vectorise without
// -ffast-math (one in-order sum is a single dependency chain) and a row's result is the same on
// any thread.

namespace {

constexpr int kLanes = 16;

// The sum of f(c) over c in [0, C), kLanes partial sums of type T (double for the forward's
// statistics; float for the backward's sums of deviations and gradients, half the vector work).
template <class T = double, class F>
FASTNN_INLINE double lane_sum(index_t C, F f) {
    const index_t full = C / kLanes * kLanes;
    T s[kLanes] = {};
    for (index_t j = 0; j < full; j += kLanes)
        for (int k = 0; k < kLanes; k++) s[k] += f(j + k);
    double sum = 0.0;
    for (int k = 0; k < kLanes; k++) sum += (double)s[k];
    for (index_t j = full; j < C; j++) sum += f(j);
    return sum;
}

FASTNN_ELEMENTWISE void layernorm_row(float* FASTNN_RESTRICT y, float* mean, float* inv_std,
                                      const float* FASTNN_RESTRICT x, const float* gamma, const float* beta,
                                      index_t C, float epsilon) {
    const double m = lane_sum(C, [=](index_t c) { return (double)x[c]; }) / (double)C;
    const double var = lane_sum(C, [=](index_t c) {
        const double d = (double)x[c] - m;
        return d * d;
    }) / (double)C;
    // the mean as float mf plus the float remainder ml: (x - mf) is exact near the mean, so a row with
    // a large offset (1e4 + small values) keeps its deviations, which x - (float)mean would round away
    const float mf = (float)m, ml = (float)(m - (double)mf), is = (float)(1.0 / std::sqrt(var + (double)epsilon));
    *mean = mf;
    *inv_std = is;
    if (gamma && beta)
        for (index_t c = 0; c < C; c++) y[c] = ((x[c] - mf) - ml) * is * gamma[c] + beta[c];
    else if (gamma)
        for (index_t c = 0; c < C; c++) y[c] = ((x[c] - mf) - ml) * is * gamma[c];
    else if (beta)
        for (index_t c = 0; c < C; c++) y[c] = ((x[c] - mf) - ml) * is + beta[c];
    else
        for (index_t c = 0; c < C; c++) y[c] = ((x[c] - mf) - ml) * is;
}

// One row of the backward. The row's deviations x - mean are rebuilt exactly from the float mean
// given (the forward's, rounded) plus the double mean of x - mean (its rounding error: 5e-4 at 1e4).
// With g = dy·gamma and xhat = (x - mean)·inv_std:
// dx = inv_std·(g - mean(g) - xhat·mean(g·xhat)) (skipped when dx is null); s1 += dy, s2 += dy·xhat
// (the parameter gradients' sums, in double; skipped when s1 is null). The row is read once from
// memory: its second pass finds it in L1.
template <bool GAMMA>  // (a branch on gamma inside the row's loops kept them from vectorising)
FASTNN_ELEMENTWISE void layernorm_backward_row(float* FASTNN_RESTRICT dx, double* FASTNN_RESTRICT s1,
                                               double* FASTNN_RESTRICT s2, const float* FASTNN_RESTRICT dy,
                                               const float* FASTNN_RESTRICT x, const float* gamma, float m,
                                               float is, index_t C) {
    // (x - m is exact near the mean: the float sums of these deviations lose nothing that matters)
    const float ml = (float)(lane_sum<float>(C, [=](index_t c) { return x[c] - m; }) / (double)C);
    auto xhat = [=](index_t c) { return ((x[c] - m) - ml) * is; };
    if (dx) {
        auto g = [=](index_t c) {
            if constexpr (GAMMA)
                return dy[c] * gamma[c];
            else
                return dy[c];
        };
        const float mg = (float)(lane_sum<float>(C, g) / (double)C);
        const float mgx = (float)(lane_sum<float>(C, [=](index_t c) { return g(c) * xhat(c); }) / (double)C);
        for (index_t c = 0; c < C; c++) dx[c] = is * (g(c) - mg - xhat(c) * mgx);
    }
    if (s1)
        for (index_t c = 0; c < C; c++) {
            s1[c] += (double)dy[c];
            s2[c] += (double)(dy[c] * xhat(c));
        }
}

}  // namespace

void layernorm_forward(float* y, float* mean, float* inv_std, const float* x, const float* gamma,
                       const float* beta, index_t R, index_t C, float epsilon) {
    // x, y (R, C) with C >= 1 (checked by the binding); gamma, beta (C,) or nullptr; mean, inv_std (R,)
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (R * C >= kParallelMinElements)
#endif
    for (index_t r = 0; r < R; r++) layernorm_row(y + r * C, mean + r, inv_std + r, x + r * C, gamma, beta, C, epsilon);
}

void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* gamma, const float* mean, const float* inv_std, index_t R, index_t C) {
    // dy, x, dx (R, C); gamma, dgamma, dbeta (C,); mean, inv_std (R,)
    // One pass over fixed blocks of kRowBlock rows: each block writes its rows of dx and its own partial
    // parameter sums (dbeta = Σ dy, dgamma = Σ dy·xhat), then the blocks are added in order, so the
    // parameter gradients do not depend on the thread count.
    const bool sums = dgamma || dbeta;
    if (R == 0 || (!dx && !sums)) return;
    const index_t rblocks = (R + kRowBlock - 1) / kRowBlock;
    std::vector<double> partial(sums ? (size_t)(rblocks * 2 * C) : 0, 0.0);  // block b: [s1 (C) | s2 (C)]
    double* P = partial.data();
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (R * C >= kParallelMinElements)
#endif
    for (index_t b = 0; b < rblocks; b++) {
        double* s1 = sums ? P + b * 2 * C : nullptr;
        double* s2 = sums ? s1 + C : nullptr;
        for (index_t r = b * kRowBlock; r < std::min(R, (b + 1) * kRowBlock); r++)  // row r
            (gamma ? layernorm_backward_row<true> : layernorm_backward_row<false>)(
                dx ? dx + r * C : nullptr, s1, s2, dy + r * C, x + r * C, gamma, mean[r], inv_std[r], C);
    }
    if (sums)
        add_blocks_in_order<2>(P, rblocks, C, [=](index_t c, const double* s) {
            if (dbeta) dbeta[c] += (float)s[0];
            if (dgamma) dgamma[c] += (float)s[1];
        });
}

// ---------------------------------------------------------------------------------------------
// Group normalisation, channels last: sample n of x (N, P, C) (P positions) is normalised per group
// of C/G adjacent channels, by the mean and biased variance of the group over all P positions. A
// sample's per-channel sums are BatchNorm's over its P rows (shifted by its first row; deviations
// from the mean as float + remainder), combined per group. Samples are split among threads in
// fixed blocks whose parameter-gradient partial sums are added in order.

namespace {

// Samples per block: at least kRowBlock rows, so tiny samples (P = 1) do not get a partial each.
index_t sample_block(index_t P) { return std::max<index_t>(1, kRowBlock / std::max<index_t>(P, 1)); }
index_t sample_blocks(index_t N, index_t P) { return (N + sample_block(P) - 1) / sample_block(P); }

// Per-thread (C,) rows: the per-channel statistics and coefficients of one sample.
struct GroupScratch {
    std::vector<double> s;       // (3, C) sums
    std::vector<float> m, r, is, a, b, k;
    explicit GroupScratch(index_t C)
        : s((size_t)(3 * C)), m((size_t)C), r((size_t)C), is((size_t)C), a((size_t)C), b((size_t)C), k((size_t)C) {}
};

void groupnorm_sample_forward(float* y, float* mean, float* inv_std, const float* x, const float* gamma,
                              const float* beta, index_t P, index_t C, index_t G, float epsilon, GroupScratch& w) {
    // y, x (P, C); mean, inv_std (G,)
    double *s1 = w.s.data(), *s2 = s1 + C;
    std::fill(s1, s1 + 2 * C, 0.0);
    shifted_sums(s1, s2, x, x, 0, P, 0, C, C);  // shifted by the sample's first row
    const index_t Cg = C / G;
    const double count = (double)P * (double)Cg;
    for (index_t g = 0; g < G; g++) {
        const index_t c0 = g * Cg, c1 = c0 + Cg;
        double sum = 0.0;
        for (index_t c = c0; c < c1; c++) sum += (double)P * (double)x[c] + s1[c];
        const double m = sum / count;
        double sq = 0.0;  // Σ (x - m)² = Σ_c s2 + 2·d·s1 + P·d², d = shift - m
        for (index_t c = c0; c < c1; c++) {
            const double d = (double)x[c] - m;
            sq += s2[c] + 2.0 * d * s1[c] + (double)P * d * d;
        }
        const double var = std::max(sq / count, 0.0);  // (NaN kept: std::max(x, 0.0) returns x's NaN)
        const float mf = (float)m, ml = (float)(m - (double)mf), is = (float)(1.0 / std::sqrt(var + (double)epsilon));
        mean[g] = mf;
        inv_std[g] = is;
        for (index_t c = c0; c < c1; c++) {
            w.m[(size_t)c] = mf;
            w.r[(size_t)c] = ml;
            w.a[(size_t)c] = gamma ? gamma[c] * is : is;
            w.b[(size_t)c] = beta ? beta[c] : 0.0f;
        }
    }
    for (index_t p = 0; p < P; p++) forward_row(y + p * C, x + p * C, w.m.data(), w.r.data(), w.a.data(), w.b.data(), C);
}

// part (2, C) += [Σ dy | Σ dy·xhat] of sample n; dx (P, C) when not null.
void groupnorm_sample_backward(float* dx, double* part, const float* dy, const float* x, const float* gamma,
                               const float* mean, const float* inv_std, index_t P, index_t C, index_t G,
                               GroupScratch& w) {
    double *s1 = w.s.data(), *s2 = s1 + C, *s3 = s2 + C;
    std::fill(s1, s1 + 3 * C, 0.0);
    const index_t Cg = C / G;
    for (index_t c = 0; c < C; c++) w.m[(size_t)c] = mean[c / Cg];
    grad_sums(s1, s2, s3, dy, x, w.m.data(), 0, P, 0, C, C);
    const double count = (double)P * (double)Cg;
    for (index_t g = 0; g < G; g++) {
        const index_t c0 = g * Cg, c1 = c0 + Cg;
        double rem = 0.0;  // the group's mean less the float mean given: deviations x - mean - rem are exact
        for (index_t c = c0; c < c1; c++) rem += s3[c];
        rem /= count;
        const double is = inv_std[g];
        double mg = 0.0, mgx = 0.0;  // means of gamma·dy and gamma·dy·xhat over the group
        for (index_t c = c0; c < c1; c++) {
            const double gc = gamma ? gamma[c] : 1.0, dev_dy = s2[c] - rem * s1[c];  // Σ dy·(x - m)
            part[c] += s1[c];
            part[C + c] += dev_dy * is;
            mg += gc * s1[c];
            mgx += gc * dev_dy * is;
        }
        mg /= count;
        mgx /= count;
        // dx = is·(gamma·dy - mg - xhat·mgx), xhat = (x - mean - rem)·is
        for (index_t c = c0; c < c1; c++) {
            w.r[(size_t)c] = (float)rem;
            w.is[(size_t)c] = (float)is;
            w.a[(size_t)c] = gamma ? gamma[c] : 1.0f;
            w.b[(size_t)c] = (float)mg;
            w.k[(size_t)c] = (float)(is * mgx);
        }
    }
    if (dx)
        for (index_t p = 0; p < P; p++)
            backward_row(dx + p * C, dy + p * C, x + p * C, w.m.data(), w.r.data(), w.is.data(), w.a.data(),
                         w.b.data(), w.k.data(), C);
}

// fn(w, b, n) for each sample n of N (P positions, C channels), in fixed blocks b of sample_block(P)
// samples split among threads, each thread with its own scratch w.
template <class Fn>
void for_each_sample(index_t N, index_t P, index_t C, Fn fn) {
    const index_t per = sample_block(P), blocks = sample_blocks(N, P);
#ifdef FASTNN_OPENMP
#pragma omp parallel num_threads(num_threads()) if (N * P * C >= kParallelMinElements && blocks > 1)
#endif
    {
        GroupScratch w(C);
#ifdef FASTNN_OPENMP
#pragma omp for schedule(static)
#endif
        for (index_t b = 0; b < blocks; b++)
            for (index_t n = b * per; n < std::min(N, (b + 1) * per); n++) fn(w, b, n);
    }
}

}  // namespace

void groupnorm_forward(float* y, float* mean, float* inv_std, const float* x, const float* gamma,
                       const float* beta, index_t N, index_t P, index_t C, index_t G, float epsilon) {
    // x, y (N, P, C), P >= 1, G >= 1 divides C (checked by the binding); mean, inv_std (N, G)
    for_each_sample(N, P, C, [&](GroupScratch& w, index_t, index_t n) {
        groupnorm_sample_forward(y + n * P * C, mean + n * G, inv_std + n * G, x + n * P * C, gamma, beta, P, C, G,
                                 epsilon, w);
    });
}

void groupnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* gamma, const float* mean, const float* inv_std, index_t N, index_t P,
                        index_t C, index_t G) {
    // dy, x, dx (N, P, C); gamma, dgamma, dbeta (C,); mean, inv_std (N, G)
    const bool sums = dgamma || dbeta;
    if (N == 0 || (!dx && !sums)) return;
    const index_t blocks = sample_blocks(N, P);
    std::vector<double> partial((size_t)(blocks * 2 * C), 0.0);  // block b: [Σ dy (C) | Σ dy·xhat (C)]
    double* PS = partial.data();
    for_each_sample(N, P, C, [&](GroupScratch& w, index_t b, index_t n) {
        groupnorm_sample_backward(dx ? dx + n * P * C : nullptr, PS + b * 2 * C, dy + n * P * C, x + n * P * C, gamma,
                                  mean + n * G, inv_std + n * G, P, C, G, w);
    });
    if (sums)
        add_blocks_in_order<2>(PS, blocks, C, [=](index_t c, const double* s) {
            if (dbeta) dbeta[c] += (float)s[0];
            if (dgamma) dgamma[c] += (float)s[1];
        });
}

}  // namespace fastnn
