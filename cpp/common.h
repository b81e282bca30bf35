// common.h — the small vocabulary every kernel file shares: index type, restrict, threads,
// aligned scratch memory and the denormal guard. No pybind11 here: kernels never see Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <new>
#include <stdexcept>

#if defined(__GNUC__) || defined(__clang__)
#define FASTNN_RESTRICT __restrict__
#else
#define FASTNN_RESTRICT
#endif

// The scalar helpers of vectorised loops (exp_poly...): a loop that calls one out of line does not
// vectorise, and GCC's inliner stops inlining them as their callers multiply.
#if defined(__GNUC__) || defined(__clang__)
#define FASTNN_INLINE inline __attribute__((always_inline))
#else
#define FASTNN_INLINE inline
#endif

#ifdef FASTNN_OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#endif

// Elementwise hot loops are compiled for several ISAs and picked at load time by the CPU's
// features (GCC/Clang function multi-versioning): one binary, wide vectors where they exist.
// GCC 12 can clone for x86-64-v3 (AVX2 with FMA): a plain "avx2" clone has no FMA, so its
// exp/sigmoid/tanh polynomials ran as separate multiplies and adds (1.3-1.4x slower on Zen 3).
#if (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && \
    defined(__linux__)
#define FASTNN_ELEMENTWISE __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#elif (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && defined(__linux__)
#define FASTNN_ELEMENTWISE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTNN_ELEMENTWISE
#endif

namespace fastnn {

using index_t = int64_t;

// ---------------------------------------------------------------------------------------------
// Threads. One process-wide count (set_num_threads), passed to every parallel region with a
// num_threads clause, so it holds whichever Python thread calls the kernel.

int num_threads();            // current setting, >= 1
void set_num_threads(int n);  // n >= 1; checked by the binding
bool openmp_enabled();

// Split [0, n) into `parts` nearly equal chunks; chunk `i` is [*begin, *end).
inline void split_range(index_t n, int parts, int i, index_t* begin, index_t* end) {
    index_t base = n / parts, extra = n % parts;
    *begin = i * base + (i < extra ? i : extra);
    *end = *begin + base + (i < extra ? 1 : 0);
}

// fn(t) for t in [0, threads), one call per thread of a parallel region (a plain call when
// threads <= 1). The caller sizes any scratch beforehand: nothing in fn may throw.
template <class Fn>
inline void run_threads(int threads, const Fn& fn) {
    if (threads <= 1) {
        fn(0);
        return;
    }
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(threads) schedule(static, 1)
#endif
    for (int t = 0; t < threads; t++) fn(t);
}

// Flush-to-zero and denormals-are-zero for the lifetime of the guard, then restore: denormals
// appear late in training and cost ~100x per operation. Restoring keeps the caller's (NumPy's)
// floating-point environment untouched.
struct DenormalGuard {
#if defined(__x86_64__) || defined(_M_X64)
    unsigned int saved;
    DenormalGuard() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
    ~DenormalGuard() { _mm_setcsr(saved); }
#endif
};

// ---------------------------------------------------------------------------------------------
// Scratch memory: 64-byte aligned, owned by the calling thread, grown on demand and reused, so a
// kernel called once per layer per step does not pay malloc + page faults every time.
// Only ever called outside parallel regions; std::bad_alloc propagates to the binding.
// Slots: 0 = sgemm's packing buffers, 1 = a layer kernel's own temporaries (e.g. dense's dz),
// 2 and 3 = free for kernels that call a kernel using slot 1.
float* thread_scratch(int slot, size_t floats);

// One scratch block cut into consecutive 64-byte aligned pieces. Size the block with
// Carver::floats over the same pieces; take() refuses to run past the block's end (an internal
// error, raised in Python as RuntimeError) rather than write there: a miscounted size once let
// conv's backward write 15 floats past its block.
class Carver {
  public:
    Carver(float* block, index_t floats) : next_(block), left_(floats) {}
    // scratch slot `slot` (thread_scratch) grown to `floats`, to be carved
    static Carver slot(int slot, index_t floats) { return Carver(thread_scratch(slot, (size_t)floats), floats); }
    template <class T = float>
    T* take(index_t count) {
        const index_t n = floats(count, sizeof(T));
        if (n > left_) throw std::logic_error("fastnn internal error: scratch pieces exceed their block");
        T* out = reinterpret_cast<T*>(next_);
        next_ += n;
        left_ -= n;
        return out;
    }
    // The floats a piece of `count` values of `bytes` bytes each takes, rounded up to 64 bytes.
    static index_t floats(index_t count, size_t bytes = sizeof(float)) {
        return (count * (index_t)bytes / (index_t)sizeof(float) + 15) / 16 * 16;
    }
    // The floats of float pieces of these counts, in any order.
    static index_t floats(std::initializer_list<index_t> counts) {
        index_t total = 0;
        for (index_t n : counts) total += floats(n);
        return total;
    }

  private:
    float* next_;
    index_t left_;
};

// 64-byte aligned memory, freed with std::free. Blocks from 4 MB on are 2 MB aligned and advised
// into transparent huge pages (Linux): streaming a multi-MB buffer (a recurrent layer's cache, a
// packed operand) then misses the TLB once per 2 MB instead of once per 4 KB page, and on a
// virtual machine every miss is a two-level page walk. nullptr when out of memory.
void* aligned_big_alloc(size_t bytes);

// Elementwise loops smaller than this run on one thread: a parallel region costs ~1-20 us.
constexpr index_t kParallelMinElements = 1 << 16;

}  // namespace fastnn
