// attention.cpp — scaled dot-product attention over heads, the forward of MultiHeadAttention's
// inference call, in one pass per (sample, head): scores = q·kᵀ in scratch, masked, softmax, then
// out = probs·v written straight into the output's columns of that head. The projections' layout
// (rows, heads·dim) is read in place with its row stride, so no head transposes, and the scores
// never leave the thread's cache. Each item runs the same packed kernels as sgemm_batched, on one
// thread, so the result equals the per-head products' (and does not depend on the thread count).
// What this file does not do: the backward (the layer keeps the per-head path for training),
// dropout on the probabilities, returning the scores.

#include <algorithm>

#include "fastnn.h"

namespace fastnn {

namespace {
constexpr float kLargeNegative = -1e9f;  // Keras's Softmax: masked scores are replaced by it
constexpr double kParallelMinWork = 1 << 19;
}  // namespace

void attention_forward(float* out, const float* q, const float* k, const float* v, const uint8_t* keep,
                       index_t B, index_t T, index_t S, index_t H, index_t dk, index_t dv, index_t keep_heads,
                       bool zero_masked) {
    // q (B, T, H·dk), k (B, S, H·dk), v (B, S, H·dv) -> out (B, T, H·dv); keep (B, keep_heads, T, S)
    // with keep_heads 1 or H (1 = attend), or null. T, S, dk, dv >= 1 (checked by the binding).
    const index_t items = B * H;
    if (items == 0) return;
    const double work = (double)items * (double)T * (double)S * (double)(dk + dv);
    const int threads = work < kParallelMinWork ? 1 : (int)std::min<index_t>(num_threads(), items);
    const index_t b_floats = std::max(sgemm_packed_b_floats(dk, S), sgemm_packed_b_floats(S, dv));
    const index_t a_floats = std::max(sgemm_packed_a_floats(T, dk), sgemm_packed_a_floats(T, S));
    const index_t per_thread = b_floats + a_floats + T * S;
    float* scratch = thread_scratch(0, (size_t)(threads * per_thread));  // (before the parallel region)
    run_threads(threads, [&](int t) {
        index_t i0, i1;
        split_range(items, threads, t, &i0, &i1);
        float* b_panels = scratch + t * per_thread;
        float* a_panels = b_panels + b_floats;
        float* scores = a_panels + a_floats;  // (T, S)
        for (index_t i = i0; i < i1; i++) {
            const index_t b = i / H, h = i % H;
            const float* qi = q + b * T * H * dk + h * dk;  // (T, dk), row stride H·dk
            const float* ki = k + b * S * H * dk + h * dk;  // (S, dk)
            const float* vi = v + b * S * H * dv + h * dv;  // (S, dv)
            const PackedB kt = sgemm_pack_b(b_panels, ki, H * dk, true, dk, S);
            sgemm_packed_b(scores, S, qi, H * dk, false, kt, T, 1.0f, 0.0f, a_panels);
            const uint8_t* m = keep ? keep + (b * keep_heads + (keep_heads == 1 ? 0 : h)) * T * S : nullptr;
            if (m)
                for (index_t j = 0; j < T * S; j++) scores[j] = m[j] ? scores[j] : kLargeNegative;
            activation_forward(scores, scores, T, S, Act::Softmax, 0.0f);  // (serial: inside run_threads)
            if (m && zero_masked)  // (Keras's explicit path: a fully masked row attends to nothing)
                for (index_t j = 0; j < T * S; j++) scores[j] = m[j] ? scores[j] : 0.0f;
            const PackedB vp = sgemm_pack_b(b_panels, vi, H * dv, false, S, dv);
            sgemm_packed_b(out + b * T * H * dv + h * dv, H * dv, scores, S, false, vp, T, 1.0f, 0.0f, a_panels);
        }
    });
}

}  // namespace fastnn
