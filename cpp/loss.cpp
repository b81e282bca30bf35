// loss.cpp — Keras's losses, forward (the weighted batch mean) and backward (its gradient with
// respect to y_pred), plus the fused softmax/sigmoid + cross-entropy backward for output layers.
// Per-sample loss l_i reduces over the C axis (mean for mse, mae and binary cross-entropy, sum for
// the categorical ones); the value is Σ_i w_i·l_i / N, Keras's "sum_over_batch_size".
// Clipping follows Keras 3 exactly: probabilities are clipped to [eps, 1 - eps] (and categorical
// ones renormalised first); where a value was clipped its gradient is zero, as in TF/Keras.
// Rows are independent, so threads split rows; the scalar sum is reduced per fixed row block and
// the blocks are added in order, so the value does not depend on the thread count.

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastnn.h"

namespace fastnn {

static inline float clip_prob(float p) { return std::min(std::max(p, kLossEpsilon), 1.0f - kLossEpsilon); }

// The per-sample loss of row i (y, t: the row's predictions and targets, length C).
static double sample_loss(const float* y, const float* t, int64_t label, index_t C, Loss loss,
                          bool from_logits) {
    double l = 0.0;
    switch (loss) {
        case Loss::MeanSquaredError:
            for (index_t j = 0; j < C; j++) l += (double)(y[j] - t[j]) * (double)(y[j] - t[j]);
            return l / (double)C;
        case Loss::MeanAbsoluteError:
            for (index_t j = 0; j < C; j++) l += std::fabs((double)y[j] - (double)t[j]);
            return l / (double)C;
        case Loss::BinaryCrossentropy:
            for (index_t j = 0; j < C; j++) {
                if (from_logits) {
                    // max(z, 0) - z·t + log(1 + e^{-|z|}): stable for any z
                    const double z = y[j];
                    l += std::max(z, 0.0) - z * t[j] + std::log1p(std::exp(-std::fabs(z)));
                } else {
                    const double p = clip_prob(y[j]);
                    l -= t[j] * std::log(p) + (1.0 - t[j]) * std::log(1.0 - p);
                }
            }
            return l / (double)C;
        case Loss::CategoricalCrossentropy:
        case Loss::SparseCategoricalCrossentropy: {
            const bool sparse = loss == Loss::SparseCategoricalCrossentropy;
            if (from_logits) {
                // -Σ t_j log softmax(z)_j = Σ t_j (logsumexp(z) - z_j)
                double mx = y[0];
                for (index_t j = 1; j < C; j++) mx = std::max(mx, (double)y[j]);
                double s = 0.0;
                for (index_t j = 0; j < C; j++) s += std::exp((double)y[j] - mx);
                const double lse = mx + std::log(s);
                if (sparse) return lse - y[label];
                for (index_t j = 0; j < C; j++) l += t[j] * (lse - y[j]);
                return l;
            }
            double s = 0.0;
            for (index_t j = 0; j < C; j++) s += y[j];
            if (sparse) return -std::log((double)clip_prob((float)(y[label] / s)));
            for (index_t j = 0; j < C; j++) l -= t[j] * std::log((double)clip_prob((float)(y[j] / s)));
            return l;
        }
    }
    return 0.0;
}

double loss_forward(const float* y_pred, const float* y_true, const int64_t* labels,
                    const float* sample_weight, index_t N, index_t C, Loss loss, bool from_logits) {
    // y_pred, y_true (N, C); labels, sample_weight (N,)
    const bool sparse = loss == Loss::SparseCategoricalCrossentropy;
    const index_t block = 256;
    const index_t blocks = (N + block - 1) / block;
    std::vector<double> partial((size_t)blocks, 0.0);
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * C >= kParallelMinElements)
#endif
    for (index_t b = 0; b < blocks; b++) {
        double acc = 0.0;
        for (index_t i = b * block; i < std::min(N, (b + 1) * block); i++) {
            const double w = sample_weight ? sample_weight[i] : 1.0;
            if (w == 0.0) continue;  // a zero weight masks the sample, even a NaN loss
            acc += w * sample_loss(y_pred + i * C, sparse ? nullptr : y_true + i * C,
                                   sparse ? labels[i] : 0, C, loss, from_logits);
        }
        partial[(size_t)b] = acc;
    }
    double total = 0.0;
    for (double p : partial) total += p;
    return total / (double)N;
}

void loss_backward(float* dy_pred, const float* y_pred, const float* y_true, const int64_t* labels,
                   const float* sample_weight, index_t N, index_t C, Loss loss, bool from_logits) {
    // dy_pred, y_pred, y_true (N, C); labels, sample_weight (N,)
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * C >= kParallelMinElements)
#endif
    for (index_t i = 0; i < N; i++) {
        const float* y = y_pred + i * C;  // seek to row i
        const float* t = y_true ? y_true + i * C : nullptr;
        float* d = dy_pred + i * C;
        const float w = (sample_weight ? sample_weight[i] : 1.0f) / (float)N;
        switch (loss) {
            case Loss::MeanSquaredError:
                for (index_t j = 0; j < C; j++) d[j] = w * 2.0f * (y[j] - t[j]) / (float)C;
                break;
            case Loss::MeanAbsoluteError:
                for (index_t j = 0; j < C; j++) {
                    const float diff = y[j] - t[j];
                    const float sign = diff > 0.0f ? 1.0f : diff < 0.0f ? -1.0f : diff;  // NaN stays NaN
                    d[j] = w * sign / (float)C;
                }
                break;
            case Loss::BinaryCrossentropy:
                for (index_t j = 0; j < C; j++) {
                    if (from_logits) {
                        d[j] = w * (1.0f / (1.0f + std::exp(-y[j])) - t[j]) / (float)C;
                    } else {
                        const float p = y[j];
                        const bool clipped = p < kLossEpsilon || p > 1.0f - kLossEpsilon;
                        d[j] = clipped ? 0.0f : w * (p - t[j]) / (p * (1.0f - p)) / (float)C;
                    }
                }
                break;
            case Loss::CategoricalCrossentropy:
            case Loss::SparseCategoricalCrossentropy: {
                const bool sparse = loss == Loss::SparseCategoricalCrossentropy;
                auto target = [&](index_t j) { return sparse ? (j == labels[i] ? 1.0f : 0.0f) : t[j]; };
                if (from_logits) {
                    // d/dz = softmax(z)·Σt - t
                    float mx = y[0];
                    for (index_t j = 1; j < C; j++) mx = std::max(mx, y[j]);
                    double s = 0.0;
                    for (index_t j = 0; j < C; j++) s += std::exp((double)(y[j] - mx));
                    float tsum = 0.0f;
                    for (index_t j = 0; j < C; j++) tsum += target(j);
                    for (index_t j = 0; j < C; j++)
                        d[j] = w * ((float)(std::exp((double)(y[j] - mx)) / s) * tsum - target(j));
                    break;
                }
                // q = p / Σp, clipped; l = -Σ t_c log q_c. With g_c = -t_c / q_c where q_c was not
                // clipped (else 0): dl/dp_j = (g_j - Σ_c g_c q_c) / Σp, and g_c q_c = -t_c.
                double s = 0.0;
                for (index_t j = 0; j < C; j++) s += y[j];
                const float inv_s = (float)(1.0 / s);
                float gq = 0.0f;
                for (index_t j = 0; j < C; j++) {
                    const float q = y[j] * inv_s;
                    if (q >= kLossEpsilon && q <= 1.0f - kLossEpsilon) gq -= target(j);
                }
                for (index_t j = 0; j < C; j++) {
                    const float q = y[j] * inv_s;
                    const bool clipped = q < kLossEpsilon || q > 1.0f - kLossEpsilon;
                    const float g = clipped ? 0.0f : -target(j) / q;
                    d[j] = w * (g - gq) * inv_s;
                }
                break;
            }
        }
    }
}

void crossentropy_logits_backward(float* dz, const float* probs, const float* y_true,
                                  const int64_t* labels, const float* sample_weight, index_t N,
                                  index_t C, bool sigmoid) {
    // dz, probs, y_true (N, C); labels, sample_weight (N,)
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * C >= kParallelMinElements)
#endif
    for (index_t i = 0; i < N; i++) {
        const float* p = probs + i * C;
        float* d = dz + i * C;
        const float w = (sample_weight ? sample_weight[i] : 1.0f) / (float)N;
        if (sigmoid) {
            const float* t = y_true + i * C;
            for (index_t j = 0; j < C; j++) d[j] = w * (p[j] - t[j]) / (float)C;
        } else if (labels) {
            for (index_t j = 0; j < C; j++) d[j] = w * p[j];
            d[labels[i]] -= w;
        } else {
            const float* t = y_true + i * C;
            float tsum = 0.0f;
            for (index_t j = 0; j < C; j++) tsum += t[j];
            for (index_t j = 0; j < C; j++) d[j] = w * (p[j] * tsum - t[j]);
        }
    }
}

}  // namespace fastnn
