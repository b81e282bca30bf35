// dropout.cpp — inverted dropout, forward and backward. Training only; at inference a layer
// skips the op. The keep decision of element i is a pure function of (seed, i): a counter-based
// hash (splitmix64's finaliser) of the element's flat index, so the mask depends only on the
// seed and the shape, never on the thread count or the chunking, and the NumPy reference
// (reference/norm.py) reproduces it bit for bit. Not a cryptographic generator; its output
// passes the statistical tests splitmix64 is known for.

#include <algorithm>
#include <cstring>

#include "fastnn.h"

namespace fastnn {

static inline uint64_t splitmix64(uint64_t key, uint64_t index) {
    // the index's point on the Weyl sequence from `key`, then splitmix64's finaliser
    uint64_t z = key + (index + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t dropout_hash(uint64_t key, uint64_t index) { return splitmix64(key, index); }

uint64_t dropout_key(uint64_t seed) {
    // Mix the seed first, so seeds s and s+1 start far apart on the sequence.
    return dropout_hash(seed ^ 0x6A09E667F3BCC908ull, 0);
}

uint64_t dropout_threshold(double rate) {
    // keep element i iff (hash >> 32) < threshold, i.e. with probability (1 - rate) within 2^-32
    return (uint64_t)((1.0 - rate) * 4294967296.0);
}

static constexpr index_t kDropoutChunk = 4096;
// The forward hashes every element (~1.3 ns each, vectorised): worth a parallel region from far
// fewer elements than a plain elementwise pass (kParallelMinElements), e.g. a Dense(256) layer's
// 128 x 256 batch.
static constexpr index_t kDropoutHashParallelMin = index_t(1) << 13;

// keep ? v : 0 as a bit mask, so the loops vectorise and never branch on the (random) mask.
// A dropped NaN or inf becomes 0, as with NumPy's np.where in the reference.
static inline float select_kept(bool keep, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof(bits));
    bits &= 0u - (uint32_t)keep;
    std::memcpy(&v, &bits, sizeof(v));
    return v;
}

// One chunk [begin, end) of the forward.
FASTNN_ELEMENTWISE static void dropout_forward_run(float* FASTNN_RESTRICT y, uint8_t* FASTNN_RESTRICT mask,
                                const float* FASTNN_RESTRICT x, index_t begin, index_t end,
                                uint64_t key, uint64_t threshold, float scale) {
    for (index_t i = begin; i < end; i++) {
        const bool keep = (splitmix64(key, (uint64_t)i) >> 32) < threshold;
        mask[i] = (uint8_t)keep;
        y[i] = select_kept(keep, x[i] * scale);
    }
}

FASTNN_ELEMENTWISE static void dropout_backward_run(float* FASTNN_RESTRICT dx, const uint8_t* FASTNN_RESTRICT mask,
                                 const float* FASTNN_RESTRICT dy, index_t begin, index_t end,
                                 float scale) {
    for (index_t i = begin; i < end; i++) dx[i] = select_kept(mask[i] != 0, dy[i] * scale);
}

void dropout_forward(float* y, uint8_t* mask, const float* x, index_t count, uint64_t seed,
                     double rate) {
    // y, mask, x: (count,) — any shape, flattened in C order
    if (rate == 0.0) {  // keep everything: a copy and an all-ones mask
        std::memcpy(y, x, sizeof(float) * (size_t)count);
        std::memset(mask, 1, (size_t)count);
        return;
    }
    const uint64_t key = dropout_key(seed), threshold = dropout_threshold(rate);
    const float scale = (float)(1.0 / (1.0 - rate));
    const index_t chunks = (count + kDropoutChunk - 1) / kDropoutChunk;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (count >= kDropoutHashParallelMin)
#endif
    for (index_t t = 0; t < chunks; t++)
        dropout_forward_run(y, mask, x, t * kDropoutChunk, std::min(count, (t + 1) * kDropoutChunk), key,
                            threshold, scale);
}

void dropout_backward(float* dx, const uint8_t* mask, const float* dy, index_t count, double rate) {
    // dx, mask, dy: (count,)
    const float scale = (float)(1.0 / (1.0 - rate));
    const index_t chunks = (count + kDropoutChunk - 1) / kDropoutChunk;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (count >= kParallelMinElements)
#endif
    for (index_t t = 0; t < chunks; t++)
        dropout_backward_run(dx, mask, dy, t * kDropoutChunk, std::min(count, (t + 1) * kDropoutChunk), scale);
}

}  // namespace fastnn
