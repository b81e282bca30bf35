// activation.cpp — elementwise activations and softmax, forward and backward.
// Backward takes the forward OUTPUT y: every activation here has a derivative expressible in y
// (relu: y > 0; sigmoid: y(1-y); tanh: 1-y²; elu: y + alpha for y <= 0; softplus: 1 - e^-y ...),
// so layers keep y and never the pre-activation. exp and sigmoid use branch-free polynomial forms
// (Cephes coefficients, ~2 ulp), tanh a rational one (~5 ulp), that the compiler vectorises; only
// softplus's forward uses libm.

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fastnn.h"

namespace fastnn {

// ---------------------------------------------------------------------------------------------
// Scalar building blocks, written so loops over them vectorise (no branches, no libm calls).

FASTNN_INLINE static float exp_poly(float x) {
    // e^x = 2^n · e^r, n = round(x·log2 e), |r| <= ln2/2; clamp keeps 2^n a normal float
    x = std::min(std::max(x, -87.3f), 88.3f);
    const float magic = 12582912.0f;  // 1.5·2^23: adding it rounds to the nearest integer
    const float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    const float z = r * r;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * z + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof(scale));
    return y * scale;
}

// log(x) for x > 0 (normal, finite): x = 2^e · m with m in [√½, √2), log m from Cephes' logf
// polynomial (~1 ulp). Branch-free, so its loops vectorise.
FASTNN_INLINE static float log_poly(float x) {
    int32_t bits;
    std::memcpy(&bits, &x, sizeof(bits));
    int32_t e = ((bits >> 23) & 0xff) - 126;  // x = 2^e · f, f in [0.5, 1)
    int32_t fbits = (bits & 0x807fffff) | 0x3f000000;
    float f;
    std::memcpy(&f, &fbits, sizeof(f));
    const bool small = f < 0.70710678f;  // f in [0.5, √½): use 2f and e - 1
    f = small ? f + f : f;
    e = small ? e - 1 : e;
    const float m = f - 1.0f;
    const float z = m * m;
    float p = 7.0376836292e-2f;
    p = p * m - 1.1514610310e-1f;
    p = p * m + 1.1676998740e-1f;
    p = p * m - 1.2420140846e-1f;
    p = p * m + 1.4249322787e-1f;
    p = p * m - 1.6668057665e-1f;
    p = p * m + 2.0000714765e-1f;
    p = p * m - 2.4999993993e-1f;
    p = p * m + 3.3333331174e-1f;
    float r = p * m * z;
    const float fe = (float)e;
    r += fe * -2.12194440e-4f;
    r -= 0.5f * z;
    return m + r + fe * 0.693359375f;
}

// log(1 + u) for u in [0, 1], accurate for tiny u (Goldberg's trick: log(w)·u/(w - 1), w = 1 + u
// rounded, corrects the rounding of w; where w rounds to 1, log1p(u) = u).
FASTNN_INLINE static float log1p_poly(float u) {
    const float w = 1.0f + u;
    const float d = w - 1.0f;
    const float r = log_poly(w) * (u / (d == 0.0f ? 1.0f : d));
    return d == 0.0f ? u : r;
}

FASTNN_INLINE static float sigmoid_poly(float x) { return 1.0f / (1.0f + exp_poly(-x)); }

FASTNN_INLINE static float tanh_poly(float x) {
    // tanh(x) = x·P(x²)/Q(x²): a rational fit of tanh(x)/x on |x| <= 9.1 (relative error 2e-8
    // before rounding; max 5.4 ulp over every float in [2^-30, 10.5] against double tanh). One
    // division and no exp: half the time of 1 - 2/(e^2|x| + 1) with a small-|x| polynomial beside it,
    // which was 1.3 ulp. From |x| = 9.0109 on, tanh rounds to ±1 in float32.
    const float ax = std::fabs(x);
    const float t = x * x;
    float p = -8.172510143e-14f;
    p = p * t + 5.155891570e-11f;
    p = p * t - 1.997405801e-08f;
    p = p * t + 1.109288329e-05f;
    p = p * t + 3.098111433e-03f;
    p = p * t + 1.307878522e-01f;
    p = p * t + 9.999999924e-01f;
    float q = 2.537617671e-04f;
    q = q * t + 2.447192718e-02f;
    q = q * t + 4.641211146e-01f;
    q = q * t + 1.0f;
    return ax > 9.0109f ? std::copysign(1.0f, x) : x * p / q;  // NaN fails the test and stays NaN
}

// erfc(x), relative error below ~2e-7 for every x (Numerical Recipes' Chebyshev fit, "erfcc",
// fractional error < 1.2e-7 in exact arithmetic): no cancellation in the tails, where 1 - erf(x)
// would lose every digit; one division and one exp, so it vectorises.
FASTNN_INLINE static float erfc_poly(float x) {
    const float z = std::fabs(x);
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float r = t * exp_poly(p - z * z);
    return x >= 0.0f ? r : 2.0f - r;  // (NaN: 2 - NaN)
}

static constexpr float kInvSqrt2 = 0.70710678118654752f;
static constexpr float kInvSqrt2Pi = 0.39894228040143268f;
static constexpr float kSqrt2OverPi = 0.79788456080286536f;
// Below it gelu, silu, mish and hard_silu are -0 in float32 (x·Φ(x), x·e^x... underflow) and so are
// their derivatives; testing for it keeps x = -inf from giving -inf·0 = NaN. Every formula below is
// evaluated whatever x and the result then selected: a conditional evaluation would stop GCC from
// vectorising the loop (it may not speculate floating-point operations).
static constexpr float kSelfGatedFloor = -200.0f;

// Φ(x), the standard normal CDF, accurate relative to itself in the lower tail.
FASTNN_INLINE static float normal_cdf(float x) { return 0.5f * erfc_poly(-x * kInvSqrt2); }

// Keras's gelu: exact x·Φ(x), or with `approximate` 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
FASTNN_INLINE static float gelu(float x, bool approximate) {
    const float y = approximate ? 0.5f * x * (1.0f + tanh_poly(kSqrt2OverPi * (x + 0.044715f * x * x * x)))
                                : x * normal_cdf(x);
    return x < kSelfGatedFloor ? -0.0f : y;
}

FASTNN_INLINE static float gelu_derivative(float x, bool approximate) {
    float d;
    if (approximate) {
        const float th = tanh_poly(kSqrt2OverPi * (x + 0.044715f * x * x * x));
        d = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * x * x);
    } else {
        d = normal_cdf(x) + x * kInvSqrt2Pi * exp_poly(-0.5f * x * x);
    }
    return x < kSelfGatedFloor ? 0.0f : x > -kSelfGatedFloor ? 1.0f : d;
}

// tanh(softplus(x)) = n(n + 2) / (n(n + 2) + 2) with n = e^x: no log, no second exp; from x = 20
// on it is 1 in float32 (n is capped there so that n² stays finite).
FASTNN_INLINE static float tanh_softplus(float x) {
    const float n = exp_poly(std::min(x, 20.0f));
    const float t = n * (n + 2.0f);
    return t / (t + 2.0f);
}

static constexpr float kSeluScale = 1.0507009873554805f;
static constexpr float kSeluAlpha = 1.6732632423543772f;

// e^x with libm, kept out of activation_inplace: exp_poly clamps its argument to float32's normal
// range, and e^x is wanted up to overflow (88.7) and down through the denormals. (A libm call in
// activation_inplace's loops slowed its other loops tenfold in the LTO build.)
__attribute__((noinline)) static void exponential_run(float* y, index_t count) {
    for (index_t i = 0; i < count; i++) y[i] = std::exp(y[i]);
}

// ---------------------------------------------------------------------------------------------
// Elementwise forward on a contiguous run (also the GEMM epilogue's per-row step).

FASTNN_ELEMENTWISE void activation_inplace(float* y, index_t count, Act act, float alpha) {
    switch (act) {
        case Act::Linear:
        case Act::Softmax:  // not elementwise; never reaches here (dense applies it per row)
            return;
        case Act::Relu:
            for (index_t i = 0; i < count; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i];  // NaN stays NaN
            return;
        case Act::LeakyRelu:
            for (index_t i = 0; i < count; i++) y[i] = y[i] < 0.0f ? alpha * y[i] : y[i];
            return;
        case Act::Elu:
            // exp(x) - 1 rather than expm1: vectorises; absolute error ~1e-7·alpha near 0
            for (index_t i = 0; i < count; i++) y[i] = y[i] < 0.0f ? alpha * (exp_poly(y[i]) - 1.0f) : y[i];
            return;
        case Act::Selu:
            for (index_t i = 0; i < count; i++)
                y[i] = kSeluScale * (y[i] < 0.0f ? kSeluAlpha * (exp_poly(y[i]) - 1.0f) : y[i]);
            return;
        case Act::Softplus:
            // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x
            // (exp_poly stops at ~1e-38 near -87.3; past it e^-|x| is taken as 0: -inf gives 0, and the
            // denormal results of x < -87.3 flush to 0)
            for (index_t i = 0; i < count; i++) {
                const float ax = std::fabs(y[i]);
                const float e = ax > 87.33f ? 0.0f : exp_poly(-ax);
                y[i] = std::max(y[i], 0.0f) + log1p_poly(e);
            }
            return;
        case Act::Sigmoid:
            for (index_t i = 0; i < count; i++) y[i] = sigmoid_poly(y[i]);
            return;
        case Act::Tanh:
            for (index_t i = 0; i < count; i++) y[i] = tanh_poly(y[i]);
            return;
        case Act::HardSigmoid:
            for (index_t i = 0; i < count; i++)
                y[i] = std::min(std::max(y[i] * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
            return;
        case Act::Relu6:
            for (index_t i = 0; i < count; i++) y[i] = y[i] < 0.0f ? 0.0f : y[i] > 6.0f ? 6.0f : y[i];
            return;
        case Act::Softsign:
            // ±inf gives ±1 (inf/inf would be NaN)
            for (index_t i = 0; i < count; i++) {
                const float ax = std::fabs(y[i]);
                y[i] = ax == INFINITY ? std::copysign(1.0f, y[i]) : y[i] / (1.0f + ax);
            }
            return;
        case Act::Exponential:
            exponential_run(y, count);
            return;
        case Act::Celu:
            for (index_t i = 0; i < count; i++)
                y[i] = y[i] < 0.0f ? alpha * (exp_poly(y[i] / alpha) - 1.0f) : y[i];
            return;
        case Act::HardTanh:
            for (index_t i = 0; i < count; i++) y[i] = y[i] < -1.0f ? -1.0f : y[i] > 1.0f ? 1.0f : y[i];
            return;
        case Act::Gelu:
            for (index_t i = 0; i < count; i++) y[i] = gelu(y[i], alpha != 0.0f);
            return;
        case Act::Silu:
            for (index_t i = 0; i < count; i++) {
                const float v = y[i] * sigmoid_poly(y[i]);
                y[i] = y[i] < kSelfGatedFloor ? -0.0f : v;
            }
            return;
        case Act::Mish:
            for (index_t i = 0; i < count; i++) {
                const float v = y[i] * tanh_softplus(y[i]);
                y[i] = y[i] < kSelfGatedFloor ? -0.0f : v;
            }
            return;
        case Act::HardSilu:
            for (index_t i = 0; i < count; i++) {
                const float v = y[i] * std::min(std::max(y[i] * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
                y[i] = y[i] < kSelfGatedFloor ? -0.0f : v;
            }
            return;
    }
}

// The row reductions of softmax keep kLanes partial results (combined in a fixed order at the
// end), so that they vectorise without -ffast-math: a float max or sum taken in order is one
// dependency chain the compiler may not reorder. A row's result is the same on any thread.
constexpr int kLanes = 16;

// Softmax of one row of length C: subtract the max (no overflow), exponentiate, normalise.
// A row holding NaN yields NaN; a row of -inf yields NaN like NumPy's reference. y may be x.
FASTNN_ELEMENTWISE static void softmax_row(float* y, const float* x, index_t C) {
    const index_t full = C / kLanes * kLanes;
    float m[kLanes], s[kLanes];
    for (int k = 0; k < kLanes; k++) m[k] = x[0];
    for (index_t j = 0; j < full; j += kLanes)
        for (int k = 0; k < kLanes; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
    float mx = m[0];
    for (int k = 1; k < kLanes; k++) mx = m[k] > mx ? m[k] : mx;
    for (index_t j = full; j < C; j++) mx = x[j] > mx ? x[j] : mx;
    for (int k = 0; k < kLanes; k++) s[k] = 0.0f;
    for (index_t j = 0; j < full; j += kLanes)
        for (int k = 0; k < kLanes; k++) {
            const float e = exp_poly(x[j + k] - mx);
            y[j + k] = e;
            s[k] += e;
        }
    float sum = 0.0f;
    for (int k = 0; k < kLanes; k++) sum += s[k];
    for (index_t j = full; j < C; j++) {
        y[j] = exp_poly(x[j] - mx);
        sum += y[j];
    }
    const float inv = 1.0f / sum;
    for (index_t j = 0; j < C; j++) y[j] *= inv;
}

// Its backward on one row: dx = y ⊙ (dy - <dy, y>). dx may be dy.
FASTNN_ELEMENTWISE static void softmax_backward_row(float* dx, const float* dy, const float* y, index_t C) {
    const index_t full = C / kLanes * kLanes;
    float d[kLanes];
    for (int k = 0; k < kLanes; k++) d[k] = 0.0f;
    for (index_t j = 0; j < full; j += kLanes)
        for (int k = 0; k < kLanes; k++) d[k] += dy[j + k] * y[j + k];
    float dot = 0.0f;
    for (int k = 0; k < kLanes; k++) dot += d[k];
    for (index_t j = full; j < C; j++) dot += dy[j] * y[j];
    for (index_t j = 0; j < C; j++) dx[j] = y[j] * (dy[j] - dot);
}

void activation_forward(float* y, const float* x, index_t rows, index_t C, Act act, float alpha) {
    // y, x: (rows, C)
    if (act == Act::Softmax) {
        if (C == 0) return;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * C >= kParallelMinElements && !omp_in_parallel())
#endif
        for (index_t r = 0; r < rows; r++) softmax_row(y + r * C, x + r * C, C);
        return;
    }
    const index_t total = rows * C;
    const index_t chunk = 4096;  // elements per task: big enough to amortise, small enough to balance
    const index_t chunks = (total + chunk - 1) / chunk;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t t = 0; t < chunks; t++) {
        const index_t begin = t * chunk, n = std::min(chunk, total - begin);
        if (y != x) std::memcpy(y + begin, x + begin, sizeof(float) * n);
        activation_inplace(y + begin, n, act, alpha);
    }
}

// ---------------------------------------------------------------------------------------------
// Backward: dx = dy ⊙ f'(x), with f'(x) written in terms of y = f(x).

FASTNN_ELEMENTWISE static void activation_backward_run(float* dx, const float* dy, const float* y, index_t n,
                                                       Act act, float alpha) {
    switch (act) {
        case Act::Linear:
        case Act::Softmax:
            if (dx != dy) std::memcpy(dx, dy, sizeof(float) * n);
            return;
        case Act::Relu:
            for (index_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
            return;
        case Act::LeakyRelu:
            for (index_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : alpha * dy[i];
            return;
        case Act::Elu:
            for (index_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : dy[i] * (y[i] + alpha);
            return;
        case Act::Selu:
            for (index_t i = 0; i < n; i++)
                dx[i] = y[i] > 0.0f ? kSeluScale * dy[i] : dy[i] * (y[i] + kSeluScale * kSeluAlpha);
            return;
        case Act::Softplus:
            // f'(x) = sigmoid(x) = 1 - e^{-y}
            for (index_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - exp_poly(-y[i]));
            return;
        case Act::Sigmoid:
            for (index_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
            return;
        case Act::Tanh:
            for (index_t i = 0; i < n; i++) dx[i] = dy[i] * (1.0f - y[i] * y[i]);
            return;
        case Act::HardSigmoid:
            for (index_t i = 0; i < n; i++)
                dx[i] = ((y[i] > 0.0f) & (y[i] < 1.0f)) ? dy[i] * (1.0f / 6.0f) : 0.0f;
            return;
        case Act::Relu6:
            for (index_t i = 0; i < n; i++) dx[i] = ((y[i] > 0.0f) & (y[i] < 6.0f)) ? dy[i] : 0.0f;
            return;
        case Act::Softsign:
            // f'(x) = 1 / (1 + |x|)² = (1 - |y|)²
            for (index_t i = 0; i < n; i++) {
                const float d = 1.0f - std::fabs(y[i]);
                dx[i] = dy[i] * d * d;
            }
            return;
        case Act::Exponential:
            for (index_t i = 0; i < n; i++) dx[i] = dy[i] * y[i];
            return;
        case Act::Celu:
            // f'(x) = e^{x/alpha} = y/alpha + 1 for x < 0
            for (index_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : dy[i] * (y[i] / alpha + 1.0f);
            return;
        case Act::HardTanh:
            for (index_t i = 0; i < n; i++) dx[i] = ((y[i] > -1.0f) & (y[i] < 1.0f)) ? dy[i] : 0.0f;
            return;
        case Act::Gelu:
        case Act::Silu:
        case Act::Mish:
        case Act::HardSilu:
            return;  // never here: their derivative needs x (the bindings refuse them, see derivative_needs_input)
    }
}

// dx = dy ⊙ f'(x) for the activations whose derivative needs the input x.
FASTNN_ELEMENTWISE static void activation_backward_input_run(float* dx, const float* dy, const float* x,
                                                             index_t n, Act act, float alpha) {
    switch (act) {
        case Act::Gelu:
            for (index_t i = 0; i < n; i++) dx[i] = dy[i] * gelu_derivative(x[i], alpha != 0.0f);
            return;
        case Act::Silu:
            // (x·s)' = s + x·s·(1 - s); 0 and 1 in the far tails (x·(1 - s) is inf·0 at ±inf)
            for (index_t i = 0; i < n; i++) {
                const float s = sigmoid_poly(x[i]);
                const float d = x[i] < kSelfGatedFloor ? 0.0f : x[i] > -kSelfGatedFloor ? 1.0f
                                                                                       : s * (1.0f + x[i] * (1.0f - s));
                dx[i] = dy[i] * d;
            }
            return;
        case Act::Mish:
            // (x·tanh(sp(x)))' = tanh(sp) + x·(1 - tanh²(sp))·sigmoid(x)
            for (index_t i = 0; i < n; i++) {
                const float th = tanh_softplus(x[i]);
                const float v = th + x[i] * (1.0f - th * th) * sigmoid_poly(x[i]);
                dx[i] = dy[i] * (x[i] < kSelfGatedFloor ? 0.0f : x[i] > -kSelfGatedFloor ? 1.0f : v);
            }
            return;
        case Act::HardSilu:
            // 0 below -3, 1 above 3, x/3 + 1/2 between
            for (index_t i = 0; i < n; i++) {
                const float mid = x[i] * (1.0f / 3.0f) + 0.5f;  // NaN for a NaN x, which both tests pass
                dx[i] = dy[i] * (x[i] < -3.0f ? 0.0f : x[i] > 3.0f ? 1.0f : mid);
            }
            return;
        default:
            return;  // never here: the bindings pass only these four
    }
}

void activation_backward_input(float* dx, const float* dy, const float* x, index_t count, Act act,
                               float alpha) {
    const index_t chunk = 4096;
    const index_t chunks = (count + chunk - 1) / chunk;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (count >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t t = 0; t < chunks; t++) {
        const index_t begin = t * chunk;
        activation_backward_input_run(dx + begin, dy + begin, x + begin, std::min(chunk, count - begin), act, alpha);
    }
}

void activation_backward(float* dx, const float* dy, const float* y, index_t rows, index_t C,
                         Act act, float alpha) {
    // dx, dy, y: (rows, C)
    if (act == Act::Softmax) {
        // dx = y ⊙ (dy - <dy, y>) per row
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * C >= kParallelMinElements && !omp_in_parallel())
#endif
        for (index_t r = 0; r < rows; r++) softmax_backward_row(dx + r * C, dy + r * C, y + r * C, C);
        return;
    }
    const index_t total = rows * C;
    const index_t chunk = 4096;
    const index_t chunks = (total + chunk - 1) / chunk;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t t = 0; t < chunks; t++) {
        const index_t begin = t * chunk, n = std::min(chunk, total - begin);
        activation_backward_run(dx + begin, dy + begin, y + begin, n, act, alpha);
    }
}

// dx = dy ⊙ f'(y) on one contiguous run, without a parallel region: the recurrent kernels call
// it per gate row from inside their own parallel step.
void activation_backward_row(float* dx, const float* dy, const float* y, index_t count, Act act, float alpha) {
    activation_backward_run(dx, dy, y, count, act, alpha);
}

// out[j] = Σ_r a[r·lda + j] for j < cols, rows added in order (a fixed result for a given input),
// 64 columns at a time in registers.
FASTNN_ELEMENTWISE void column_sums(float* out, const float* a, index_t rows, index_t lda, index_t cols) {
    constexpr index_t kBlock = 64;
    for (index_t j0 = 0; j0 < cols; j0 += kBlock) {
        const index_t width = std::min(kBlock, cols - j0);
        float acc[kBlock] = {};
        if (width == kBlock) {
            for (index_t r = 0; r < rows; r++) {
                const float* FASTNN_RESTRICT row = a + r * lda + j0;  // seek to row r
                for (index_t j = 0; j < kBlock; j++) acc[j] += row[j];
            }
        } else {
            for (index_t r = 0; r < rows; r++) {
                const float* FASTNN_RESTRICT row = a + r * lda + j0;
                for (index_t j = 0; j < width; j++) acc[j] += row[j];
            }
        }
        for (index_t j = 0; j < width; j++) out[j0 + j] = acc[j];
    }
}

}  // namespace fastnn
