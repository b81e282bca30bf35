// threads.cpp — the process-wide thread count and per-thread scratch memory (common.h).

#include <atomic>
#include <cstdlib>
#include <memory>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "common.h"

namespace fastnn {

static int initial_threads() {
#ifdef FASTNN_OPENMP
    // omp_get_max_threads() honours OMP_NUM_THREADS; default is the number of cores.
    const int n = omp_get_max_threads();
    return n > 0 ? n : 1;
#else
    return 1;
#endif
}

static std::atomic<int> g_threads{initial_threads()};

int num_threads() { return g_threads.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
#ifdef FASTNN_OPENMP
    g_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed);
#else
    (void)n;  // without OpenMP every kernel is single-threaded
#endif
}

bool openmp_enabled() {
#ifdef FASTNN_OPENMP
    return true;
#else
    return false;
#endif
}

void* aligned_big_alloc(size_t bytes) {
    constexpr size_t kHugePage = size_t(2) << 20;
    if (bytes >= 2 * kHugePage) {
        const size_t size = (bytes + kHugePage - 1) / kHugePage * kHugePage;
        void* p = std::aligned_alloc(kHugePage, size);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (p) madvise(p, size, MADV_HUGEPAGE);  // advice only: no huge pages is no error
#endif
        return p;
    }
    return std::aligned_alloc(64, (bytes + 63) / 64 * 64);
}

namespace {
struct AlignedFree {
    void operator()(float* p) const { std::free(p); }
};
struct Scratch {
    std::unique_ptr<float, AlignedFree> data;
    size_t capacity = 0;
};
constexpr int kScratchSlots = 4;
thread_local Scratch t_scratch[kScratchSlots];
}  // namespace

float* thread_scratch(int slot, size_t floats) {
    Scratch& s = t_scratch[slot];
    if (floats > s.capacity) {
        // grow geometrically so a slowly increasing size does not reallocate every call
        size_t want = floats + floats / 4 + 64;
        size_t bytes = (want * sizeof(float) + 63) / 64 * 64;
        void* p = aligned_big_alloc(bytes);
        if (!p) throw std::bad_alloc();
        s.data.reset(static_cast<float*>(p));
        s.capacity = bytes / sizeof(float);
    }
    return s.data.get();
}

}  // namespace fastnn
