// pool.cpp — max and average pooling (1-D/2-D/3-D, channels-last) and global pooling, forward
// and backward. Pooling is bandwidth-bound: every loop runs over C contiguous floats so it
// vectorises, and each output pixel is written once.
//   max     : the FIRST maximum of each window (window order kd, kh, kw) wins; its flat spatial
//             index is saved in the forward pass so backward is a scatter. Four-position windows
//             (2×2) run in one bit-mask pass (window_max4); others use the running max of the ISA
//             micro-kernel (conv_ukernel_*.cpp): at the baseline ISA a plain select costs ~10×.
//   average : the mean over the window's REAL elements (Keras/TensorFlow: 'same' borders divide
//             by fewer), so backward spreads dy over the same elements.
// Backward scatters run over (image, channel block) work items with disjoint writes and a fixed
// visiting order, so results do not depend on the thread count. What this file does not do:
// padding by -inf as a value (padded positions are simply absent), fractional pooling.

#include <algorithm>
#include <cstring>
#include <vector>

#include "conv_ukernel.h"
#include "fastnn.h"

namespace fastnn {

namespace {

index_t out_pixels(const PoolShape& s) { return s.out[0] * s.out[1] * s.out[2]; }
index_t in_pixels(const PoolShape& s) { return s.in[0] * s.in[1] * s.in[2]; }

// The window of output pixel (od, oh, ow) clipped to the input: [lo, hi) per axis.
struct Window {
    index_t lo[3], hi[3];
    index_t count() const { return (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]); }
};
inline Window window_of(const PoolShape& s, index_t od, index_t oh, index_t ow) {
    const index_t o[3] = {od, oh, ow};
    Window win;
    for (int a = 0; a < 3; a++) {
        const index_t start = o[a] * s.stride[a] - s.pad[a];
        win.lo[a] = std::max<index_t>(start, 0);
        win.hi[a] = std::min(start + s.k[a], s.in[a]);
    }
    return win;
}

// Parallel work items of a backward scatter: (image, channel block) pairs.
constexpr index_t kChannelBlock = 64;

// A window of exactly four positions (2×2, the course notes' pool) in one pass over the channels:
// its rows and their positions in window order. Four loads and three selects per channel vector,
// written once, where the running update reads and rewrites y and argmax after every row. The
// selects are bit masks: GCC 12 does not vectorise a chain of float selects that feed the next
// comparison, and does these (at every ISA, the baseline's SSE2 too).
struct Window4 {
    const float* rows[4];
    int32_t pos[4];
};

inline int32_t float_bits(float f) {
    int32_t i;
    std::memcpy(&i, &f, sizeof i);
    return i;
}

inline float bits_float(int32_t i) {
    float f;
    std::memcpy(&f, &i, sizeof f);
    return f;
}

// m, a = v, p where v > m, or v is the first NaN (m still a number): max_update's rule
inline void take_if_greater(float& m, int32_t& a, float v, int32_t p) {
    const int32_t t = -(int32_t)(!(v <= m) & (m == m));
    m = bits_float((float_bits(v) & t) | (float_bits(m) & ~t));
    a = (p & t) | (a & ~t);
}

FASTNN_ELEMENTWISE void window_max4(float* FASTNN_RESTRICT y, int32_t* FASTNN_RESTRICT argmax, const Window4& win,
                                    index_t C) {
    const float *x0 = win.rows[0], *x1 = win.rows[1], *x2 = win.rows[2], *x3 = win.rows[3];
    const int32_t p0 = win.pos[0], p1 = win.pos[1], p2 = win.pos[2], p3 = win.pos[3];
    for (index_t c = 0; c < C; c++) {
        float m = x0[c];
        int32_t a = p0;
        take_if_greater(m, a, x1[c], p1);
        take_if_greater(m, a, x2[c], p2);
        take_if_greater(m, a, x3[c], p3);
        y[c] = m;
        argmax[c] = a;
    }
}

// The routed backward of such a window: d_j[c] = g[c] where the maximum was at position j, else 0.
FASTNN_ELEMENTWISE void routed_rows4(float* FASTNN_RESTRICT d0, float* FASTNN_RESTRICT d1, float* FASTNN_RESTRICT d2,
                                     float* FASTNN_RESTRICT d3, const float* FASTNN_RESTRICT g,
                                     const int32_t* FASTNN_RESTRICT a, const int32_t pos[4], index_t C) {
    const int32_t p0 = pos[0], p1 = pos[1], p2 = pos[2], p3 = pos[3];
    for (index_t c = 0; c < C; c++) {
        const float gc = g[c];
        const int32_t ac = a[c];
        d0[c] = ac == p0 ? gc : 0.0f;
        d1[c] = ac == p1 ? gc : 0.0f;
        d2[c] = ac == p2 ? gc : 0.0f;
        d3[c] = ac == p3 ? gc : 0.0f;
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Max pooling

void maxpool_forward(float* y, int32_t* argmax, const float* x, const PoolShape& s, const index_t* index_dims) {
    // y, argmax (N, OD, OH, OW, C); x (N, D, H, W, C)
    const MaxUpdateKernel update = conv_kernels().max_update;  // the ISA's vectorised running max
    const index_t C = s.C, S = in_pixels(s), O = out_pixels(s);
    const index_t* idx = index_dims ? index_dims : s.in;
    const index_t total = s.N * O;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total * C >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t m = 0; m < total; m++) {
        const index_t n = m / O, r = m % O;
        const index_t ow = r % s.out[2], oh = (r / s.out[2]) % s.out[1], od = r / (s.out[2] * s.out[1]);
        const Window win = window_of(s, od, oh, ow);
        const float* xn = x + n * S * C;  // seek to image n
        float* yr = y + m * C;
        int32_t* ar = argmax + m * C;
        if (win.count() == 4) {
            Window4 w4;
            int j = 0;
            for (index_t d = win.lo[0]; d < win.hi[0]; d++)
                for (index_t h = win.lo[1]; h < win.hi[1]; h++)
                    for (index_t w = win.lo[2]; w < win.hi[2]; w++, j++) {
                        w4.rows[j] = xn + ((d * s.in[1] + h) * s.in[2] + w) * C;
                        w4.pos[j] = (int32_t)((d * idx[1] + h) * idx[2] + w);
                    }
            window_max4(yr, ar, w4, C);
            continue;
        }
        bool first = true;
        for (index_t d = win.lo[0]; d < win.hi[0]; d++)
            for (index_t h = win.lo[1]; h < win.hi[1]; h++)
                for (index_t w = win.lo[2]; w < win.hi[2]; w++) {
                    const index_t pos = (d * s.in[1] + h) * s.in[2] + w;
                    const float* xr = xn + pos * C;
                    const int32_t p32 = (int32_t)((d * idx[1] + h) * idx[2] + w);
                    if (first) {
                        std::memcpy(yr, xr, sizeof(float) * C);
                        for (index_t c = 0; c < C; c++) ar[c] = p32;
                        first = false;
                        continue;
                    }
                    update(yr, ar, xr, p32, C);
                }
    }
}

FASTNN_ELEMENTWISE void index_range(const int32_t* values, index_t n, int32_t* lo, int32_t* hi) {
    int32_t a = 0, b = 0;  // min and max reductions the compiler vectorises
    for (index_t i = 0; i < n; i++) {
        a = std::min(a, values[i]);
        b = std::max(b, values[i]);
    }
    *lo = a;
    *hi = b;
}

// Whether any of the C positions a[c] lies outside a window given as its rows: the positions
// [start[r], start[r] + width) for r < rows. One subtraction and unsigned compare per row and
// channel, vectorised over the channels (two rows: the 2×k pools, written out).
FASTNN_ELEMENTWISE static bool any_outside(const int32_t* a, index_t C, const int32_t* start, int rows,
                                          uint32_t width) {
    int outside = 0;
    if (rows == 2) {
        const int32_t s0 = start[0], s1 = start[1];
        for (index_t c = 0; c < C; c++)
            outside |= ((uint32_t)(a[c] - s0) >= width) & ((uint32_t)(a[c] - s1) >= width);
        return outside != 0;
    }
    for (index_t c = 0; c < C; c++) {
        int inside = 0;
        for (int r = 0; r < rows; r++) inside |= (uint32_t)(a[c] - start[r]) < width;
        outside |= !inside;
    }
    return outside != 0;
}

int64_t argmax_outside_windows(const int32_t* argmax, const PoolShape& s) {
    const index_t C = s.C, O = out_pixels(s);
    // each output's window (the same in every image): its rows' first positions, starts[first[o]..
    // first[o + 1]), and its row width
    std::vector<size_t> first((size_t)O + 1);
    std::vector<int32_t> starts;
    std::vector<uint32_t> width((size_t)O);
    for (index_t o = 0; o < O; o++) {
        const index_t ow = o % s.out[2], oh = (o / s.out[2]) % s.out[1], od = o / (s.out[2] * s.out[1]);
        const Window win = window_of(s, od, oh, ow);
        first[(size_t)o] = starts.size();
        for (index_t d = win.lo[0]; d < win.hi[0]; d++)
            for (index_t h = win.lo[1]; h < win.hi[1]; h++)
                starts.push_back((int32_t)((d * s.in[1] + h) * s.in[2] + win.lo[2]));
        width[(size_t)o] = (uint32_t)(win.hi[2] - win.lo[2]);
    }
    first[(size_t)O] = starts.size();
    auto outside = [&](index_t n, index_t o, index_t c0, index_t count) {
        const size_t f = first[(size_t)o];
        return any_outside(argmax + (n * O + o) * C + c0, count, starts.data() + f, (int)(first[(size_t)o + 1] - f),
                           width[(size_t)o]);
    };
    std::vector<uint8_t> bad_image((size_t)s.N, 0);
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (s.N * O * C >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t n = 0; n < s.N; n++)
        for (index_t o = 0; o < O && !bad_image[(size_t)n]; o++)
            if (outside(n, o, 0, C)) bad_image[(size_t)n] = 1;
    // the first culprit, channel by channel, only in the first image that has one
    for (index_t n = 0; n < s.N; n++)
        if (bad_image[(size_t)n])
            for (index_t o = 0; o < O; o++)
                for (index_t c = 0; c < C; c++)
                    if (outside(n, o, c, 1)) return (int64_t)((n * O + o) * C + c);
    return -1;
}

void maxpool_backward(float* dx, const float* dy, const int32_t* argmax, index_t N, index_t S, index_t O,
                      index_t C) {
    // dx (N, S, C); dy, argmax (N, O, C)
    const index_t cblocks = (C + kChannelBlock - 1) / kChannelBlock;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * S * C >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t it = 0; it < N * cblocks; it++) {
        const index_t n = it / cblocks, c0 = (it % cblocks) * kChannelBlock;
        const index_t c1 = std::min(C, c0 + kChannelBlock);
        float* dxn = dx + n * S * C;  // seek to image n
        if (cblocks == 1)
            std::fill(dxn, dxn + S * C, 0.0f);
        else
            for (index_t p = 0; p < S; p++) std::fill(dxn + p * C + c0, dxn + p * C + c1, 0.0f);
        for (index_t o = 0; o < O; o++) {
            const float* g = dy + (n * O + o) * C;
            const int32_t* a = argmax + (n * O + o) * C;
            for (index_t c = c0; c < c1; c++) dxn[a[c] * C + c] += g[c];
        }
    }
}

namespace {

// d[c] = g[c] where the window's maximum was at position p, else 0.
FASTNN_ELEMENTWISE void routed_row(float* FASTNN_RESTRICT d, const float* FASTNN_RESTRICT g,
                                   const int32_t* FASTNN_RESTRICT a, int32_t p, index_t C) {
    for (index_t c = 0; c < C; c++) d[c] = a[c] == p ? g[c] : 0.0f;
}

}  // namespace

void maxpool_backward_routed(float* dx, const float* dy, const int32_t* argmax, const PoolShape& s,
                             const index_t* index_dims) {
    const index_t C = s.C, S = in_pixels(s), O = out_pixels(s);
    const index_t* idx = index_dims ? index_dims : s.in;
    bool disjoint = true, cover = true;
    for (int a = 0; a < 3; a++) {
        disjoint = disjoint && s.stride[a] >= s.k[a];
        cover = cover && s.pad[a] == 0 && s.stride[a] == s.k[a] && s.out[a] * s.k[a] == s.in[a];
    }
    if (!disjoint) {  // (the fused op crops only disjoint pools: index_dims is s.in here)
        maxpool_backward(dx, dy, argmax, s.N, S, O, C);
        return;
    }
    // Each input pixel lies in at most one window: write it once, from its window's dy and argmax
    // (zeros first only when some pixels lie in no window).
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (s.N * S * C >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t n = 0; n < s.N; n++) {
        float* dxn = dx + n * S * C;  // seek to image n
        if (!cover) std::fill(dxn, dxn + S * C, 0.0f);
        for (index_t o = 0; o < O; o++) {
            const index_t ow = o % s.out[2], oh = (o / s.out[2]) % s.out[1], od = o / (s.out[2] * s.out[1]);
            const Window win = window_of(s, od, oh, ow);
            const float* g = dy + (n * O + o) * C;
            const int32_t* a = argmax + (n * O + o) * C;
            const bool four = win.count() == 4;  // its rows gathered, then one pass (routed_rows4)
            float* rows4[4];
            int32_t pos4[4];
            int j = 0;
            for (index_t d = win.lo[0]; d < win.hi[0]; d++)
                for (index_t h = win.lo[1]; h < win.hi[1]; h++)
                    for (index_t w = win.lo[2]; w < win.hi[2]; w++) {
                        float* row = dxn + ((d * s.in[1] + h) * s.in[2] + w) * C;
                        const int32_t p = (int32_t)((d * idx[1] + h) * idx[2] + w);
                        if (four) {
                            rows4[j] = row;
                            pos4[j++] = p;
                        } else {
                            routed_row(row, g, a, p, C);
                        }
                    }
            if (four) routed_rows4(rows4[0], rows4[1], rows4[2], rows4[3], g, a, pos4, C);
        }
    }
}

void global_maxpool_forward(float* y, int32_t* argmax, const float* x, index_t N, index_t S, index_t C) {
    // y, argmax (N, C); x (N, S, C)
    const MaxUpdateKernel update = conv_kernels().max_update;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * S * C >= kParallelMinElements)
#endif
    for (index_t n = 0; n < N; n++) {
        const float* xn = x + n * S * C;  // seek to image n
        float* yr = y + n * C;
        int32_t* ar = argmax + n * C;
        std::memcpy(yr, xn, sizeof(float) * C);
        std::fill(ar, ar + C, 0);
        for (index_t p = 1; p < S; p++) {
            const float* xr = xn + p * C;
            const int32_t p32 = (int32_t)p;
            update(yr, ar, xr, p32, C);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Average pooling

void avgpool_forward(float* y, const float* x, const PoolShape& s) {
    // y (N, OD, OH, OW, C); x (N, D, H, W, C)
    const index_t C = s.C, S = in_pixels(s), O = out_pixels(s);
    const index_t total = s.N * O;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (total * C >= kParallelMinElements)
#endif
    for (index_t m = 0; m < total; m++) {
        const index_t n = m / O, r = m % O;
        const index_t ow = r % s.out[2], oh = (r / s.out[2]) % s.out[1], od = r / (s.out[2] * s.out[1]);
        const Window win = window_of(s, od, oh, ow);
        const float* xn = x + n * S * C;  // seek to image n
        float* yr = y + m * C;
        std::fill(yr, yr + C, 0.0f);
        for (index_t d = win.lo[0]; d < win.hi[0]; d++)
            for (index_t h = win.lo[1]; h < win.hi[1]; h++)
                for (index_t w = win.lo[2]; w < win.hi[2]; w++) {
                    const float* xr = xn + ((d * s.in[1] + h) * s.in[2] + w) * C;
                    for (index_t c = 0; c < C; c++) yr[c] += xr[c];
                }
        const float inv = 1.0f / (float)win.count();
        for (index_t c = 0; c < C; c++) yr[c] *= inv;
    }
}

void avgpool_backward(float* dx, const float* dy, const PoolShape& s) {
    // dx (N, D, H, W, C); dy (N, OD, OH, OW, C)
    const index_t C = s.C, S = in_pixels(s), O = out_pixels(s);
    const index_t cblocks = (C + kChannelBlock - 1) / kChannelBlock;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (s.N * S * C >= kParallelMinElements)
#endif
    for (index_t it = 0; it < s.N * cblocks; it++) {
        const index_t n = it / cblocks, c0 = (it % cblocks) * kChannelBlock;
        const index_t c1 = std::min(C, c0 + kChannelBlock);
        float* dxn = dx + n * S * C;  // seek to image n
        for (index_t p = 0; p < S; p++) std::fill(dxn + p * C + c0, dxn + p * C + c1, 0.0f);
        for (index_t r = 0; r < O; r++) {
            const index_t ow = r % s.out[2], oh = (r / s.out[2]) % s.out[1], od = r / (s.out[2] * s.out[1]);
            const Window win = window_of(s, od, oh, ow);
            const float inv = 1.0f / (float)win.count();
            const float* g = dy + (n * O + r) * C;
            for (index_t d = win.lo[0]; d < win.hi[0]; d++)
                for (index_t h = win.lo[1]; h < win.hi[1]; h++)
                    for (index_t w = win.lo[2]; w < win.hi[2]; w++) {
                        float* xr = dxn + ((d * s.in[1] + h) * s.in[2] + w) * C;
                        for (index_t c = c0; c < c1; c++) xr[c] += g[c] * inv;
                    }
        }
    }
}

// Positions a global average adds in one float sum (then in double): beyond every map of the
// course models (7 × 7 to 32 × 32), which keep the plain loop.
static constexpr index_t kGlobalPoolBlock = 1024;

void global_avgpool_forward(float* y, const float* x, index_t N, index_t S, index_t C) {
    // y (N, C); x (N, S, C)
    const float inv = 1.0f / (float)S;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * S * C >= kParallelMinElements)
#endif
    for (index_t n = 0; n < N; n++) {
        const float* xn = x + n * S * C;  // seek to image n
        float* yr = y + n * C;
        if (S <= kGlobalPoolBlock) {
            std::fill(yr, yr + C, 0.0f);
            for (index_t p = 0; p < S; p++)
                for (index_t c = 0; c < C; c++) yr[c] += xn[p * C + c];
            for (index_t c = 0; c < C; c++) yr[c] *= inv;
            continue;
        }
        // A large map (a million positions would drift 1e-3 in one float sum): float sums of
        // blocks of positions, added up in double, a chunk of channels at a time (on the stack)
        constexpr index_t kChunk = 64;
        for (index_t c0 = 0; c0 < C; c0 += kChunk) {
            const index_t cn = std::min(kChunk, C - c0);
            double total[kChunk] = {};
            float block[kChunk];
            for (index_t p0 = 0; p0 < S; p0 += kGlobalPoolBlock) {
                const index_t p1 = std::min(S, p0 + kGlobalPoolBlock);
                std::fill(block, block + cn, 0.0f);
                for (index_t p = p0; p < p1; p++)
                    for (index_t c = 0; c < cn; c++) block[c] += xn[p * C + c0 + c];
                for (index_t c = 0; c < cn; c++) total[c] += block[c];
            }
            for (index_t c = 0; c < cn; c++) yr[c0 + c] = (float)(total[c] / (double)S);
        }
    }
}

void global_avgpool_backward(float* dx, const float* dy, index_t N, index_t S, index_t C) {
    // dx (N, S, C); dy (N, C)
    const float inv = 1.0f / (float)S;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (N * S * C >= kParallelMinElements)
#endif
    for (index_t n = 0; n < N; n++) {
        const float* g = dy + n * C;
        float* dxn = dx + n * S * C;  // seek to image n
        for (index_t p = 0; p < S; p++)
            for (index_t c = 0; c < C; c++) dxn[p * C + c] = g[c] * inv;
    }
}

}  // namespace fastnn
