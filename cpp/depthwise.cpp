// depthwise.cpp — depthwise convolution, 1-D/2-D/3-D channels-last, forward and backward: Keras's
// DepthwiseConv1D/2D and the first half of SeparableConv1D/2D.
//
//   x (N, D, H, W, C)   w (KD, KH, KW, C, M)   y (N, OD, OH, OW, C·M)   (ConvShape: s.OC = C·M)
//   y[n, o, c·M + m] = act(Σ_t x[n, in(o, t), c] · w[t, c, m] + b[c·M + m])
//
// Each channel is convolved on its own, so there is no GEMM: an output value costs `taps` FMAs, and
// every operand is contiguous along the channels. All the arithmetic is in row kernels for M = 1
// (y's channels are x's), vectorised along the channels:
//   forward : a row of outputs (n, od, oh) reads the rows of x its (kd, kh) taps fall on; blocks of
//             positions with every kw tap inside keep P × 8·NV accumulators in registers over all
//             taps, the border positions take their own taps;
//   backward: image by image, dz = dy ⊙ act'(y) (in scratch, while it stays in L2; dy itself
//             for linear), then dw and db row by row into the image's chunk's partials (added in
//             chunk order: no dependence on the thread count), then dx a row at a time, gathering
//             the outputs that read it: for unit strides the same row kernel over dz's rows with
//             the kernel flipped, for strides s the input positions of each residue mod s, whose
//             taps are every s-th kw (no scatter, no atomics).
// M > 1 is M = 1 over x with each channel repeated M times (x·M in scratch; dx summed back).
// Parameter gradients accumulate (+=), dx is overwritten (fastnn.h).

#include <algorithm>
#include <cstring>

#include "fastnn.h"

namespace fastnn {

namespace {

index_t taps_of(const ConvShape& s) { return s.k[0] * s.k[1] * s.k[2]; }
index_t in_pixels(const ConvShape& s) { return s.in[0] * s.in[1] * s.in[2]; }
index_t out_pixels(const ConvShape& s) { return s.out[0] * s.out[1] * s.out[2]; }

inline int thread_id() {
#ifdef FASTNN_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

#if defined(__GNUC__) || defined(__clang__)
#define FASTNN_DW_INLINE inline __attribute__((always_inline))
#else
#define FASTNN_DW_INLINE inline
#endif

// Eight floats as one value: a GCC/Clang vector (an AVX register in the AVX2 and AVX-512 clones,
// two SSE registers in the baseline one), or a plain array elsewhere. Loads and stores are
// unaligned. Written out because GCC's own vectorisation of the same loops over float arrays kept
// some accumulators in memory (1.3-5x slower, depending on the block shape).
#if defined(__GNUC__) || defined(__clang__)
typedef float V8 __attribute__((vector_size(32)));
#else
struct V8 {
    float f[8];
    V8& operator+=(const V8& o) {
        for (int i = 0; i < 8; i++) f[i] += o.f[i];
        return *this;
    }
    V8 operator*(const V8& o) const {
        V8 r;
        for (int i = 0; i < 8; i++) r.f[i] = f[i] * o.f[i];
        return r;
    }
};
#endif
FASTNN_DW_INLINE V8 load8(const float* p) {
    V8 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
FASTNN_DW_INLINE void store8(float* p, V8 v) { std::memcpy(p, &v, sizeof v); }

// Floor and ceiling of a / b for b > 0 and a of either sign.
inline index_t floor_div(index_t a, index_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline index_t ceil_div(index_t a, index_t b) { return a >= 0 ? (a + b - 1) / b : -(-a / b); }

// ---------------------------------------------------------------------------------------------
// Geometry of the D and H axes: which rows a row of outputs reads, which read a row of inputs.

// The taps k along axis a that output position o reads inside the input, [lo, hi); the input
// position of tap k is base + k·dilation.
struct TapRange {
    index_t lo, hi, base;
};
inline TapRange tap_range(const ConvShape& s, int a, index_t o) {
    const index_t base = o * s.stride[a] - s.pad[a], d = s.dilation[a];
    const index_t lo = base >= 0 ? 0 : ceil_div(-base, d);
    const index_t hi = base > s.in[a] - 1 ? 0 : std::min(s.k[a], (s.in[a] - 1 - base) / d + 1);
    return {lo, std::max(lo, hi), base};
}

// The (tap, output position) pairs that read input position i along axis a, into k_out/o_out;
// returns their count (at most s.k[a]).
index_t reading_taps(const ConvShape& s, int a, index_t i, index_t* k_out, index_t* o_out) {
    index_t n = 0;
    for (index_t k = 0; k < s.k[a]; k++) {
        const index_t num = i + s.pad[a] - k * s.dilation[a];
        if (num < 0) break;  // only decreases with k
        if (num % s.stride[a] == 0 && num / s.stride[a] < s.out[a]) {
            k_out[n] = k;
            o_out[n] = num / s.stride[a];
            n++;
        }
    }
    return n;
}

// ---------------------------------------------------------------------------------------------
// The row kernel. A row of `positions` outputs reads R source rows (its (kd, kh) taps); position
// p reads source position p·pstep + base + k·kstep of each row for its taps k < K along W, with
// ld floats (the channels) per source position. Output position p is at out + p·out_step, tap k
// of kernel row r at w[r] + k·w_step.
//   forward: x's rows, pstep = stride, base = -pad, kstep = dilation, out_step = w_step = C;
//   input gradient: dz's rows, positions of one residue mod the stride, kstep = -1 or -dilation.
struct RowTaps {
    const float* const* src;  // R source rows
    const float* const* w;    // R kernel rows, at their first tap
    index_t R, ld, pstep, base, kstep, K, src_len, out_step, w_step;
    // every (r, k) tap flat: what position 0 reads and its kernel vector (R·K entries), so the
    // positions with every tap inside run one loop over them; filled by taps_row
    const float** flat_src;
    const float** flat_w;
};

// The taps [lo, hi) of position p that land inside the source row.
inline void k_range(const RowTaps& t, index_t p, index_t* lo, index_t* hi) {
    const index_t a = p * t.pstep + t.base, last = t.src_len - 1;
    if (t.kstep > 0) {  // 0 <= a + k·kstep <= last
        *lo = a >= 0 ? 0 : ceil_div(-a, t.kstep);
        *hi = a > last ? 0 : std::min(t.K, (last - a) / t.kstep + 1);
    } else {  // 0 <= a - k·|kstep| <= last
        const index_t ks = -t.kstep;
        *lo = a <= last ? 0 : ceil_div(a - last, ks);
        *hi = a < 0 ? 0 : std::min(t.K, a / ks + 1);
    }
    *hi = std::max(*hi, *lo);
}

// The positions [lo, hi) whose K taps are all inside the source row (a contiguous range).
void full_positions(const RowTaps& t, index_t positions, index_t* lo, index_t* hi) {
    const index_t span = (t.K - 1) * (t.kstep > 0 ? t.kstep : -t.kstep), last = t.src_len - 1;
    // the first tap's source position a = p·pstep + base must lie in [a_min, a_max]
    const index_t a_min = t.kstep > 0 ? 0 : span, a_max = t.kstep > 0 ? last - span : last;
    *lo = std::max<index_t>(0, ceil_div(a_min - t.base, t.pstep));
    *hi = std::min(positions, floor_div(a_max - t.base, t.pstep) + 1);
    if (*hi < *lo) *lo = *hi = 0;
}

// Channels [c0, c0 + 8·NV) of P consecutive positions from p0 (NV = 0: the one channel c0): P·NV
// vector accumulators held in registers across every tap, each kernel vector loaded once for the
// P positions. `full`: every tap is inside for all P positions (the flat list); else (P = 1, a
// border position) the taps [klo, khi) of each row.
template <int NV, int P, bool full>
FASTNN_DW_INLINE void row_positions(float* FASTNN_RESTRICT out, const float* init, const RowTaps& t, index_t c0,
                                    index_t p0, index_t klo, index_t khi) {
    constexpr int L = NV > 0 ? NV : 1;
    const index_t step = t.pstep * t.ld;  // from one position to the next in the source
    V8 acc[P][L];
    float one[P];  // NV = 0
    for (int q = 0; q < P; q++) {
        for (int v = 0; v < NV; v++) acc[q][v] = init ? load8(init + c0 + 8 * v) : V8{};
        one[q] = init ? init[c0] : 0.0f;
    }
    auto tap = [&](const float* FASTNN_RESTRICT x0, const float* FASTNN_RESTRICT wk) {
        if constexpr (NV > 0) {
            for (int v = 0; v < NV; v++) {
                const V8 wv = load8(wk + 8 * v);
                for (int q = 0; q < P; q++) acc[q][v] += load8(x0 + q * step + 8 * v) * wv;
            }
        } else {
            for (int q = 0; q < P; q++) one[q] += x0[q * step] * wk[0];
        }
    };
    if constexpr (full) {
        const index_t nt = t.R * t.K, offset = p0 * step + c0;
        for (index_t k = 0; k < nt; k++) tap(t.flat_src[k] + offset, t.flat_w[k] + c0);
    } else {
        for (index_t r = 0; r < t.R; r++)
            for (index_t k = klo; k < khi; k++)
                tap(t.src[r] + (p0 * t.pstep + t.base + k * t.kstep) * t.ld + c0, t.w[r] + k * t.w_step + c0);
    }
    for (int q = 0; q < P; q++) {
        float* o = out + (p0 + q) * t.out_step + c0;
        for (int v = 0; v < NV; v++) store8(o + 8 * v, acc[q][v]);
        if constexpr (NV == 0) o[0] = one[q];
    }
}

// Channels [c0, c0 + 8·NV) of every position: the border positions one at a time with their own
// taps, the positions [full_lo, full_hi) with every tap in blocks of P.
template <int NV, int P>
FASTNN_DW_INLINE void row_block(float* out, const float* init, const RowTaps& t, index_t c0, index_t positions,
                                index_t full_lo, index_t full_hi) {
    auto border = [&](index_t p) {
        index_t lo, hi;
        k_range(t, p, &lo, &hi);
        row_positions<NV, 1, false>(out, init, t, c0, p, lo, hi);
    };
    for (index_t p = 0; p < full_lo; p++) border(p);
    index_t p = full_lo;
    for (; p + P <= full_hi; p += P) row_positions<NV, P, true>(out, init, t, c0, p, 0, t.K);
    for (; p < full_hi; p++) row_positions<NV, 1, true>(out, init, t, c0, p, 0, t.K);
    for (p = std::max(full_hi, full_lo); p < positions; p++) border(p);
}

// out = init (or 0) + the row's taps, for every position and channel. Multi-versioned: the blocks
// of 8 channels are AVX registers where the CPU has them. K = 0 writes init.
FASTNN_ELEMENTWISE void taps_row(float* out, const float* init, const RowTaps& t, index_t positions) {
    for (index_t r = 0, i = 0; r < t.R; r++)
        for (index_t k = 0; k < t.K; k++, i++) {
            t.flat_src[i] = t.src[r] + (t.base + k * t.kstep) * t.ld;
            t.flat_w[i] = t.w[r] + k * t.w_step;
        }
    index_t lo = 0, hi = positions, c = 0;  // with no taps every position is "full"
    if (t.K > 0) full_positions(t, positions, &lo, &hi);
    for (; c + 32 <= t.ld; c += 32) row_block<4, 2>(out, init, t, c, positions, lo, hi);
    for (; c + 8 <= t.ld; c += 8) row_block<1, 4>(out, init, t, c, positions, lo, hi);
    for (; c < t.ld; c++) row_block<0, 4>(out, init, t, c, positions, lo, hi);
}

// The weight gradient of one output row (forward geometry, kstep > 0):
// dw_r[k·ld + c] += Σ_p src_r[(p·pstep + base + k·kstep)·ld + c] · g[p·ld + c], each tap k over
// the positions that read inside the source (contiguous), 8·NV accumulators along the row.
template <int NV>
FASTNN_DW_INLINE void weight_row_block(float* const* dw, const float* g, const RowTaps& t, index_t c0,
                                       index_t positions) {
    constexpr int L = NV > 0 ? NV : 1;
    for (index_t r = 0; r < t.R; r++)
        for (index_t k = 0; k < t.K; k++) {
            const index_t a = t.base + k * t.kstep;  // position p reads p·pstep + a
            const index_t p_lo = std::max<index_t>(0, ceil_div(-a, t.pstep));
            const index_t p_hi = std::min(positions, floor_div(t.src_len - 1 - a, t.pstep) + 1);
            V8 acc[L] = {};
            float one = 0.0f;
            for (index_t p = p_lo; p < p_hi; p++) {
                const float* FASTNN_RESTRICT xp = t.src[r] + (p * t.pstep + a) * t.ld + c0;
                const float* FASTNN_RESTRICT gp = g + p * t.ld + c0;
                if constexpr (NV > 0)
                    for (int v = 0; v < NV; v++) acc[v] += load8(xp + 8 * v) * load8(gp + 8 * v);
                else
                    one += xp[0] * gp[0];
            }
            float* d = dw[r] + k * t.ld + c0;
            for (int v = 0; v < NV; v++) store8(d + 8 * v, load8(d + 8 * v) + acc[v]);
            if constexpr (NV == 0) d[0] += one;
        }
}

FASTNN_ELEMENTWISE void weight_row(float* const* dw, const float* g, const RowTaps& t, index_t positions) {
    index_t c = 0;
    for (; c + 32 <= t.ld; c += 32) weight_row_block<4>(dw, g, t, c, positions);
    for (; c + 8 <= t.ld; c += 8) weight_row_block<1>(dw, g, t, c, positions);
    for (; c < t.ld; c++) weight_row_block<0>(dw, g, t, c, positions);
}

// ---------------------------------------------------------------------------------------------
// Each thread's lists, carved once per call from the caller's scratch.

struct Lists {
    index_t* pairs;      // 2·(KD + KH): the (tap, output) pairs of an input row along D and H
    const float** rows;  // 2·KD·KH: a row kernel's source rows, then its kernel rows
    float** grad_rows;   // KD·KH: the dw partial's rows of the same taps
    const float** flat;  // 2·taps: RowTaps::flat_src, flat_w
};

struct AllLists {
    Lists base;
    index_t pair_count, row_count, taps;
    Lists of(int thread) const {
        return {base.pairs + thread * pair_count, base.rows + thread * 2 * row_count,
                base.grad_rows + thread * row_count, base.flat + thread * 2 * taps};
    }
    static index_t floats(const ConvShape& s, int threads) {
        const index_t kk = s.k[0] * s.k[1];
        return Carver::floats(threads * 2 * (s.k[0] + s.k[1]), sizeof(index_t)) +
               Carver::floats(threads * 2 * kk, sizeof(float*)) + Carver::floats(threads * kk, sizeof(float*)) +
               Carver::floats(threads * 2 * taps_of(s), sizeof(float*));
    }
    static AllLists carve(Carver& sc, const ConvShape& s, int threads) {
        AllLists a{{}, 2 * (s.k[0] + s.k[1]), s.k[0] * s.k[1], taps_of(s)};
        a.base.pairs = sc.take<index_t>(threads * a.pair_count);
        a.base.rows = sc.take<const float*>(threads * 2 * a.row_count);
        a.base.grad_rows = sc.take<float*>(threads * a.row_count);
        a.base.flat = sc.take<const float*>(threads * 2 * a.taps);
        return a;
    }
};

// Output row (n, od, oh) as a row kernel over image xn: the (kd, kh) taps inside the input, their
// x rows and kernel rows, and (dw_base given) the dw partial's rows.
RowTaps output_row(const ConvShape& s, const float* xn, const float* w, index_t od, index_t oh, const Lists& l,
                   float* dw_base = nullptr) {
    const TapRange rd = tap_range(s, 0, od), rh = tap_range(s, 1, oh);
    const index_t C = s.C, row = s.in[2] * C, kw_row = s.k[2] * C;
    const float** src = l.rows;
    const float** wr = l.rows + s.k[0] * s.k[1];
    index_t R = 0;
    for (index_t kd = rd.lo; kd < rd.hi; kd++)
        for (index_t kh = rh.lo; kh < rh.hi; kh++, R++) {
            src[R] = xn + ((rd.base + kd * s.dilation[0]) * s.in[1] + rh.base + kh * s.dilation[1]) * row;
            wr[R] = w + (kd * s.k[1] + kh) * kw_row;
            if (dw_base) l.grad_rows[R] = dw_base + (kd * s.k[1] + kh) * kw_row;
        }
    return {src, wr, R, C, s.stride[2], -s.pad[2], s.dilation[2], s.k[2], s.in[2], C, C, l.flat, l.flat + taps_of(s)};
}

// ---------------------------------------------------------------------------------------------
// M = 1: s.OC == s.C.

void forward_m1(float* y, const float* x, const float* w, const float* b, const ConvShape& s, Act act, float alpha) {
    const index_t C = s.C, S = in_pixels(s), rows = s.N * s.out[0] * s.out[1], OW = s.out[2];
    const int threads = num_threads();
    Carver scratch = Carver::slot(1, AllLists::floats(s, threads));
    const AllLists lists = AllLists::carve(scratch, s, threads);
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(threads) schedule(static) if (rows * OW * C * taps_of(s) >= (1 << 16) && !omp_in_parallel())
#endif
    for (index_t r = 0; r < rows; r++) {  // r = (n, od, oh)
        DenormalGuard denormals;
        const index_t n = r / (s.out[0] * s.out[1]), od = r / s.out[1] % s.out[0], oh = r % s.out[1];
        float* yr = y + r * OW * C;
        taps_row(yr, b, output_row(s, x + n * S * C, w, od, oh, lists.of(thread_id())), OW);
        if (act != Act::Softmax) activation_inplace(yr, OW * C, act, alpha);
    }
    if (act == Act::Softmax) activation_forward(y, y, rows * OW, C, act, alpha);
}

// dx row r = (n, id, ih) from g = dz: for each residue ρ mod the W stride, the input positions
// iw = ρ + j·stride are read by taps kw ≡ ρ + pad (mod stride) at output j + (ρ + pad - kw)/stride
// (dilation is 1 when the stride is not); with unit stride, every kw at iw + pad - kw·dilation.
void input_grad_row(float* dxr, const float* gn, const float* w, const ConvShape& s, index_t id, index_t ih,
                    const Lists& l) {
    const index_t C = s.C, OW = s.out[2], W = s.in[2], sw = s.stride[2];
    index_t *kd = l.pairs, *od = kd + s.k[0], *kh = od + s.k[0], *oh = kh + s.k[1];
    const index_t nd = reading_taps(s, 0, id, kd, od), nh = reading_taps(s, 1, ih, kh, oh);
    const float** src = l.rows;
    const float** wr = l.rows + s.k[0] * s.k[1];
    for (index_t rho = 0; rho < std::min(sw, W); rho++) {
        // this residue's taps kw = kw0 + i·tap_step below KW
        const index_t kw0 = (rho + s.pad[2]) % sw, tap_step = sw;  // unit stride: kw0 = 0, every kw
        const index_t K = kw0 < s.k[2] ? (s.k[2] - kw0 + tap_step - 1) / tap_step : 0;
        index_t R = 0;
        for (index_t a = 0; a < nd; a++)
            for (index_t b = 0; b < nh; b++, R++) {
                src[R] = gn + (od[a] * s.out[1] + oh[b]) * OW * C;
                wr[R] = w + ((kd[a] * s.k[1] + kh[b]) * s.k[2] + kw0) * C;
            }
        const index_t positions = (W - rho + sw - 1) / sw;
        // position j reads output j + (rho + pad - kw0)/sw - i (unit stride: j + pad - i·dilation)
        const index_t base = sw == 1 ? s.pad[2] : (rho + s.pad[2] - kw0) / sw;
        const index_t kstep = sw == 1 ? -s.dilation[2] : -1;
        const RowTaps t{src, wr, K > 0 ? R : 0, C, 1, base, kstep, K, OW, sw * C, tap_step * C, l.flat,
                        l.flat + taps_of(s)};
        taps_row(dxr + rho * C, nullptr, t, positions);
    }
}

// The backward works image by image: an image's dz (formed in the thread's scratch when the
// activation is not linear), its dw/db terms and its dx, while dz is still in L2, so dz never goes
// to memory (dy, y and x are read once, dx written once). Images are grouped into at most
// kMaxChunks chunks, a function of N only, each with its own dw/db partial, added in chunk order.
constexpr index_t kMaxChunks = 64;

void backward_m1(float* dx, float* dw, float* db, const float* dy, const float* y, const float* x, const float* w,
                 const ConvShape& s, Act act, float alpha) {
    const index_t C = s.C, taps = taps_of(s), S = in_pixels(s), O = out_pixels(s), OW = s.out[2];
    const index_t rows = s.out[0] * s.out[1], in_rows = s.in[0] * s.in[1];  // per image
    const int threads = num_threads();
    const index_t per_chunk = (s.N + kMaxChunks - 1) / kMaxChunks, chunks = (s.N + per_chunk - 1) / per_chunk;
    const bool need_dz = act != Act::Linear, need_params = dw || db;
    const index_t partial_floats = need_params ? chunks * (taps + 1) * C : 0;
    Carver scratch = Carver::slot(1, Carver::floats({need_dz ? threads * O * C : 0, partial_floats}) +
                                         AllLists::floats(s, threads));
    float* dz = need_dz ? scratch.take(threads * O * C) : nullptr;
    float* partial = scratch.take(partial_floats);
    const AllLists lists = AllLists::carve(scratch, s, threads);
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(threads) schedule(static) if (s.N * O * C * taps >= (1 << 16) && !omp_in_parallel())
#endif
    for (index_t ch = 0; ch < chunks; ch++) {
        DenormalGuard denormals;
        const int t = thread_id();
        const Lists l = lists.of(t);
        float* pw = need_params ? partial + ch * (taps + 1) * C : nullptr;  // (taps, C) then db's (C,)
        if (pw) std::fill(pw, pw + (taps + 1) * C, 0.0f);
        for (index_t n = ch * per_chunk; n < std::min(s.N, (ch + 1) * per_chunk); n++) {
            const float* g = dy + n * O * C;
            if (need_dz) {
                activation_backward(dz + t * O * C, g, y + n * O * C, O, C, act, alpha);
                g = dz + t * O * C;
            }
            const float* xn = x + n * S * C;
            for (index_t r = 0; r < rows && need_params; r++) {  // r = (od, oh)
                const float* gr = g + r * OW * C;
                if (db) {
                    float* pb = pw + taps * C;
                    for (index_t ow = 0; ow < OW; ow++)
                        for (index_t j = 0; j < C; j++) pb[j] += gr[ow * C + j];
                }
                if (dw) weight_row(l.grad_rows, gr, output_row(s, xn, w, r / s.out[1], r % s.out[1], l, pw), OW);
            }
            for (index_t r = 0; r < in_rows && dx; r++)  // r = (id, ih)
                input_grad_row(dx + (n * in_rows + r) * s.in[2] * C, g, w, s, r / s.in[1], r % s.in[1], l);
        }
    }
    for (index_t ch = 0; ch < chunks && need_params; ch++) {
        const float* pw = partial + ch * (taps + 1) * C;
        if (dw)
            for (index_t i = 0; i < taps * C; i++) dw[i] += pw[i];
        if (db)
            for (index_t j = 0; j < C; j++) db[j] += pw[taps * C + j];
    }
}

// x (pixels, C) -> xm (pixels, C·M) with each channel repeated M times, or back: dx (pixels, C) =
// the sums of dxm's M consecutive channels.
void repeat_channels(float* xm, const float* x, index_t pixels, index_t C, index_t M) {
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (pixels * C * M >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t p = 0; p < pixels; p++)
        for (index_t c = 0; c < C; c++)
            for (index_t m = 0; m < M; m++) xm[(p * C + c) * M + m] = x[p * C + c];
}

void sum_channel_groups(float* dx, const float* dxm, index_t pixels, index_t C, index_t M) {
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (pixels * C * M >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t p = 0; p < pixels; p++)
        for (index_t c = 0; c < C; c++) {
            float sum = 0.0f;
            for (index_t m = 0; m < M; m++) sum += dxm[(p * C + c) * M + m];
            dx[p * C + c] = sum;
        }
}

}  // namespace

void depthwise_conv_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s, Act act,
                            float alpha) {
    const index_t M = s.OC / s.C;
    if (M == 1) return forward_m1(y, x, w, b, s, act, alpha);
    ConvShape s1 = s;  // over x with each channel repeated M times
    s1.C = s.OC;
    const index_t pixels = s.N * in_pixels(s);
    float* xm = thread_scratch(2, (size_t)(pixels * s.OC));
    repeat_channels(xm, x, pixels, s.C, M);
    forward_m1(y, xm, w, b, s1, act, alpha);
}

void depthwise_conv_backward(float* dx, float* dw, float* db, const float* dy, const float* y, const float* x,
                             const float* w, const ConvShape& s, Act act, float alpha) {
    const index_t M = s.OC / s.C;
    if (M == 1) return backward_m1(dx, dw, db, dy, y, x, w, s, act, alpha);
    ConvShape s1 = s;
    s1.C = s.OC;
    const index_t pixels = s.N * in_pixels(s), wide = pixels * s.OC;
    Carver scratch = Carver::slot(2, Carver::floats({dw ? wide : 0, dx ? wide : 0}));
    float* xm = dw ? scratch.take(wide) : nullptr;
    float* dxm = dx ? scratch.take(wide) : nullptr;
    if (xm) repeat_channels(xm, x, pixels, s.C, M);
    backward_m1(dxm, dw, db, dy, y, xm, w, s1, act, alpha);
    if (dx) sum_channel_groups(dx, dxm, pixels, s.C, M);
}

}  // namespace fastnn
