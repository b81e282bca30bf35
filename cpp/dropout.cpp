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

uint64_t dropout_hash(uint64_t key, uint64_t index) {
    // splitmix64: the index's point on the Weyl sequence from `key`, then the finaliser
    uint64_t z = key + (index + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t dropout_key(uint64_t seed) {
    // Mix the seed first, so seeds s and s+1 start far apart on the sequence.
    return dropout_hash(seed ^ 0x6A09E667F3BCC908ull, 0);
}

uint64_t dropout_threshold(double rate) {
    // keep element i iff (hash >> 32) < threshold, i.e. with probability (1 - rate) within 2^-32
    return (uint64_t)((1.0 - rate) * 4294967296.0);
}

static constexpr index_t kDropoutChunk = 4096;

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
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (count >= kParallelMinElements)
#endif
    for (index_t t = 0; t < chunks; t++) {
        const index_t begin = t * kDropoutChunk, end = std::min(count, begin + kDropoutChunk);
        for (index_t i = begin; i < end; i++) {
            const uint8_t keep = (dropout_hash(key, (uint64_t)i) >> 32) < threshold;
            mask[i] = keep;
            y[i] = keep ? x[i] * scale : 0.0f;
        }
    }
}

void dropout_backward(float* dx, const uint8_t* mask, const float* dy, index_t count, double rate) {
    // dx, mask, dy: (count,)
    const float scale = (float)(1.0 / (1.0 - rate));
    const index_t chunks = (count + kDropoutChunk - 1) / kDropoutChunk;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (count >= kParallelMinElements)
#endif
    for (index_t t = 0; t < chunks; t++) {
        const index_t begin = t * kDropoutChunk, end = std::min(count, begin + kDropoutChunk);
        for (index_t i = begin; i < end; i++) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
    }
}

}  // namespace fastnn
