// optim.cpp — the optimizers' update steps, Keras 3 formulas, one fused pass per step.
// Each kernel updates a whole LIST of tensors (a model's parameters) in one parallel region: the
// tensors are cut into fixed chunks of kOptimChunk elements and the chunks of all tensors together
// are shared among the threads, so many small tensors (biases) cost one region, not one each.
// The updates are elementwise, so results do not depend on the thread count. Parameters and
// state slots are updated in place; gradients are read only. Scalar coefficients (Adam's
// bias-corrected step size) are computed once in double, then every element runs in float32 like
// Keras's float32 variables. The formulas are written out in fastnn.h and beside each loop. What this file does not do: weight decay, EMA, clipping (the Python
// optimizer clips the gradients before calling these), sparse updates.

#include <algorithm>
#include <cmath>
#include <vector>

#include "fastnn.h"

namespace fastnn {

namespace {

constexpr index_t kOptimChunk = 8192;  // 32 KiB of floats per array per task

struct Chunk {
    index_t tensor, begin, count;
};

// Run body(tensor, begin, count) over every chunk of every tensor, chunks spread over threads.
template <class Body>
void for_each_chunk(const index_t* sizes, index_t count, Body&& body) {
    std::vector<Chunk> chunks;  // a few hundred entries per million parameters, built once per call
    index_t total = 0;
    for (index_t t = 0; t < count; t++) {
        for (index_t b = 0; b < sizes[t]; b += kOptimChunk)
            chunks.push_back({t, b, std::min(kOptimChunk, sizes[t] - b)});
        total += sizes[t];
    }
    const index_t n = (index_t)chunks.size();
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total >= kParallelMinElements)
#endif
    for (index_t i = 0; i < n; i++) {
        // Adam's second moments decay into denormals late in training; MXCSR is per thread.
        DenormalGuard denormals;
        body(chunks[(size_t)i].tensor, chunks[(size_t)i].begin, chunks[(size_t)i].count);
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The per-chunk loops. Each is a function of its own so that its pointers are restrict
// PARAMETERS (GCC vectorises these; restrict locals inside a lambda it does not trust) and each
// loop body is branch-free.
#define R FASTNN_RESTRICT

static void sgd_run(float* R p, const float* R g, index_t n, float lr) {
    for (index_t i = 0; i < n; i++) p[i] -= g[i] * lr;
}

static void sgd_momentum_run(float* R p, float* R v, const float* R g, index_t n, float lr,
                             float momentum, bool nesterov) {
    if (nesterov) {
        for (index_t i = 0; i < n; i++) {
            v[i] = v[i] * momentum - g[i] * lr;
            p[i] += v[i] * momentum - g[i] * lr;
        }
    } else {
        for (index_t i = 0; i < n; i++) {
            v[i] = v[i] * momentum - g[i] * lr;
            p[i] += v[i];
        }
    }
}

static void adagrad_run(float* R p, float* R acc, const float* R g, index_t n, float lr, float eps) {
    for (index_t i = 0; i < n; i++) {
        acc[i] += g[i] * g[i];
        p[i] -= (lr * g[i]) / std::sqrt(acc[i] + eps);
    }
}

// RMSprop without momentum: the increment goes straight into p.
static void rmsprop_run(float* R p, float* R v, const float* R g, index_t n, float lr, float rho,
                        float eps) {
    const float c = 1.0f - rho;
    for (index_t i = 0; i < n; i++) {
        v[i] = rho * v[i] + c * (g[i] * g[i]);
        p[i] -= (lr * g[i]) / std::sqrt(v[i] + eps);
    }
}

static void rmsprop_momentum_run(float* R p, float* R v, float* R mom, const float* R g, index_t n,
                                 float lr, float rho, float momentum, float eps) {
    const float c = 1.0f - rho;
    for (index_t i = 0; i < n; i++) {
        v[i] = rho * v[i] + c * (g[i] * g[i]);
        mom[i] = momentum * mom[i] + (lr * g[i]) / std::sqrt(v[i] + eps);
        p[i] -= mom[i];
    }
}

static void rmsprop_centered_run(float* R p, float* R v, float* R avg, const float* R g, index_t n,
                                 float lr, float rho, float eps) {
    const float c = 1.0f - rho;
    for (index_t i = 0; i < n; i++) {
        v[i] = rho * v[i] + c * (g[i] * g[i]);
        avg[i] = rho * avg[i] + c * g[i];
        p[i] -= (lr * g[i]) / std::sqrt(v[i] - avg[i] * avg[i] + eps);
    }
}

static void rmsprop_centered_momentum_run(float* R p, float* R v, float* R avg, float* R mom,
                                          const float* R g, index_t n, float lr, float rho,
                                          float momentum, float eps) {
    const float c = 1.0f - rho;
    for (index_t i = 0; i < n; i++) {
        v[i] = rho * v[i] + c * (g[i] * g[i]);
        avg[i] = rho * avg[i] + c * g[i];
        mom[i] = momentum * mom[i] + (lr * g[i]) / std::sqrt(v[i] - avg[i] * avg[i] + eps);
        p[i] -= mom[i];
    }
}

static void adam_run(float* R p, float* R m, float* R v, const float* R g, index_t n, float alpha,
                     float c1, float c2, float eps) {
    for (index_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        p[i] -= (m[i] * alpha) / (std::sqrt(v[i]) + eps);
    }
}

static void adam_amsgrad_run(float* R p, float* R m, float* R v, float* R vh, const float* R g,
                             index_t n, float alpha, float c1, float c2, float eps) {
    for (index_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        vh[i] = vh[i] < v[i] || v[i] != v[i] ? v[i] : vh[i];  // np.maximum: a NaN v propagates
        p[i] -= (m[i] * alpha) / (std::sqrt(vh[i]) + eps);
    }
}

static void adadelta_run(float* R p, float* R ag, float* R ad, const float* R g, index_t n, float lr,
                         float rho, float eps) {
    const float c = 1.0f - rho;
    for (index_t i = 0; i < n; i++) {
        ag[i] = rho * ag[i] + c * (g[i] * g[i]);
        const float delta = -(std::sqrt(ad[i] + eps) * g[i]) / std::sqrt(ag[i] + eps);
        ad[i] = rho * ad[i] + c * (delta * delta);
        p[i] += lr * delta;
    }
}

static void adamax_run(float* R p, float* R m, float* R u, const float* R g, index_t n, float alpha,
                       float c1, float beta_2, float eps) {
    for (index_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        const float decayed = beta_2 * u[i], a = std::fabs(g[i]);
        u[i] = decayed < a || a != a ? a : decayed;  // np.maximum: a NaN gradient propagates
        p[i] -= (m[i] * alpha) / (u[i] + eps);
    }
}

static void nadam_run(float* R p, float* R m, float* R v, const float* R g, index_t n, float lr,
                      float c1, float c2, float km, float kg, float kv, float eps) {
    for (index_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * c1;
        v[i] += (g[i] * g[i] - v[i]) * c2;
        const float m_hat = m[i] * km + g[i] * kg;
        p[i] -= (m_hat * lr) / (std::sqrt(v[i] * kv) + eps);
    }
}

static void lion_run(float* R p, float* R m, const float* R g, index_t n, float lr, float beta_1,
                     float beta_2) {
    const float c1 = 1.0f - beta_1, c2 = 1.0f - beta_2;
    for (index_t i = 0; i < n; i++) {
        const float c = m[i] * beta_1 + g[i] * c1;
        const float sign = c != c ? c : (float)(c > 0.0f) - (float)(c < 0.0f);  // NaN stays NaN
        p[i] -= lr * sign;
        m[i] = m[i] * beta_2 + g[i] * c2;
    }
}

#undef R

// ---------------------------------------------------------------------------------------------
// The kernels: pick the loop once, then run it over every chunk (b: the chunk's first element).

void sgd_update(float* const* params, float* const* velocities, const float* const* grads,
                const index_t* sizes, index_t count, float lr, float momentum, bool nesterov) {
    // params[t], velocities[t], grads[t]: (sizes[t],); velocities null when momentum == 0. The test
    // is on the pointer: inside the chunks denormals read as 0 (DenormalGuard), so a subnormal
    // momentum would compare equal to 0 there and leave the velocities stale
    for_each_chunk(sizes, count, [=](index_t t, index_t b, index_t n) {
        if (velocities == nullptr)
            sgd_run(params[t] + b, grads[t] + b, n, lr);
        else
            sgd_momentum_run(params[t] + b, velocities[t] + b, grads[t] + b, n, lr, momentum, nesterov);
    });
}

void adagrad_update(float* const* params, float* const* accumulators, const float* const* grads,
                    const index_t* sizes, index_t count, float lr, float epsilon) {
    // params[t], accumulators[t], grads[t]: (sizes[t],)
    for_each_chunk(sizes, count, [=](index_t t, index_t b, index_t n) {
        adagrad_run(params[t] + b, accumulators[t] + b, grads[t] + b, n, lr, epsilon);
    });
}

void rmsprop_update(float* const* params, float* const* velocities, float* const* momentums,
                    float* const* average_grads, const float* const* grads, const index_t* sizes,
                    index_t count, float lr, float rho, float momentum, float epsilon,
                    bool centered) {
    // params[t], velocities[t], grads[t]: (sizes[t],); momentums (null unless momentum > 0) and
    // average_grads (null unless centered) likewise
    const bool use_momentum = momentum > 0.0f;
    for_each_chunk(sizes, count, [=](index_t t, index_t b, index_t n) {
        float* p = params[t] + b;
        float* v = velocities[t] + b;
        const float* g = grads[t] + b;
        if (centered && use_momentum)
            rmsprop_centered_momentum_run(p, v, average_grads[t] + b, momentums[t] + b, g, n, lr, rho,
                                          momentum, epsilon);
        else if (centered)
            rmsprop_centered_run(p, v, average_grads[t] + b, g, n, lr, rho, epsilon);
        else if (use_momentum)
            rmsprop_momentum_run(p, v, momentums[t] + b, g, n, lr, rho, momentum, epsilon);
        else
            rmsprop_run(p, v, g, n, lr, rho, epsilon);
    });
}

void adam_update(float* const* params, float* const* ms, float* const* vs, float* const* v_hats,
                 const float* const* grads, const index_t* sizes, index_t count, float lr,
                 int64_t step, float beta_1, float beta_2, float epsilon, bool amsgrad) {
    // params[t], ms[t], vs[t], grads[t]: (sizes[t],); v_hats (null unless amsgrad) likewise
    const double t = (double)step;
    const float alpha = (float)((double)lr * std::sqrt(1.0 - std::pow((double)beta_2, t)) /
                                (1.0 - std::pow((double)beta_1, t)));
    const float c1 = 1.0f - beta_1, c2 = 1.0f - beta_2;
    for_each_chunk(sizes, count, [=](index_t k, index_t b, index_t n) {
        if (amsgrad)
            adam_amsgrad_run(params[k] + b, ms[k] + b, vs[k] + b, v_hats[k] + b, grads[k] + b, n, alpha,
                             c1, c2, epsilon);
        else
            adam_run(params[k] + b, ms[k] + b, vs[k] + b, grads[k] + b, n, alpha, c1, c2, epsilon);
    });
}

void adadelta_update(float* const* params, float* const* accumulated_grads,
                     float* const* accumulated_deltas, const float* const* grads, const index_t* sizes,
                     index_t count, float lr, float rho, float epsilon) {
    // params[t], accumulated_grads[t], accumulated_deltas[t], grads[t]: (sizes[t],)
    for_each_chunk(sizes, count, [=](index_t t, index_t b, index_t n) {
        adadelta_run(params[t] + b, accumulated_grads[t] + b, accumulated_deltas[t] + b, grads[t] + b, n, lr,
                     rho, epsilon);
    });
}

void adamax_update(float* const* params, float* const* ms, float* const* us, const float* const* grads,
                   const index_t* sizes, index_t count, float lr, int64_t step, float beta_1,
                   float beta_2, float epsilon) {
    // params[t], ms[t], us[t], grads[t]: (sizes[t],)
    const float alpha = (float)((double)lr / (1.0 - std::pow((double)beta_1, (double)step)));
    const float c1 = 1.0f - beta_1;
    for_each_chunk(sizes, count, [=](index_t t, index_t b, index_t n) {
        adamax_run(params[t] + b, ms[t] + b, us[t] + b, grads[t] + b, n, alpha, c1, beta_2, epsilon);
    });
}

void nadam_update(float* const* params, float* const* ms, float* const* vs, const float* const* grads,
                  const index_t* sizes, index_t count, float lr, int64_t step, double u_product,
                  float beta_1, float beta_2, float epsilon) {
    // params[t], ms[t], vs[t], grads[t]: (sizes[t],); the step's scalars in double, once
    const double t = (double)step, b1 = (double)beta_1;
    const double u_t = b1 * (1.0 - 0.5 * std::pow(0.96, t));
    const double u_next = b1 * (1.0 - 0.5 * std::pow(0.96, t + 1.0));
    const float km = (float)(u_next / (1.0 - u_product * u_next));
    const float kg = (float)((1.0 - u_t) / (1.0 - u_product));
    const float kv = (float)(1.0 / (1.0 - std::pow((double)beta_2, t)));
    const float c1 = 1.0f - beta_1, c2 = 1.0f - beta_2;
    for_each_chunk(sizes, count, [=](index_t k, index_t b, index_t n) {
        nadam_run(params[k] + b, ms[k] + b, vs[k] + b, grads[k] + b, n, lr, c1, c2, km, kg, kv, epsilon);
    });
}

void lion_update(float* const* params, float* const* ms, const float* const* grads, const index_t* sizes,
                 index_t count, float lr, float beta_1, float beta_2) {
    // params[t], ms[t], grads[t]: (sizes[t],)
    for_each_chunk(sizes, count, [=](index_t t, index_t b, index_t n) {
        lion_run(params[t] + b, ms[t] + b, grads[t] + b, n, lr, beta_1, beta_2);
    });
}

}  // namespace fastnn
