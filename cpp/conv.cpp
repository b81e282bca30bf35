// conv.cpp — convolution, 1-D/2-D/3-D channels-last, forward and backward, on top of the one sgemm.
//
// The NHWC convolution is a GEMM: y (M × OC) = col (M × K) · w (K × OC), M = N·OD·OH·OW output
// pixels, K = KD·KH·KW·C; Keras's kernel layout (KD, KH, KW, C, OC) already is the row-major K × OC
// matrix, and row m of col ("im2col") is the receptive field of output pixel m, tap by tap, C
// contiguous floats per tap (zeros where the tap falls in the padding). col is never built whole:
// it is gathered for a tile of kColTileFloats/K output pixels at a time, so the workspace stays
// at a few MB whatever the batch size.
//   forward : y = act(col · w + b), bias and activation in the GEMM's epilogue (in L1, per tile)
//   backward: dz = dy ⊙ act'(y); db += Σ_m dz; dw += colᵀ · dz (the pixels are the GEMM's k loop;
//             the implicit path gives each thread whole tiles of images and sums them in fixed
//             groups, see BackwardTiles: no dependence on the thread count);
//             dx = dz · wᵀ scattered back to the input pixels: on the implicit path per tap and
//             output row straight into dx by the kernel's epilogue, or (when that wastes less) as
//             a forward convolution of dz with the spatially flipped kernel (unit strides) or a
//             dcol = dz · wᵀ and its "col2im" (tiny images); see InputGrad.
// Parameter gradients accumulate (+=), dx is overwritten. What this file does not do: groups,
// depthwise convolution, transposed convolution as a layer.

#include <algorithm>
#include <cstring>
#include <string>

#include "conv_ukernel.h"
#include "fastnn.h"

namespace fastnn {

const ConvKernelInfo& conv_kernels() {
    // follow the GEMM's run-time choice (so forcing a GEMM kernel in tests forces these too)
#ifdef FASTNN_X86_KERNELS
    const char* name = gemm_kernel_name();
    if (std::strcmp(name, "avx512") == 0) return conv_kernel_avx512;
    if (std::strcmp(name, "avx2-fma") == 0) return conv_kernel_avx2;
#endif
    return conv_kernel_generic;
}

namespace {

// Floats of im2col workspace per tile (4 MB): small enough for the last-level cache share of a
// core, large enough that each tile is a GEMM of hundreds of rows.
constexpr index_t kColTileFloats = index_t(1) << 20;

index_t taps(const ConvShape& s) { return s.k[0] * s.k[1] * s.k[2]; }
index_t out_pixels(const ConvShape& s) { return s.out[0] * s.out[1] * s.out[2]; }
index_t in_pixels(const ConvShape& s) { return s.in[0] * s.in[1] * s.in[2]; }

// Rows per im2col tile: a fixed function of the shape, never of the thread count, so the order in
// which tiles are summed into dw is the same on any machine.
index_t col_tile_rows(index_t M, index_t K) {
    return std::min(M, std::max<index_t>(16, kColTileFloats / std::max<index_t>(K, 1)));
}

// Output pixel m (flat over N, OD, OH, OW) -> its image and output coordinates.
struct Pixel {
    index_t n, o[3];
};
inline Pixel pixel_of(const ConvShape& s, index_t m) {
    Pixel p;
    p.o[2] = m % s.out[2];
    m /= s.out[2];
    p.o[1] = m % s.out[1];
    m /= s.out[1];
    p.o[0] = m % s.out[0];
    p.n = m / s.out[0];
    return p;
}

// Call f(tap, offset) for each tap of output pixel p in (kd, kh, kw) order, offset = the flat
// spatial index of the input pixel it reads, or -1 when it falls in the padding.
template <class F>
inline void for_each_tap(const ConvShape& s, const Pixel& p, F&& f) {
    index_t t = 0;
    for (index_t kd = 0; kd < s.k[0]; kd++) {
        const index_t id = p.o[0] * s.stride[0] - s.pad[0] + kd * s.dilation[0];
        const bool vd = id >= 0 && id < s.in[0];
        for (index_t kh = 0; kh < s.k[1]; kh++) {
            const index_t ih = p.o[1] * s.stride[1] - s.pad[1] + kh * s.dilation[1];
            const bool vh = vd && ih >= 0 && ih < s.in[1];
            for (index_t kw = 0; kw < s.k[2]; kw++, t++) {
                const index_t iw = p.o[2] * s.stride[2] - s.pad[2] + kw * s.dilation[2];
                const bool v = vh && iw >= 0 && iw < s.in[2];
                f(t, v ? (id * s.in[1] + ih) * s.in[2] + iw : index_t(-1));
            }
        }
    }
}

// col (m1 - m0, K) = the receptive fields of output pixels [m0, m1).
void im2col(float* col, const float* x, const ConvShape& s, index_t m0, index_t m1) {
    const index_t C = s.C, K = taps(s) * C, S = in_pixels(s);
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if ((m1 - m0) * K >= kParallelMinElements)
#endif
    for (index_t m = m0; m < m1; m++) {
        const Pixel p = pixel_of(s, m);
        const float* xn = x + p.n * S * C;  // seek to image n
        float* row = col + (m - m0) * K;
        for_each_tap(s, p, [&](index_t t, index_t off) {
            float* dst = row + t * C;
            if (off >= 0)
                std::memcpy(dst, xn + off * C, sizeof(float) * C);
            else
                std::fill(dst, dst + C, 0.0f);
        });
    }
}

// One work item of col2im_add: image n's pixels [ma, mb), channels [c0, c1). Multi-versioned like
// the other elementwise loops, so the adds run 8 or 16 wide (the baseline build's are 4 wide: on
// Zen 3 the fused second block's Dcol backward spent 6.5% of its time here).
FASTNN_ELEMENTWISE void col2im_item(float* dxn, const float* dcol, const ConvShape& s, index_t m0, index_t ma, index_t mb,
                                    index_t c0, index_t c1) {
    // Run by run of pixels on one output row, tap by tap: along a row, a tap's input column moves by
    // the stride, so its valid pixels are one range found once, and the loop over them only adds.
    // (Pixel by pixel, finding each tap's input anew cost ~15 cycles per tap: with one channel,
    // e.g. a Conv2DTranspose to one output channel, that was 60% of its forward.)
    const index_t C = s.C, K = taps(s) * C, P = out_pixels(s), OW = s.out[2], W = s.in[2], sw = s.stride[2];
    for (index_t m = ma; m < mb;) {
        const index_t q = m % P, ow0 = q % OW, row = q / OW;  // row = od·OH + oh
        const index_t end = std::min(mb, m + OW - ow0);       // the run [m, end) on this row
        const index_t oh = row % s.out[1], od = row / s.out[1];
        const float* run = dcol + (m - m0) * K;
        for (index_t kd = 0; kd < s.k[0]; kd++) {
            const index_t id = od * s.stride[0] - s.pad[0] + kd * s.dilation[0];
            if (id < 0 || id >= s.in[0]) continue;
            for (index_t kh = 0; kh < s.k[1]; kh++) {
                const index_t ih = oh * s.stride[1] - s.pad[1] + kh * s.dilation[1];
                if (ih < 0 || ih >= s.in[1]) continue;
                float* drow = dxn + (id * s.in[1] + ih) * W * C;  // seek to input row (id, ih)
                for (index_t kw = 0; kw < s.k[2]; kw++) {
                    const index_t t = (kd * s.k[1] + kh) * s.k[2] + kw;
                    // the run's columns ow with input column ow·sw + shift in [0, W)
                    const index_t shift = kw * s.dilation[2] - s.pad[2];
                    const index_t lo = std::max(ow0, shift >= 0 ? index_t(0) : (-shift + sw - 1) / sw);
                    const index_t hi = std::min(ow0 + (end - m), W - 1 - shift < 0 ? index_t(0) : (W - 1 - shift) / sw + 1);
                    for (index_t ow = lo; ow < hi; ow++) {
                        float* FASTNN_RESTRICT d = drow + (ow * sw + shift) * C;
                        const float* FASTNN_RESTRICT g = run + (ow - ow0) * K + t * C;
                        for (index_t c = c0; c < c1; c++) d[c] += g[c];
                    }
                }
            }
        }
        m = end;
    }
}

// dx += the scatter of dcol (m1 - m0, K) rows back to the input pixels they were gathered from.
// Work items are (image, channel block) pairs with disjoint writes; within an item pixels and taps
// are visited in order, so dx does not depend on the thread count.
void col2im_add(float* dx, const float* dcol, const ConvShape& s, index_t m0, index_t m1) {
    const index_t C = s.C, K = taps(s) * C, S = in_pixels(s), P = out_pixels(s);
    const index_t n0 = m0 / P, n1 = (m1 - 1) / P + 1;
    const index_t cb = 64, cblocks = (C + cb - 1) / cb;
    const index_t items = (n1 - n0) * cblocks;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if ((m1 - m0) * K >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t it = 0; it < items; it++) {
        const index_t n = n0 + it / cblocks, c0 = (it % cblocks) * cb, c1 = std::min(C, c0 + cb);
        const index_t ma = std::max(m0, n * P), mb = std::min(m1, (n + 1) * P);
        col2im_item(dx + n * S * C, dcol, s, m0, ma, mb, c0, c1);
    }
}

// dz (M, OC) = dy ⊙ act'(y) and db (OC,) += Σ_rows dz, in one pass over dy and y (db may be null;
// for linear dz is not written: the caller uses dy). Rows are cut into fixed chunks of kGradRows
// whose column sums land in partial[chunk] and are added to db in chunk order, so db depends on M
// only, never on the thread count. partial: grad_partial_floats(M, OC) floats.
constexpr index_t kGradRows = 256;
index_t grad_partial_floats(index_t M, index_t OC) { return (M + kGradRows - 1) / kGradRows * OC; }

// y (rows, C) = act(y + b) row by row on the calling thread; b may be null; never softmax.
void bias_activation_rows(float* y, const float* b, index_t rows, index_t C, Act act, float alpha) {
    for (index_t r = 0; r < rows; r++) {
        float* row = y + r * C;
        if (b)
            for (index_t j = 0; j < C; j++) row[j] += b[j];
        if (act != Act::Linear) activation_inplace(row, C, act, alpha);
    }
}

void act_grad_and_bias(float* dz, float* db, float* partial, const float* dy, const float* y, index_t M, index_t OC,
                       Act act, float alpha) {
    if (act == Act::Linear && !db) return;
    const index_t chunks = (M + kGradRows - 1) / kGradRows;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (M * OC >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t ch = 0; ch < chunks; ch++) {
        const index_t r0 = ch * kGradRows, r1 = std::min(M, r0 + kGradRows), n = (r1 - r0) * OC;
        const float* g = dy + r0 * OC;
        if (act == Act::Softmax) {  // per row over OC
            activation_backward(dz + r0 * OC, dy + r0 * OC, y + r0 * OC, r1 - r0, OC, act, alpha);
            g = dz + r0 * OC;
        } else if (act != Act::Linear) {
            activation_backward_row(dz + r0 * OC, dy + r0 * OC, y + r0 * OC, n, act, alpha);
            g = dz + r0 * OC;
        }
        if (db) column_sums(partial + ch * OC, g, r1 - r0, OC, OC);
    }
    if (db)
        for (index_t ch = 0; ch < chunks; ch++)
            for (index_t j = 0; j < OC; j++) db[j] += partial[ch * OC + j];
}

bool is_pointwise(const ConvShape& s) {
    for (int a = 0; a < 3; a++)
        if (s.k[a] != 1 || s.stride[a] != 1 || s.pad[a] != 0 || s.out[a] != s.in[a]) return false;
    return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Implicit GEMM: the gather micro-kernel (conv_ukernel.h) reads the im2col matrix straight from a
// zero-padded copy of a tile of images, A[pixel][(tap, c)] = src[pixel base + tap offset + c], so
// the column matrix is never built and nothing is packed: each input value is broadcast from L1
// into the FMAs of up to 64 output channels, and the kernel's rows are read in Keras's layout.

namespace {

// Implicit* force the implicit path; the suffixed ones also force its input gradient (tests).
enum class ConvAlgo { Auto, Im2col, Implicit, ImplicitFlipped, ImplicitScatter, ImplicitDcol };
ConvAlgo g_algo = ConvAlgo::Auto;

const ConvKernelInfo& gather_kernel_info() { return conv_kernels(); }

constexpr index_t kTileFloats = index_t(1) << 20;          // forward: padded images per tile, about 4 MB
constexpr index_t kBackwardTileFloats = index_t(1) << 18;  // backward: images, dz, padded dz: about 1 MB (L2)
constexpr index_t kChunkPixels = 96;               // output pixels per task: 16, 12 or 8 row tiles
constexpr index_t kPackedGradMinRows = 32;         // weight gradients with K >= this read dz in B panels

// The kernels' B in column panels of NR: panel j holds columns [j·NR, j·NR + NR) of B (rows × cols,
// row stride ld), row after row, zero-padded to NR; so the panel of columns from j0 starts at
// dst + j0·rows. Each k step then reads one contiguous NR-float row: read in place, a 16-column
// block of a 64-wide B touches every 4th cache line, a quarter of the L1's sets, and the AVX2
// forward ran 1.10-1.15x slower on Zen 3 (32 KB, 8-way L1).
index_t panel_floats(index_t rows, index_t cols, index_t NR) { return rows * ((cols + NR - 1) / NR * NR); }

void pack_panels(float* dst, const float* src, index_t rows, index_t cols, index_t ld, index_t NR) {
    for (index_t j0 = 0; j0 < cols; j0 += NR) {
        const index_t nb = std::min(NR, cols - j0);
        float* d = dst + j0 * rows;  // seek to the panel
        for (index_t r = 0; r < rows; r++, d += NR) {  // rows of NR floats: a loop, not a memcpy call each
            const float* from = src + r * ld + j0;
            for (index_t j = 0; j < nb; j++) d[j] = from[j];
            for (index_t j = nb; j < NR; j++) d[j] = 0.0f;
        }
    }
}

// n cut into equal blocks of at most `most` (no short last block): the block length.
index_t balanced_block(index_t n, index_t most) {
    const index_t blocks = (n + most - 1) / most;
    return (n + blocks - 1) / blocks;
}

// A zero-padded copy of the images that holds every window: dims (Dp, Hp, Wp) and where the
// input starts inside it. needed = false when the input itself already holds every window.
struct Padded {
    index_t dims[3], before[3];
    bool needed;
};

Padded padded_geometry(const ConvShape& s) {
    Padded p;
    p.needed = false;
    for (int a = 0; a < 3; a++) {
        const index_t reach = (s.out[a] - 1) * s.stride[a] + (s.k[a] - 1) * s.dilation[a] + 1;
        p.before[a] = s.pad[a];
        p.dims[a] = std::max(s.pad[a] + s.in[a], reach);
        p.needed = p.needed || s.pad[a] > 0 || reach > s.in[a];
    }
    return p;
}

index_t padded_image_floats(const Padded& p, index_t C) { return p.dims[0] * p.dims[1] * p.dims[2] * C; }

// dst (nt, Dp, Hp, Wp, C) = images [n0, n0 + nt) of x (N, D, H, W, C), zeros around them.
void pad_images(float* dst, const float* x, const ConvShape& s, const Padded& p, index_t n0, index_t nt) {
    const index_t C = s.C, row = p.dims[2] * C, S = in_pixels(s);
    const index_t rows = nt * p.dims[0] * p.dims[1];
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * row >= kParallelMinElements && !omp_in_parallel())
#endif
    for (index_t r = 0; r < rows; r++) {
        const index_t h = r % p.dims[1], d = (r / p.dims[1]) % p.dims[0], n = r / (p.dims[1] * p.dims[0]);
        float* out = dst + r * row;
        const index_t id = d - p.before[0], ih = h - p.before[1];
        if (id < 0 || id >= s.in[0] || ih < 0 || ih >= s.in[1]) {
            std::fill(out, out + row, 0.0f);
            continue;
        }
        const float* src = x + (n0 + n) * S * C + (id * s.in[1] + ih) * s.in[2] * C;  // seek to input row
        const index_t lead = p.before[2] * C, body = s.in[2] * C;
        std::fill(out, out + lead, 0.0f);
        std::memcpy(out + lead, src, sizeof(float) * body);
        std::fill(out + lead + body, out + row, 0.0f);
    }
}

// off[(t, c)] = where tap t, channel c sits relative to a pixel's window origin in a padded image.
void tap_offsets(int64_t* off, const ConvShape& s, const index_t dims[3]) {
    index_t k = 0;
    for (index_t kd = 0; kd < s.k[0]; kd++)
        for (index_t kh = 0; kh < s.k[1]; kh++)
            for (index_t kw = 0; kw < s.k[2]; kw++) {
                const index_t base =
                    ((kd * s.dilation[0] * dims[1] + kh * s.dilation[1]) * dims[2] + kw * s.dilation[2]) * s.C;
                for (index_t c = 0; c < s.C; c++) off[k++] = base + c;
            }
}

// The window origin of output pixels [m0, m0 + count) of a tile (flat over nt, OD, OH, OW) in the
// padded images, written as offsets (from src) into base[].
void pixel_offsets(int64_t* base, const ConvShape& s, const index_t dims[3], index_t m0, index_t count) {
    index_t ow = m0 % s.out[2], r = m0 / s.out[2];
    index_t oh = r % s.out[1];
    r /= s.out[1];
    index_t od = r % s.out[0], n = r / s.out[0];
    for (index_t i = 0; i < count; i++) {
        base[i] = (((n * dims[0] + od * s.stride[0]) * dims[1] + oh * s.stride[1]) * dims[2] + ow * s.stride[2]) * s.C;
        if (++ow == s.out[2]) {
            ow = 0;
            if (++oh == s.out[1]) {
                oh = 0;
                if (++od == s.out[0]) {
                    od = 0;
                    n++;
                }
            }
        }
    }
}

// The taps that can reach real data along the outermost kernel axis with more than one tap (the
// padded input holds it at [before, before + real) along that axis): the others read zero
// padding. k runs over (taps of that axis, then the inner axes' taps and the channels), so the
// live taps are a contiguous k range per output pixel. Worth skipping where padding is a large
// share of the input: the Flipped input gradient's padded dz, 'same' convolutions of small images.
struct LiveTaps {
    int axis = -1;                   // -1: every tap is live
    index_t before = 0, real = 0;    // where the real data lies along the axis, in the padded input
    index_t taps = 1, dilation = 1;  // the axis's taps and their spacing
    index_t stride = 1;
    index_t k_per_tap = 1;           // k steps per tap of the axis: the inner axes' taps × channels
};

// s's live taps over its padded input p (none to skip when p adds no padding)
LiveTaps live_taps(const ConvShape& s, const Padded& p) {
    LiveTaps lt;
    for (int a = 0; a < 3 && lt.axis < 0 && p.needed; a++) {
        if (s.k[a] == 1) continue;
        lt.axis = a;
        lt.before = p.before[a];
        lt.real = s.in[a];
        lt.taps = s.k[a];
        lt.dilation = s.dilation[a];
        lt.stride = s.stride[a];
        lt.k_per_tap = s.C;
        for (int b = a + 1; b < 3; b++) lt.k_per_tap *= s.k[b];
    }
    return lt;
}

// The live taps [*lo, *hi] (hi < lo: none) along lt.axis of output position `pos`.
inline void live_tap_range(const LiveTaps& lt, index_t pos, index_t* lo, index_t* hi) {
    const index_t origin = pos * lt.stride;  // the window's first padded position
    const index_t first = lt.before - origin, last = lt.before + lt.real - 1 - origin;  // dilated tap offsets in range
    *lo = first <= 0 ? 0 : (first + lt.dilation - 1) / lt.dilation;
    *hi = last < 0 ? -1 : std::min(lt.taps - 1, last / lt.dilation);
}

// C's rows [0, count), C + i·ldc, = (accumulate ? C : 0) + gather(rows) · B (+ bias, relu): the
// micro-kernel's tiles one after another, in a single call where the ISA has a rows kernel.
void gather_rows(const ConvKernelInfo& kern, index_t k, const float* const* rows, index_t count, const int64_t* cols,
                 const float* B, index_t ldb, float* C, index_t ldc, index_t n, bool accumulate, const float* bias,
                 bool relu) {
    if (kern.kernel_rows) {
        kern.kernel_rows(k, rows, count, cols, B, ldb, C, ldc, n, accumulate, bias, relu);
        return;
    }
    const index_t MR = kern.mr(n);
    for (index_t i = 0; i < count; i += MR)
        kern.kernel(k, rows + i, cols, B, ldb, C + i * ldc, ldc, std::min(MR, count - i), n, accumulate, bias, relu);
}

// y (nt·P, OC) = act(gather(src) · w + b) for the nt padded images in src; koff from tap_offsets,
// wp: w (K × OC) in B panels. Tasks are chunks of kChunkPixels output pixels (disjoint rows of y);
// within a chunk each k block of a panel stays in cache while every row tile of the chunk uses it.
// With `live`, each row tile multiplies only the k range of its pixels' live taps: the rest
// would read zero padding (a tile with none gets the epilogue of a zero sum).
void gather_forward(float* y, const float* src, const index_t dims[3], const ConvShape& s, index_t nt,
                    const float* wp, const float* b, Act act, float alpha, const int64_t* koff,
                    const LiveTaps* live = nullptr) {
    const ConvKernelInfo& kern = gather_kernel_info();
    const index_t M = nt * out_pixels(s), K = taps(s) * s.C, OC = s.OC;
    const index_t NR = kern.NR, k_block = balanced_block(K, kern.k_block);
    const index_t chunks = (M + kChunkPixels - 1) / kChunkPixels;
    const bool relu = act == Act::Relu;
    const bool post = act != Act::Linear && act != Act::Relu && act != Act::Softmax;
    const bool ranged = live && live->axis >= 0;
    index_t live_step = 1;  // output pixels per step along the live axis
    for (int a = ranged ? live->axis + 1 : 3; a < 3; a++) live_step *= s.out[a];
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(dynamic, 2) if (M * K * OC >= (1 << 18) && !omp_in_parallel())
#endif
    for (index_t ch = 0; ch < chunks; ch++) {
        DenormalGuard denormals;
        const index_t m0 = ch * kChunkPixels, count = std::min(kChunkPixels, M - m0);
        int64_t base[kChunkPixels];
        const float* rows[kChunkPixels + 16];
        pixel_offsets(base, s, dims, m0, count);
        for (index_t i = 0; i < kChunkPixels + 16; i++) rows[i] = src + base[i < count ? i : 0];
        float* yc = y + m0 * OC;  // seek to the chunk's first output row
        // with live taps, each pixel's k range [k_lo, k_hi)
        index_t k_lo[kChunkPixels], k_hi[kChunkPixels];
        if (ranged) {
            for (index_t i = 0; i < count; i++) {
                index_t lo, hi;
                live_tap_range(*live, (m0 + i) / live_step % s.out[live->axis], &lo, &hi);
                k_lo[i] = lo * live->k_per_tap;
                k_hi[i] = std::max(lo, hi + 1) * live->k_per_tap;
            }
        }
        for (index_t ob = 0; ob < OC; ob += NR) {
            const index_t nb = std::min(NR, OC - ob);
            const index_t MR = kern.mr(nb);
            for (index_t kb = 0; kb < K; kb += k_block) {
                const index_t kc = std::min(k_block, K - kb);
                if (!ranged) {  // every tile over all of K
                    const bool end = kb + kc == K;
                    gather_rows(kern, kc, rows, count, koff + kb, wp + ob * K + kb * NR, NR, yc + ob, OC, nb, kb > 0,
                                end && b ? b + ob : nullptr, end && relu);
                    continue;
                }
                for (index_t i = 0; i < count; i += MR) {
                    const index_t m = std::min(MR, count - i);
                    // the tile's k range: all of K, or the union of its pixels' (padding in between reads as 0)
                    const index_t t_lo = ranged ? *std::min_element(k_lo + i, k_lo + i + m) : 0;
                    const index_t t_hi = ranged ? *std::max_element(k_hi + i, k_hi + i + m) : K;
                    const index_t lo = std::max(kb, t_lo), hi = std::min(kb + kc, t_hi);
                    const bool none = t_lo >= t_hi;  // no live tap: one call with k = 0 at the first block
                    if (lo >= hi && !(kb == 0 && none)) continue;
                    const bool end = none || hi == t_hi;  // the tile's last piece: the epilogue's turn
                    kern.kernel(std::max<index_t>(0, hi - lo), rows + i, koff + lo, wp + ob * K + lo * NR, NR,
                                yc + i * OC + ob, OC, m, nb, lo > t_lo, end && b ? b + ob : nullptr, end && relu);
                }
            }
        }
        if (post)
            for (index_t i = 0; i < count; i++) activation_inplace(yc + i * OC, OC, act, alpha);
    }
}

// dw (K, OC) += gather(src)ᵀ · dz over the M output pixels of a tile, pixels in order, on the
// calling thread (with overwrite, dw = ...: its old contents are never read); rows: K + 16
// pointers, pix: the pixels' offsets in src. dz (M × OC): the block of columns from j0 at
// dz + j0·col_step, its rows ldb apart (B panels: col_step = M, ldb = NR; in place: 1, OC). The
// pixels (k) go in blocks of at most kern.grad_pixels: a block's dz rows and the input lines its
// gathered rows touch share L1.
void gather_weight_grad(float* dw, const float* const* rows, const int64_t* pix, const float* dz, index_t col_step,
                        index_t ldb, const ConvShape& s, index_t M, bool overwrite) {
    const ConvKernelInfo& kern = gather_kernel_info();
    const index_t K = taps(s) * s.C, OC = s.OC, NR = kern.NR;
    const index_t per_block = balanced_block(M, kern.grad_pixels);
    for (index_t ob = 0; ob < OC; ob += NR) {
        const index_t nb = std::min(NR, OC - ob);
        const index_t MR = kern.mr(nb);
        // a call per tile: here, with k = a block of pixels, the rows kernel measured 0.97x
        for (index_t pb = 0; pb < M; pb += per_block) {
            const index_t kc = std::min(per_block, M - pb);
            for (index_t r = 0; r < K; r += MR)
                kern.kernel(kc, rows + r, pix + pb, dz + ob * col_step + pb * ldb, ldb, dw + r * OC + ob, OC,
                            std::min(MR, K - r), nb, pb > 0 || !overwrite, nullptr, false);
        }
    }
}

// The forward's tables, in scratch slot 2: koff (tap_offsets over dims) and wp, w in B panels.
struct ForwardTables {
    int64_t* koff;
    float* wp;
};
ForwardTables forward_tables(const ConvShape& s, const float* w, const index_t dims[3]) {
    const index_t K = taps(s) * s.C, NR = gather_kernel_info().NR;
    Carver shared = Carver::slot(2, Carver::floats(K, 8) + Carver::floats(panel_floats(K, s.OC, NR)));
    ForwardTables t;
    t.koff = shared.take<int64_t>(K);
    t.wp = shared.take<float>(panel_floats(K, s.OC, NR));
    tap_offsets(t.koff, s, dims);
    pack_panels(t.wp, w, K, s.OC, s.OC, NR);
    return t;
}

// The implicit path needs a padded image (and its gradient) to fit the workspace tile.
bool use_implicit(const ConvShape& s) {
    if (g_algo != ConvAlgo::Auto) return g_algo != ConvAlgo::Im2col;
    return padded_image_floats(padded_geometry(s), s.C) <= 4 * kTileFloats &&
           out_pixels(s) * s.OC <= 4 * kTileFloats;
}

// The unit-stride input gradient as a forward convolution of dz: kernel flipped, C and OC
// swapped, padded by (effective kernel - 1 - pad) before each axis.
ConvShape transposed_shape(const ConvShape& s) {
    ConvShape t = s;
    t.C = s.OC;
    t.OC = s.C;
    for (int a = 0; a < 3; a++) {
        t.in[a] = s.out[a];
        t.out[a] = s.in[a];
        t.pad[a] = (s.k[a] - 1) * s.dilation[a] - s.pad[a];
    }
    return t;
}

// wt (KD, KH, KW, OC, C) = w (KD, KH, KW, C, OC) with each tap transposed (and the taps reversed
// when flip), as a (taps·OC × C) matrix in B panels of NR: the block of tap t for the columns from
// c0 is at wt + c0·taps·OC + t·OC·NR.
void transpose_taps(float* wt, const float* w, const ConvShape& s, bool flip, index_t NR) {
    const index_t T = taps(s), C = s.C, OC = s.OC, rows = T * OC;
    std::fill(wt, wt + panel_floats(rows, C, NR), 0.0f);
    for (index_t t = 0; t < T; t++) {
        const float* src = w + (flip ? T - 1 - t : t) * C * OC;  // seek to the tap
        for (index_t c = 0; c < C; c++)
            for (index_t o = 0; o < OC; o++) wt[(c / NR * NR) * rows + (t * OC + o) * NR + c % NR] = src[c * OC + o];
    }
}

}  // namespace

bool conv_select_algorithm(const char* name) {
    const std::string want(name);
    if (want == "auto") g_algo = ConvAlgo::Auto;
    else if (want == "im2col") g_algo = ConvAlgo::Im2col;
    else if (want == "implicit") g_algo = ConvAlgo::Implicit;
    else if (want == "implicit-flipped") g_algo = ConvAlgo::ImplicitFlipped;
    else if (want == "implicit-scatter") g_algo = ConvAlgo::ImplicitScatter;
    else if (want == "implicit-dcol") g_algo = ConvAlgo::ImplicitDcol;
    else return false;
    return true;
}

const char* conv_algorithm() {
    switch (g_algo) {
        case ConvAlgo::Auto: return "auto";
        case ConvAlgo::Im2col: return "im2col";
        case ConvAlgo::Implicit: return "implicit";
        case ConvAlgo::ImplicitFlipped: return "implicit-flipped";
        case ConvAlgo::ImplicitScatter: return "implicit-scatter";
        case ConvAlgo::ImplicitDcol: return "implicit-dcol";
    }
    return "auto";
}

// ---------------------------------------------------------------------------------------------
// Forward

static void conv_forward_im2col(float* y, const float* x, const float* w, const float* b, const ConvShape& s,
                                Act act, float alpha) {
    const index_t M = s.N * out_pixels(s), K = taps(s) * s.C, OC = s.OC;
    Epilogue ep;
    ep.bias = b;
    ep.act = act == Act::Softmax ? Act::Linear : act;
    ep.alpha = alpha;
    const Epilogue* epp = (b || ep.act != Act::Linear) ? &ep : nullptr;
    if (is_pointwise(s)) {
        // a 1×1 convolution is a dense layer over the pixels: x already is col
        sgemm(y, OC, x, K, false, w, OC, false, M, OC, K, 1.0f, 0.0f, epp);
        return;
    }
    const index_t rows = col_tile_rows(M, K);
    float* col = thread_scratch(1, (size_t)(rows * K));
    for (index_t m0 = 0; m0 < M; m0 += rows) {
        const index_t m1 = std::min(M, m0 + rows);
        im2col(col, x, s, m0, m1);
        sgemm(y + m0 * OC, OC, col, K, false, w, OC, false, m1 - m0, OC, K, 1.0f, 0.0f, epp);
    }
}

// Output channels up to which the forward does not run the implicit kernel: a few output channels
// (an autoencoder's or a generator's image layer) fill few of its 16-32 SIMD lanes. It runs the
// row-direct convolution below where the output rows fill its blocks, else im2col tiles for sgemm's
// dot kernel. Zen 4, 2 threads, 3×3 'same', batch 128 on 28×28×32, implicit / im2col / row-direct:
// 1 channel 6.7 / 3.9 / 2.2 ms, 3: 7.0 / 4.4 / 3.3, 8: 6.8 / 6.0 / 4.0; 16: 6.6 / 8.5 (implicit
// kept from 9 channels up).
constexpr index_t kIm2colForwardMaxOC = 8;

// Whether the forward runs the implicit kernel (else the row-direct or the im2col path).
static bool forward_is_implicit(const ConvShape& s) {
    return use_implicit(s) && !(g_algo == ConvAlgo::Auto && s.OC <= kIm2colForwardMaxOC);
}

// ---------------------------------------------------------------------------------------------
// A few output channels, unit stride along W: a direct convolution whose SIMD lanes run along the
// output row (kPixels neighbouring output pixels), reading each image in a channel-major padded copy
// xt (C, E0, E1, E2) where those pixels' inputs are contiguous for every tap and channel. Per (tap,
// channel): one row load, then for each output channel one broadcast weight and one FMA into its
// accumulators, which stay in registers (OCT is a template argument). Every lane is a useful product
// (the implicit kernel used OC of its 16-32 lanes; im2col + the dot kernel re-reads a 288-float row
// per pixel).

constexpr index_t kPixels = 32;  // output pixels per block: two 16-float vectors, four 8-float ones

// Padded extent of axis a: the input positions the outputs read, from the first padded one.
static index_t padded_extent(const ConvShape& s, int a) {
    return (s.out[a] - 1) * s.stride[a] + (s.k[a] - 1) * s.dilation[a] + 1;
}

// Default algorithm, a few output channels, unit stride along W, at least 3/4 of the blocks' lanes
// used (a 14-pixel row in a 32-pixel block ran 0.74x im2col's speed), and a padded image that fits
// the workspace (use_implicit's bound).
static bool uses_row_direct(const ConvShape& s) {
    const index_t blocks = (s.out[2] + kPixels - 1) / kPixels;
    return g_algo == ConvAlgo::Auto && use_implicit(s) && s.OC <= kIm2colForwardMaxOC && s.stride[2] == 1 &&
           4 * s.out[2] >= 3 * blocks * kPixels;
}

// xt (C, E0, E1, E2 + kPixels) = image x (D, H, W, C) zero-padded, channel-major; each row kPixels longer
// (zeros), so a block's loads past the row's end stay inside the row.
FASTNN_ELEMENTWISE static void channel_major_padded(float* xt, const float* x, const ConvShape& s, const index_t E[3],
                                                   index_t row) {
    const index_t C = s.C;
    std::fill(xt, xt + C * E[0] * E[1] * row, 0.0f);
    for (index_t d = 0; d < E[0]; d++) {
        const index_t id = d - s.pad[0];
        if (id < 0 || id >= s.in[0]) continue;
        for (index_t h = 0; h < E[1]; h++) {
            const index_t ih = h - s.pad[1];
            if (ih < 0 || ih >= s.in[1]) continue;
            const index_t w0 = std::max<index_t>(0, s.pad[2]), w1 = std::min(E[2], s.in[2] + s.pad[2]);
            const float* src = x + ((id * s.in[1] + ih) * s.in[2] + (w0 - s.pad[2])) * C;  // seek to (id, ih, w0)
            float* dst = xt + (d * E[1] + h) * row + w0;
            const index_t plane = E[0] * E[1] * row, width = w1 - w0;
            for (index_t c = 0; c < C; c++) {  // (the image row, W × C floats, stays in L1 across c)
                float* FASTNN_RESTRICT out = dst + c * plane;
                for (index_t w = 0; w < width; w++) out[w] = src[w * C + c];
            }
        }
    }
}

// One output row (n, od, oh): yr (OW, OCT) = bias + Σ over taps and channels of xt · w.
template <int OCT>
FASTNN_ELEMENTWISE static void row_direct(float* yr, const float* xt, const float* w, const float* b,
                                          const ConvShape& s, const index_t E[3], index_t row, index_t od,
                                          index_t oh) {
    const index_t C = s.C, plane = E[0] * E[1] * row, OW = s.out[2];
    for (index_t ow0 = 0; ow0 < OW; ow0 += kPixels) {
        float acc[OCT][kPixels];
        for (int o = 0; o < OCT; o++)
            for (index_t p = 0; p < kPixels; p++) acc[o][p] = b ? b[o] : 0.0f;
        const float* wt = w;  // taps in (kd, kh, kw) order, then channels, then OCT outputs
        for (index_t kd = 0; kd < s.k[0]; kd++) {
            const index_t d = od * s.stride[0] + kd * s.dilation[0];
            for (index_t kh = 0; kh < s.k[1]; kh++) {
                const index_t h = oh * s.stride[1] + kh * s.dilation[1];
                for (index_t kw = 0; kw < s.k[2]; kw++) {
                    const float* xr = xt + (d * E[1] + h) * row + ow0 + kw * s.dilation[2];
                    for (index_t c = 0; c < C; c++, wt += OCT) {
                        const float* FASTNN_RESTRICT xc = xr + c * plane;
                        for (int o = 0; o < OCT; o++) {
                            const float wv = wt[o];
                            for (index_t p = 0; p < kPixels; p++) acc[o][p] += xc[p] * wv;
                        }
                    }
                }
            }
        }
        const index_t n = std::min(kPixels, OW - ow0);
        for (index_t p = 0; p < n; p++)
            for (int o = 0; o < OCT; o++) yr[(ow0 + p) * OCT + o] = acc[o][p];
    }
}

template <int OCT>
static void conv_forward_row_direct(float* y, const float* x, const float* w, const float* b, const ConvShape& s,
                                    Act act, float alpha) {
    const index_t E[3] = {padded_extent(s, 0), padded_extent(s, 1), padded_extent(s, 2)};
    const index_t row = E[2] + kPixels, per_image = s.C * E[0] * E[1] * row;
    const index_t rows_out = s.out[0] * s.out[1], OW = s.out[2];
    const index_t work = s.N * out_pixels(s) * taps(s) * s.C * OCT;
    const int threads = work < (index_t(1) << 19) ? 1 : (int)std::min<index_t>(num_threads(), s.N);
    float* scratch = thread_scratch(1, (size_t)(threads * per_image));
    const Act epi = act == Act::Softmax ? Act::Linear : act;
    run_threads(threads, [&](int t) {
        DenormalGuard denormals;
        index_t n0, n1;
        split_range(s.N, threads, t, &n0, &n1);
        float* xt = scratch + t * per_image;
        for (index_t n = n0; n < n1; n++) {
            channel_major_padded(xt, x + n * in_pixels(s) * s.C, s, E, row);
            for (index_t r = 0; r < rows_out; r++) {
                float* yr = y + (n * rows_out + r) * OW * OCT;  // output row (n, od, oh)
                row_direct<OCT>(yr, xt, w, b, s, E, row, r / s.out[1], r % s.out[1]);
                if (epi != Act::Linear) activation_inplace(yr, OW * OCT, epi, alpha);
            }
        }
    });
}

static void conv_forward_row_direct(float* y, const float* x, const float* w, const float* b, const ConvShape& s,
                                    Act act, float alpha) {
    switch (s.OC) {
        case 1: return conv_forward_row_direct<1>(y, x, w, b, s, act, alpha);
        case 2: return conv_forward_row_direct<2>(y, x, w, b, s, act, alpha);
        case 3: return conv_forward_row_direct<3>(y, x, w, b, s, act, alpha);
        case 4: return conv_forward_row_direct<4>(y, x, w, b, s, act, alpha);
        case 5: return conv_forward_row_direct<5>(y, x, w, b, s, act, alpha);
        case 6: return conv_forward_row_direct<6>(y, x, w, b, s, act, alpha);
        case 7: return conv_forward_row_direct<7>(y, x, w, b, s, act, alpha);
        default: return conv_forward_row_direct<8>(y, x, w, b, s, act, alpha);
    }
}

void conv_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s, Act act,
                  float alpha) {
    // y (N, OD, OH, OW, OC) = act(x (N, D, H, W, C) ⊛ w (KD, KH, KW, C, OC) + b (OC,))
    const index_t M = s.N * out_pixels(s), OC = s.OC;
    if (uses_row_direct(s)) {
        conv_forward_row_direct(y, x, w, b, s, act, alpha);
    } else if (!forward_is_implicit(s)) {
        conv_forward_im2col(y, x, w, b, s, act, alpha);
    } else {
        const Padded p = padded_geometry(s);
        const index_t per_image = padded_image_floats(p, s.C);
        const index_t nt = p.needed ? std::max<index_t>(1, kTileFloats / per_image) : s.N;
        const ForwardTables tables = forward_tables(s, w, p.needed ? p.dims : s.in);
        const LiveTaps live = live_taps(s, p);
        float* buf = p.needed ? thread_scratch(1, (size_t)(nt * per_image)) : nullptr;
        for (index_t n0 = 0; n0 < s.N; n0 += nt) {
            const index_t cnt = std::min(nt, s.N - n0);
            if (p.needed) pad_images(buf, x, s, p, n0, cnt);
            const float* src = p.needed ? buf : x + n0 * in_pixels(s) * s.C;
            gather_forward(y + n0 * out_pixels(s) * OC, src, p.needed ? p.dims : s.in, s, cnt, tables.wp, b, act,
                           alpha, tables.koff, &live);
        }
    }
    if (act == Act::Softmax) activation_forward(y, y, M, OC, Act::Softmax, alpha);
}

// ---------------------------------------------------------------------------------------------
// Backward

// dx through a column matrix: with few input channels C (e.g. a Conv2DTranspose to 1-3 output
// channels, whose forward is this dx) the implicit kernels and the flipped convolution fill
// NR-wide column blocks of which C are used, while dcol = dz·wᵀ is ONE product with all taps' C
// columns side by side, then col2im. Measured (avx2-fma, Zen 3, 2 threads, batch 128, 32 -> C
// channels, 3×3, 28×28 out): C = 1: 1.9 ms against 5.0; C = 3: 3.5 / 5.3; C = 4: 3.7 / 5.0; C = 8:
// 5.8 / 5.0. Strided (14×14 in): C = 1: 0.85 / 4.1; C = 8: 3.2 / 4.2; C = 16: 4.7 / 4.9.
// (Only by default: a forced algorithm, for tests and benchmarks, keeps its own path.)
static bool dx_by_dcol(const ConvShape& s) {
    const bool unit = s.stride[0] == 1 && s.stride[1] == 1 && s.stride[2] == 1;
    return g_algo == ConvAlgo::Auto && s.C < (unit ? 8 : 16);
}

static void conv_input_grad_flipped(float* dx, const float* dz, const float* w, const ConvShape& s) {
    // the im2col path's unit-stride dx: a forward convolution of dz with the flipped kernel
    const ConvShape t = transposed_shape(s);
    float* wf = thread_scratch(2, (size_t)(taps(s) * s.C * s.OC));
    transpose_taps(wf, w, s, true, s.C);  // one panel as wide as C: row-major (T·OC × C)
    conv_forward_im2col(dx, dz, wf, nullptr, t, Act::Linear, 0.0f);
}

static void conv_backward_im2col(float* dx, float* dw, const float* g, const float* x, const float* w,
                                 const ConvShape& s) {
    const index_t M = s.N * out_pixels(s), K = taps(s) * s.C, OC = s.OC;
    // dw (K, OC) += colᵀ (K × M) · dz (M × OC), tile by tile in a fixed order
    if (!dw) {
        // dx only (the transposed convolution's forward)
    } else if (is_pointwise(s)) {
        sgemm(dw, OC, x, K, true, g, OC, false, K, OC, M, 1.0f, 1.0f);
    } else {
        const index_t rows = col_tile_rows(M, K);
        float* col = thread_scratch(1, (size_t)(rows * K));
        for (index_t m0 = 0; m0 < M; m0 += rows) {
            const index_t m1 = std::min(M, m0 + rows);
            im2col(col, x, s, m0, m1);
            sgemm(dw, OC, col, K, true, g + m0 * OC, OC, false, K, OC, m1 - m0, 1.0f, 1.0f);
        }
    }
    if (!dx) return;
    if (is_pointwise(s)) {
        // dx (M, C) = dz (M × OC) · wᵀ (OC × C)
        sgemm(dx, s.C, g, OC, false, w, OC, true, M, s.C, OC, 1.0f, 0.0f);
        return;
    }
    if (s.stride[0] == 1 && s.stride[1] == 1 && s.stride[2] == 1 && !dx_by_dcol(s)) {
        conv_input_grad_flipped(dx, g, w, s);
        return;
    }
    // Strided or few channels: dcol = dz · wᵀ per tile, scattered into dx.
    std::fill(dx, dx + s.N * in_pixels(s) * s.C, 0.0f);
    const index_t rows = col_tile_rows(M, K);
    float* dcol = thread_scratch(1, (size_t)(rows * K));
    for (index_t m0 = 0; m0 < M; m0 += rows) {
        const index_t m1 = std::min(M, m0 + rows);
        sgemm(dcol, K, g + m0 * OC, OC, false, w, OC, true, m1 - m0, K, OC, 1.0f, 0.0f);
        col2im_add(dx, dcol, s, m0, m1);
    }
}

namespace {

// How the implicit path computes dx, and the work each way costs per image (kernel rows × k × n):
//   Flipped: a forward convolution of the zero-padded dz with the flipped kernel (unit strides):
//            every input pixel, each row tile over the live taps of the outer kernel axis only
//            (LiveTaps): S rows × the live fraction (1.18× the useful work for 3×3 on 13×13,
//            1.67× on 5×5; 1.4× and 2.8× with every tap);
//   Scatter: per tap and output row, that row's dz pixels times wᵀ's tap block, added into the
//            input pixels they read, which lie at a uniform stride along the row: P rows rounded
//            up to whole micro-tiles per output row (1.09× for 11-pixel rows of 6-row tiles),
//            plus a read-modify-write of dx per tap and k = OC per call;
//   Dcol:    dcol = dz·wᵀ for a tile's pixels, then its col2im scatter: P rows, plus writing and
//            rereading the column matrix.
// The weights of the last two were measured against Flipped's cost (avx2-fma on Zen 3, batch 128,
// 64 -> 64 channels, 3×3, one and two threads, with the rows kernel): on 13×13 all three took the
// same time (the model: Flipped 143, Dcol 145, Scatter 152); on the fused second block's 10×10
// outputs Dcol took 0.92-0.94× Flipped's time and Scatter 0.96-0.98×; on 7×7 -> 128 channels Dcol
// 0.93× Scatter's and 0.8× Flipped's; on 5×5 Dcol 0.7× either. Their overheads come per call and
// per stored element, once per k = OC multiply-adds, so they grow as OC shrinks: 1 + c/OC (one
// thread: with 8-16 output channels Dcol took 1.6-2.0x Flipped's time, Scatter 1.05-1.8x).
double scatter_weight(index_t OC) { return 1.0 + 9.6 / (double)OC; }  // 1.15 at 64
double dcol_weight(index_t OC) { return 1.0 + 12.8 / (double)OC; }    // 1.2 at 64
enum class InputGrad { None, Flipped, Scatter, Dcol };

// Flipped's kernel rows per image: the input pixels, each weighted by its live taps' share.
double flipped_rows(const ConvShape& s) {
    const ConvShape t = transposed_shape(s);
    const LiveTaps lt = live_taps(t, padded_geometry(t));
    if (lt.axis < 0) return (double)in_pixels(s);
    double live = 0;  // live taps summed over the positions along the axis
    for (index_t pos = 0; pos < t.out[lt.axis]; pos++) {
        index_t lo, hi;
        live_tap_range(lt, pos, &lo, &hi);
        live += (double)std::max<index_t>(0, hi - lo + 1);
    }
    return (double)in_pixels(s) / (double)t.out[lt.axis] * live / (double)lt.taps;
}

InputGrad choose_input_grad(const ConvShape& s, bool unit) {
    const ConvKernelInfo& kern = gather_kernel_info();
    const index_t MR = kern.mr(std::min<index_t>(kern.NR, s.C));
    const double scatter = scatter_weight(s.OC) * (double)(s.out[0] * s.out[1]) * (double)((s.out[2] + MR - 1) / MR * MR);
    const double flipped = unit ? flipped_rows(s) : 1e300;
    const double dcol = dcol_weight(s.OC) * (double)out_pixels(s);
    if (g_algo == ConvAlgo::ImplicitFlipped && unit) return InputGrad::Flipped;
    if (g_algo == ConvAlgo::ImplicitScatter || g_algo == ConvAlgo::ImplicitFlipped) return InputGrad::Scatter;
    if (g_algo == ConvAlgo::ImplicitDcol) return InputGrad::Dcol;
    if (flipped <= scatter && flipped <= dcol) return InputGrad::Flipped;
    return scatter <= dcol ? InputGrad::Scatter : InputGrad::Dcol;
}

// Tiles per weight-gradient group: the batch is cut into tiles of nt images (a fixed function of
// the shape) and the tiles into at most kGroups groups of consecutive tiles; each group is summed
// by one thread, in tile order, into its own partial dw and db, and the partials are added in
// group order. So no result depends on the thread count, and a thread never waits for another.
constexpr index_t kGroups = 16;
constexpr index_t kGroupPartialFloats = index_t(1) << 24;  // all groups' partial dw: at most 64 MB
constexpr double kGroupMinMulAdds = 8e6;  // a group's share of dw's work: ~0.1 ms, against ~10 µs for its partial

// The implicit path's backward. Every thread carries whole tiles of nt images through all of it —
// the caller's dz, dw's partial, dx — in its own L2-sized workspace (a slot), so the phases need no
// barrier and dz is read from the cache of the core that wrote it.
class BackwardTiles {
  public:
    // One thread's workspace; dz and extra are the caller's (see run).
    struct Slot {
        float* dz;       // nt·P·OC floats
        float* dzp;      // the tile's dz in B panels (the weight gradient's B), null when K < kPackedGradMinRows
        float* extra;    // nt·extra_per_image floats
        float* partial;  // grad_partial_floats(nt·P, OC) floats for act_grad_and_bias
        float* xbuf;     // the padded images (when padding is needed)
        float* dzbuf;    // the padded dz (Flipped)
        float* dcol;     // the tile's dcol, nt·P·K floats (Dcol)
        const float** rows;          // K + 16 weight-gradient row pointers
        const float** scatter_rows;  // nt·P + 16 dz row pointers (Scatter, Dcol)
        int64_t* pix;                // nt·P pixel offsets
    };

    // need_dw false: dx only (the transposed convolution's forward), x is never read.
    BackwardTiles(const ConvShape& s, const float* w, bool need_dx, bool need_dw, index_t extra_per_image)
        : s_(s), p_(padded_geometry(s)), t_(transposed_shape(s)), pt_(padded_geometry(t_)),
          live_(live_taps(t_, pt_)) {
        const index_t P = out_pixels(s), K = taps(s) * s.C, OC = s.OC;
        const bool unit = s.stride[0] == 1 && s.stride[1] == 1 && s.stride[2] == 1;
        dx_algo_ = need_dx ? choose_input_grad(s, unit) : InputGrad::None;
        const bool flipped = dx_algo_ == InputGrad::Flipped, by_rows = dx_algo_ == InputGrad::Scatter ||
                                                                      dx_algo_ == InputGrad::Dcol;
        const index_t NR = gather_kernel_info().NR;
        const bool pack_dz = need_dw && K >= kPackedGradMinRows;  // see tile()
        const index_t xfloats = need_dw && p_.needed ? padded_image_floats(p_, s.C) : 0;
        const index_t dw_floats = need_dw ? K * OC : 0;
        const index_t per_image = xfloats + P * OC + (pack_dz ? panel_floats(P, OC, NR) : 0) + extra_per_image +
                                  (flipped ? padded_image_floats(pt_, OC) : 0) + (dx_algo_ == InputGrad::Dcol ? P * K : 0);
        // groups: a power of two (so 2 or 4 threads share them evenly), each with enough work to
        // pay for its partial; tiles: as many images as fit the workspace, at least one per group
        const double mul_adds = (double)s.N * (double)P * (double)K * (double)OC;
        const index_t most = std::min({kGroups, s.N,
                                       std::max<index_t>(1, kGroupPartialFloats / std::max<index_t>(1, dw_floats)),
                                       (index_t)std::max(1.0, mul_adds / kGroupMinMulAdds)});
        groups_ = 1;
        while (groups_ * 2 <= most) groups_ *= 2;
        nt = std::max<index_t>(1, std::min(kBackwardTileFloats / per_image, (s.N + groups_ - 1) / groups_));
        tiles_ = (s.N + nt - 1) / nt;
        groups_ = std::min(groups_, tiles_);
        threads_ = (int)std::min<index_t>({num_threads(), groups_, kMaxSlots});
        const index_t Mt = nt * P, Kt = taps(s) * OC;
        // the shared tables: k offsets, the flipped kernel or wᵀ tap by tap, identity offsets
        Carver shared = Carver::slot(2, Carver::floats(K, 8) + Carver::floats(panel_floats(Kt, s.C, NR)) +
                                            Carver::floats(std::max(Kt, OC), 8) + Carver::floats(groups_ * dw_floats) +
                                            Carver::floats(groups_ * OC));
        koff_ = shared.take<int64_t>(K);
        tap_offsets(koff_, s, p_.needed ? p_.dims : s.in);
        wf_ = shared.take<float>(panel_floats(Kt, s.C, NR));
        koff_t_ = shared.take<int64_t>(std::max(Kt, OC));
        dw_parts_ = need_dw ? shared.take<float>(groups_ * dw_floats) : nullptr;
        db_parts_ = shared.take<float>(groups_ * OC);
        if (flipped || by_rows) transpose_taps(wf_, w, s, flipped, NR);
        if (flipped) {
            tap_offsets(koff_t_, t_, pt_.dims);
        } else if (by_rows) {
            for (index_t o = 0; o < OC; o++) koff_t_[o] = o;  // the A rows are dz pixels: k = their channels
        }
        // each thread's slot
        const index_t parts[] = {Carver::floats(Mt * OC),
                                 pack_dz ? Carver::floats(panel_floats(Mt, OC, NR)) : 0,
                                 Carver::floats(nt * extra_per_image),
                                 Carver::floats(grad_partial_floats(Mt, OC)),
                                 Carver::floats(nt * xfloats),
                                 flipped ? Carver::floats(nt * padded_image_floats(pt_, OC)) : 0,
                                 dx_algo_ == InputGrad::Dcol ? Carver::floats(Mt * K) : 0,
                                 Carver::floats(K + 16, sizeof(float*)),
                                 by_rows ? Carver::floats(Mt + 16, sizeof(float*)) : 0,
                                 Carver::floats(Mt, 8)};
        index_t slot_floats = 0;
        for (index_t n : parts) slot_floats += n;
        float* base = thread_scratch(1, (size_t)(threads_ * slot_floats));
        for (int t = 0; t < threads_; t++) {
            Carver c(base + t * slot_floats, slot_floats);
            Slot sl;
            sl.dz = c.take<float>(Mt * OC);
            sl.dzp = pack_dz ? c.take<float>(panel_floats(Mt, OC, NR)) : nullptr;
            sl.extra = c.take<float>(nt * extra_per_image);
            sl.partial = c.take<float>(grad_partial_floats(Mt, OC));
            sl.xbuf = c.take<float>(nt * xfloats);
            sl.dzbuf = flipped ? c.take<float>(nt * padded_image_floats(pt_, OC)) : nullptr;
            sl.dcol = dx_algo_ == InputGrad::Dcol ? c.take<float>(Mt * K) : nullptr;
            sl.rows = c.take<const float*>(K + 16);
            sl.scatter_rows = by_rows ? c.take<const float*>(Mt + 16) : nullptr;
            sl.pix = c.take<int64_t>(Mt);
            slots_[t] = sl;
        }
    }

    index_t nt;  // images per tile

    // dw += Σ_images gather(x)ᵀ·dz (when need_dw), db += Σ dz (db may be null) and dx (when need_dx).
    // For each tile the slot's owner calls dz_of(slot, n0, cnt, db_part) (db_part null when db is):
    // it writes the tile's bias gradient into db_part (+=) and returns the tile's dz (cnt·P, OC),
    // usually slot.dz.
    template <class DzOf>
    void run(float* dx, float* dw, float* db, const float* x, DzOf&& dz_of) {
        const index_t K = taps(s_) * s_.C, OC = s_.OC;
        // (dw's partials need no zeros: a group's first tile writes its own)
        std::fill(db_parts_, db_parts_ + groups_ * OC, 0.0f);
        auto group = [&](index_t gi, int t) {
            DenormalGuard denormals;
            index_t q0, q1;
            split_range(tiles_, (int)groups_, (int)gi, &q0, &q1);
            for (index_t q = q0; q < q1; q++) {
                const index_t n0 = q * nt, cnt = std::min(nt, s_.N - n0);
                const float* g = dz_of(slots_[t], n0, cnt, db ? db_parts_ + gi * OC : nullptr);
                tile(slots_[t], dx, dw_parts_ ? dw_parts_ + gi * K * OC : nullptr, q == q0, g, x, n0, cnt);
            }
        };
#ifdef FASTNN_OPENMP
        if (threads_ > 1) {
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
            for (index_t gi = 0; gi < groups_; gi++) group(gi, omp_get_thread_num());
        } else
#endif
        {
            for (index_t gi = 0; gi < groups_; gi++) group(gi, 0);
        }
        // the partials in group order, element by element (any split of the elements gives the same sums)
        const index_t groups = groups_;
        auto add_parts = [&](float* out, const float* part, index_t count, index_t begin, index_t end) {
            for (index_t gi = 0; gi < groups; gi++)
                for (index_t i = begin; i < end; i++) out[i] += part[gi * count + i];
        };
        if (db) add_parts(db, db_parts_, OC, 0, OC);
        if (!dw_parts_) return;
        const float* parts = dw_parts_;
        const int threads = K * OC >= kParallelMinElements ? threads_ : 1;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
#endif
        for (int t = 0; t < threads; t++) {
            index_t i0, i1;
            split_range(K * OC, threads, t, &i0, &i1);
            add_parts(dw, parts, K * OC, i0, i1);
        }
    }

    // The transposed convolution's epilogue on dx: y = act(dx + b) (b may be null; never softmax).
    void set_dx_epilogue(const float* b, Act act, float alpha) {
        dx_bias_ = b;
        dx_act_ = act;
        dx_alpha_ = alpha;
    }

  private:
    // One tile on the calling thread: dw_part += gather(x)ᵀ·g (= when first; skipped when null) and
    // dx for images [n0, n0 + cnt).
    void tile(Slot& sl, float* dx, float* dw_part, bool first, const float* g, const float* x, index_t n0,
              index_t cnt) {
        const ConvShape& s = s_;
        const index_t P = out_pixels(s), S = in_pixels(s), K = taps(s) * s.C, M = cnt * P;
        if (dw_part) weight_grad_tile(sl, dw_part, first, g, x, n0, cnt);
        if (dx_algo_ == InputGrad::None) return;
        // the epilogue's activation (softmax, over a row of C, is the caller's)
        const Act act = dx_act_ == Act::Softmax ? Act::Linear : dx_act_;
        if (dx_algo_ == InputGrad::Flipped) {
            ConvShape tt = t_;
            tt.N = cnt;
            pad_images(sl.dzbuf, g, tt, pt_, 0, cnt);
            gather_forward(dx + n0 * S * s.C, sl.dzbuf, pt_.dims, t_, cnt, wf_, dx_bias_, act, dx_alpha_, koff_t_,
                           &live_);
            return;
        }
        // Scatter and Dcol: the A rows are the tile's dz pixels (16 readable past the last)
        const index_t C = s.C, OC = s.OC;
        for (index_t p = 0; p < M + 16; p++) sl.scatter_rows[p] = g + std::min(p, M - 1) * OC;
        if (dx_algo_ == InputGrad::Scatter) {
            for (index_t i = 0; i < cnt; i++) scatter_input_grad(dx + (n0 + i) * S * C, sl.scatter_rows + i * P);
        } else {
            // Dcol: dcol (M, K) = g·wᵀ over all the tile's pixels, then col2im into the tile's images
            const ConvKernelInfo& kern = gather_kernel_info();
            for (index_t t = 0; t < taps(s); t++)
                for (index_t cb = 0; cb < C; cb += kern.NR)
                    gather_rows(kern, OC, sl.scatter_rows, M, koff_t_, wt_block(t, cb), kern.NR, sl.dcol + t * C + cb,
                                K, std::min<index_t>(kern.NR, C - cb), false, nullptr, false);
            std::fill(dx + n0 * S * C, dx + (n0 + cnt) * S * C, 0.0f);
            col2im_add(dx, sl.dcol, s, n0 * P, (n0 + cnt) * P);
        }
        if (dx_bias_ || act != Act::Linear) bias_activation_rows(dx + n0 * S * C, dx_bias_, cnt * S, C, act, dx_alpha_);
    }

    // dw_part += gather(x)ᵀ·g for the tile's images (= when first).
    void weight_grad_tile(Slot& sl, float* dw_part, bool first, const float* g, const float* x, index_t n0,
                          index_t cnt) {
        const ConvShape& s = s_;
        const index_t S = in_pixels(s), K = taps(s) * s.C, M = cnt * out_pixels(s);
        if (p_.needed) pad_images(sl.xbuf, x, s, p_, n0, cnt);
        const float* src = p_.needed ? sl.xbuf : x + n0 * S * s.C;
        for (index_t r = 0; r < K + 16; r++) sl.rows[r] = src + koff_[r < K ? r : 0];
        pixel_offsets(sl.pix, s, p_.needed ? p_.dims : s.in, 0, M);
        // dz in B panels pays for its copy when many row tiles (K / MR) read each panel; a first layer
        // (K = taps, one channel) has two, and its copy cost more than the strided reads
        if (sl.dzp) {
            const index_t NR = gather_kernel_info().NR;
            pack_panels(sl.dzp, g, M, s.OC, s.OC, NR);
            gather_weight_grad(dw_part, sl.rows, sl.pix, sl.dzp, M, NR, s, M, first);
        } else {
            gather_weight_grad(dw_part, sl.rows, sl.pix, g, 1, s.OC, s, M, first);
        }
    }

    // dx of one image, (D, H, W, C), from its g (P, OC) by the scatter: along an output row, tap
    // (kd, kh, kw) sends pixel ow to input column ow·stride - pad + kw·dilation, so the product of
    // the row's dz pixels (A rows, k = OC) and the tap's block of wᵀ (B) lands at a uniform stride
    // and the kernel adds it into dx in its epilogue. rows: the image's dz pixel rows, MR readable
    // past the last.
    void scatter_input_grad(float* dxn, const float* const* rows) {
        const ConvShape& s = s_;
        const ConvKernelInfo& kern = gather_kernel_info();
        const index_t S = in_pixels(s), C = s.C, OC = s.OC;
        const index_t OH = s.out[1], OW = s.out[2], H = s.in[1], W = s.in[2], sw = s.stride[2];
        std::fill(dxn, dxn + S * C, 0.0f);
        index_t tap = 0;
        for (index_t kd = 0; kd < s.k[0]; kd++)
            for (index_t kh = 0; kh < s.k[1]; kh++)
                for (index_t kw = 0; kw < s.k[2]; kw++, tap++) {
                    // the output columns [lo, hi) whose input column ow·sw + shift lies in [0, W)
                    const index_t shift = kw * s.dilation[2] - s.pad[2];
                    const index_t lo = shift >= 0 ? 0 : (-shift + sw - 1) / sw;
                    const index_t hi = W - 1 - shift < 0 ? 0 : std::min(OW, (W - 1 - shift) / sw + 1);
                    if (lo >= hi) continue;
                    for (index_t cb = 0; cb < C; cb += kern.NR) {
                        const index_t nb = std::min<index_t>(kern.NR, C - cb);
                        const float* b = wt_block(tap, cb);
                        for (index_t od = 0; od < s.out[0]; od++) {
                            const index_t id = od * s.stride[0] - s.pad[0] + kd * s.dilation[0];
                            if (id < 0 || id >= s.in[0]) continue;
                            for (index_t oh = 0; oh < OH; oh++) {
                                const index_t ih = oh * s.stride[1] - s.pad[1] + kh * s.dilation[1];
                                if (ih < 0 || ih >= H) continue;
                                const index_t r = (od * OH + oh) * OW;
                                float* c = dxn + ((id * H + ih) * W + lo * sw + shift) * C + cb;  // seek to (id, ih, iw(lo))
                                gather_rows(kern, OC, rows + r + lo, hi - lo, koff_t_, b, kern.NR, c, sw * C, nb, true,
                                            nullptr, false);
                            }
                        }
                    }
                }
    }

    static constexpr index_t kMaxSlots = 256;
    ConvShape s_;
    Padded p_;
    ConvShape t_;
    Padded pt_;
    LiveTaps live_;  // Flipped: the taps of each dx pixel that reach real dz, not its padding
    InputGrad dx_algo_ = InputGrad::None;
    const float* dx_bias_ = nullptr;  // set_dx_epilogue
    Act dx_act_ = Act::Linear;
    float dx_alpha_ = 0.0f;
    index_t tiles_ = 1, groups_ = 1;
    int threads_ = 1;
    Slot slots_[kMaxSlots];
    int64_t *koff_ = nullptr, *koff_t_ = nullptr;
    // wf_: wᵀ tap by tap in B panels, taps reversed for Flipped (transpose_taps); koff_t_: the matching k offsets
    float *wf_ = nullptr, *dw_parts_ = nullptr, *db_parts_ = nullptr;

    // Scatter and Dcol's B: tap t's wᵀ (OC × C), its columns from c0 (a multiple of NR) in wf_
    const float* wt_block(index_t t, index_t c0) const {
        return wf_ + (c0 * taps(s_) + t * gather_kernel_info().NR) * s_.OC;
    }
};

}  // namespace

void conv_backward(float* dx, float* dw, float* db, const float* dy, const float* y, const float* x, const float* w,
                   const ConvShape& s, Act act, float alpha) {
    // dy, y (N, OD, OH, OW, OC); x, dx (N, D, H, W, C); w, dw (KD, KH, KW, C, OC); db (OC,)
    const index_t P = out_pixels(s), OC = s.OC;
    if (!use_implicit(s)) {
        // the fallback for huge images: dz for the whole batch, then the im2col products
        const index_t M = s.N * P;
        float* dz = act != Act::Linear ? thread_scratch(3, (size_t)(M * OC)) : nullptr;
        float* partial = thread_scratch(2, (size_t)grad_partial_floats(M, OC));
        act_grad_and_bias(dz, db, partial, dy, y, M, OC, act, alpha);
        conv_backward_im2col(dx, dw, act != Act::Linear ? dz : dy, x, w, s);
        return;
    }
    BackwardTiles tiles(s, w, dx != nullptr, dw != nullptr, 0);
    tiles.run(dx, dw, db, x, [&](BackwardTiles::Slot& sl, index_t n0, index_t cnt, float* db_part) -> const float* {
        const float* dyt = dy + n0 * P * OC;
        act_grad_and_bias(sl.dz, db_part, sl.partial, dyt, y ? y + n0 * P * OC : nullptr, cnt * P, OC, act, alpha);
        return act != Act::Linear ? sl.dz : dyt;
    });
}

// ---------------------------------------------------------------------------------------------
// Transposed convolution: the adjoint of the convolution s describes, so its forward is that
// convolution's input gradient (plus bias and activation, applied tile by tile while the tile is
// in cache), and its backward is that convolution's forward (for dx) and its weight gradient with
// the roles of input and output gradient swapped (for dw). Nothing new is multiplied here.

void conv_transpose_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s, Act act,
                            float alpha) {
    // x (N, OD, OH, OW, OC) -> y (N, D, H, W, C) = act(convᵀ(x, w) + b (C,)); w (KD, KH, KW, C, OC)
    const index_t S = in_pixels(s), P = out_pixels(s), C = s.C, OC = s.OC;
    if (!use_implicit(s) || dx_by_dcol(s)) {
        conv_backward_im2col(y, nullptr, x, nullptr, w, s);
        const Act epi = act == Act::Softmax ? Act::Linear : act;
        if (b || epi != Act::Linear) {
            const index_t rows = s.N * S, chunk = 256;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (rows * C >= kParallelMinElements)
#endif
            for (index_t r0 = 0; r0 < rows; r0 += chunk)
                bias_activation_rows(y + r0 * C, b, std::min(chunk, rows - r0), C, epi, alpha);
        }
    } else {
        BackwardTiles tiles(s, w, /*need_dx=*/true, /*need_dw=*/false, 0);
        tiles.set_dx_epilogue(b, act, alpha);
        tiles.run(y, nullptr, nullptr, nullptr,
                  [&](BackwardTiles::Slot&, index_t n0, index_t, float*) -> const float* { return x + n0 * P * OC; });
    }
    if (act == Act::Softmax) activation_forward(y, y, s.N * S, C, Act::Softmax, alpha);
}

void conv_transpose_backward(float* dx, float* dw, float* db, const float* dy, const float* y, const float* x,
                             const float* w, const ConvShape& s, Act act, float alpha) {
    // dy, y (N, D, H, W, C); x, dx (N, OD, OH, OW, OC); w, dw (KD, KH, KW, C, OC); db (C,)
    const index_t M = s.N * in_pixels(s), C = s.C;
    float* dz = act != Act::Linear ? thread_scratch(3, (size_t)(M * C)) : nullptr;  // dy ⊙ act'(y), whole batch
    float* partial = thread_scratch(2, (size_t)grad_partial_floats(M, C));
    act_grad_and_bias(dz, db, partial, dy, y, M, C, act, alpha);
    const float* g = act != Act::Linear ? dz : dy;
    if (dx) conv_forward(dx, g, w, nullptr, s, Act::Linear, 0.0f);
    // the convolution's weight gradient: its input is g, its output gradient is x
    if (dw) conv_backward(nullptr, dw, nullptr, x, nullptr, g, w, s, Act::Linear, 0.0f);
}

// ---------------------------------------------------------------------------------------------
// Convolution + activation + max pooling, fused: the convolution's output lives only in a cache-
// sized tile. Forward pools each tile as soon as it is computed; backward rebuilds each tile's dz
// from the pooled gradient: the max routes dy to the argmax, where the convolution's output equals
// the pooled output y, so act'(conv output) there is act'(y) (an elementwise activation's
// derivative written in y). db is the sum of the pooled dz (the scatter preserves sums).

namespace {

// A max pool without padding whose windows do not overlap can leave the last rows of the
// convolution's output unread: 11 -> 5 with 2×2 windows reads rows and columns 0-9 of 11, so
// the seed CNN's second convolution has 121 output pixels per image and its pool reads 100. The
// fused op computes only what the windows read: `conv` has the cropped output (the same input,
// whose last rows then go unread), `pool` pools it, and argmax keeps counting positions in the
// whole output (maxpool_forward's index_dims). Dropped outputs never reach the loss, so y, dw,
// db and dx are the same sums (dw and dx without the zero terms of the dropped pixels).
struct PoolCrop {
    ConvShape conv;
    PoolShape pool;
};

PoolCrop crop_to_pool(const ConvShape& s, const PoolShape& ps) {
    PoolCrop c{s, ps};
    for (int a = 0; a < 3; a++) {
        if (ps.pad[a] != 0 || ps.stride[a] < ps.k[a]) return PoolCrop{s, ps};  // padded or overlapping: all of it
        const index_t used = std::min(s.out[a], (ps.out[a] - 1) * ps.stride[a] + ps.k[a]);
        c.conv.out[a] = used;
        c.pool.in[a] = used;
    }
    return c;
}

}  // namespace

void conv_maxpool_forward(float* y, int32_t* argmax, const float* x, const float* w, const float* b,
                          const ConvShape& s_full, const PoolShape& ps_full, Act act, float alpha) {
    // y, argmax (N, PD, PH, PW, OC); x (N, D, H, W, C); w (KD, KH, KW, C, OC); ps.in == s.out
    if (!forward_is_implicit(s_full)) {  // (the unfused forward's sums, so the two agree exactly)
        float* full = thread_scratch(3, (size_t)(s_full.N * out_pixels(s_full) * s_full.OC));
        conv_forward(full, x, w, b, s_full, act, alpha);
        maxpool_forward(y, argmax, full, ps_full);
        return;
    }
    const PoolCrop crop = crop_to_pool(s_full, ps_full);
    const ConvShape& s = crop.conv;
    const PoolShape& ps = crop.pool;
    const index_t P = out_pixels(s), Op = ps.out[0] * ps.out[1] * ps.out[2], OC = s.OC;
    // one task per image: its convolution output (in the thread's own L2-sized buffer) is pooled
    // right away; the kernels called inside run serially (they see an active parallel region)
    const Padded p = padded_geometry(s);
    const index_t xfloats = p.needed ? Carver::floats(padded_image_floats(p, s.C)) : 0;
    const index_t per_thread = xfloats + Carver::floats(P * OC);
    const ForwardTables tables = forward_tables(s, w, p.needed ? p.dims : s.in);
    const LiveTaps live = live_taps(s, p);
    int threads = num_threads();
    if (threads > s.N) threads = (int)s.N;
    float* buf = thread_scratch(1, (size_t)(threads * per_thread));
    auto image = [&](index_t n, int t) {
        DenormalGuard denormals;
        float* mine = buf + t * per_thread;
        float* yt = mine + xfloats;
        if (p.needed) pad_images(mine, x, s, p, n, 1);
        const float* src = p.needed ? mine : x + n * in_pixels(s) * s.C;
        gather_forward(yt, src, p.needed ? p.dims : s.in, s, 1, tables.wp, b, act, alpha, tables.koff, &live);
        PoolShape pt = ps;
        pt.N = 1;
        maxpool_forward(y + n * Op * OC, argmax + n * Op * OC, yt, pt, ps_full.in);
    };
#ifdef FASTNN_OPENMP
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (index_t n = 0; n < s.N; n++) image(n, omp_get_thread_num());
        return;
    }
#endif
    for (index_t n = 0; n < s.N; n++) image(n, 0);
}

void conv_maxpool_backward(float* dx, float* dw, float* db, const float* dy, const int32_t* argmax, const float* y,
                           const float* x, const float* w, const ConvShape& s_full, const PoolShape& ps_full, Act act,
                           float alpha) {
    // dy, argmax, y (N, PD, PH, PW, OC) of the pooled output; x, dx (N, D, H, W, C); w, dw; db (OC,)
    const bool implicit = use_implicit(s_full);
    const PoolCrop crop = implicit ? crop_to_pool(s_full, ps_full) : PoolCrop{s_full, ps_full};
    const ConvShape& s = crop.conv;  // the outputs the windows read (see crop_to_pool)
    const PoolShape& ps = crop.pool;
    const index_t P = out_pixels(s), Op = ps.out[0] * ps.out[1] * ps.out[2], OC = s.OC;
    if (!implicit) {
        const index_t M = s.N * Op;
        float* gp = thread_scratch(1, (size_t)(M * OC));
        float* partial = thread_scratch(2, (size_t)grad_partial_floats(M, OC));
        act_grad_and_bias(gp, db, partial, dy, y, M, OC, act, alpha);
        float* dz = thread_scratch(3, (size_t)(s.N * P * OC));
        maxpool_backward_routed(dz, act != Act::Linear ? gp : dy, argmax, ps);
        conv_backward_im2col(dx, dw, dz, x, w, s);
        return;
    }
    BackwardTiles tiles(s, w, dx != nullptr, dw != nullptr, Op * OC);
    tiles.run(dx, dw, db, x, [&](BackwardTiles::Slot& sl, index_t n0, index_t cnt, float* db_part) -> const float* {
        // the pooled dz and db, then its scatter to the argmax positions: this tile's dz
        const float* dyt = dy + n0 * Op * OC;
        act_grad_and_bias(sl.extra, db_part, sl.partial, dyt, y + n0 * Op * OC, cnt * Op, OC, act, alpha);
        PoolShape pt = ps;
        pt.N = cnt;
        maxpool_backward_routed(sl.dz, act != Act::Linear ? sl.extra : dyt, argmax + n0 * Op * OC, pt, ps_full.in);
        return sl.dz;
    });
}

}  // namespace fastnn
