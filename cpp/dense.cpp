// dense.cpp — the fully connected layer, forward and backward, on top of the one sgemm.
// Forward: y = act(x·w + b) in ONE pass over y: bias and activation run in the GEMM's epilogue
// on each micro-tile while it is in L1 (softmax, a per-row operation, runs after the GEMM).
// Backward: dz = dy ⊙ act'(y); dw = xᵀ·dz; db = Σ_rows dz; dx = dz·wᵀ, all overwritten. What this file does not do: sparse inputs, per-sample weights (the loss does).

#include <algorithm>

#include "fastnn.h"

namespace fastnn {

void dense_forward(float* y, const float* x, const float* w, const float* b, index_t N, index_t C,
                   index_t OC, Act act, float alpha) {
    // y (N, OC) = act(x (N, C) · w (C, OC) + b (OC,))
    Epilogue ep;
    ep.bias = b;
    ep.act = act == Act::Softmax ? Act::Linear : act;
    ep.alpha = alpha;
    const bool fused = ep.bias != nullptr || ep.act != Act::Linear;
    sgemm(y, OC, x, C, false, w, OC, false, N, OC, C, 1.0f, 0.0f, fused ? &ep : nullptr);
    if (act == Act::Softmax) activation_forward(y, y, N, OC, Act::Softmax, alpha);
}

// db (OC,) = column sums of dz (N, OC). Rows are summed in order, one column block per thread,
// so the result does not depend on the thread count.
static void bias_grad(float* db, const float* dz, index_t N, index_t OC) {
    const index_t block = 64;
    const index_t blocks = (OC + block - 1) / block;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * OC >= kParallelMinElements)
#endif
    for (index_t t = 0; t < blocks; t++) {
        const index_t j0 = t * block, j1 = std::min(OC, j0 + block);
        column_sums(db + j0, dz + j0, N, OC, j1 - j0);
    }
}

void dense_backward(float* dx, float* dw, float* db, float* dz, const float* dy, const float* y,
                    const float* x, const float* w, index_t N, index_t C, index_t OC, Act act,
                    float alpha) {
    // dy, y, dz (N, OC); x, dx (N, C); w, dw (C, OC); db (OC,)
    const float* g = dy;
    if (act != Act::Linear) {
        activation_backward(dz, dy, y, N, OC, act, alpha);
        g = dz;
    }
    // dw (C, OC) = xᵀ (C × N) · dz (N × OC): the batch is the GEMM's k loop, never split
    if (dw) sgemm(dw, OC, x, C, true, g, OC, false, C, OC, N, 1.0f, 0.0f);
    if (db) bias_grad(db, g, N, OC);
    // dx (N, C) = dz (N × OC) · wᵀ (OC × C)
    if (dx) sgemm(dx, C, g, OC, false, w, OC, true, N, C, OC, 1.0f, 0.0f);
}

}  // namespace fastnn
