// conv.cpp — convolution, 1-D/2-D/3-D channels-last, forward and backward, on top of the one sgemm.
//
// The NHWC convolution is a GEMM: y (M × OC) = col (M × K) · w (K × OC), M = N·OD·OH·OW output
// pixels, K = KD·KH·KW·C; Keras's kernel layout (KD, KH, KW, C, OC) already is the row-major K × OC
// matrix, and row m of col ("im2col") is the receptive field of output pixel m, tap by tap, C
// contiguous floats per tap (zeros where the tap falls in the padding). col is never built whole:
// it is gathered for a tile of kColTileFloats/K output pixels at a time, so the workspace stays
// at a few MB whatever the batch size.
//   forward : y = act(col · w + b), bias and activation in the GEMM's epilogue (in L1, per tile)
//   backward: dz = dy ⊙ act'(y); db += Σ_m dz; dw += colᵀ · dz (the pixels are the GEMM's k loop,
//             tiles summed in order: no dependence on the thread count);
//             dx for unit strides = a forward convolution of dz with the spatially flipped kernel,
//             C and OC swapped (no scatter); otherwise dcol = dz · wᵀ scattered back ("col2im").
// Parameter gradients accumulate (+=), dx is overwritten. What this file does not do: groups,
// depthwise convolution, transposed convolution as a layer.

#include <algorithm>
#include <cstring>

#include "fastnn.h"

namespace fastnn {

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

// dx += the scatter of dcol (m1 - m0, K) rows back to the input pixels they were gathered from.
// Work items are (image, channel block) pairs with disjoint writes; within an item pixels and taps
// are visited in order, so dx does not depend on the thread count.
void col2im_add(float* dx, const float* dcol, const ConvShape& s, index_t m0, index_t m1) {
    const index_t C = s.C, K = taps(s) * C, S = in_pixels(s), P = out_pixels(s);
    const index_t n0 = m0 / P, n1 = (m1 - 1) / P + 1;
    const index_t cb = 64, cblocks = (C + cb - 1) / cb;
    const index_t items = (n1 - n0) * cblocks;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if ((m1 - m0) * K >= kParallelMinElements)
#endif
    for (index_t it = 0; it < items; it++) {
        const index_t n = n0 + it / cblocks, c0 = (it % cblocks) * cb, c1 = std::min(C, c0 + cb);
        const index_t ma = std::max(m0, n * P), mb = std::min(m1, (n + 1) * P);
        float* dxn = dx + n * S * C;  // seek to image n
        for (index_t m = ma; m < mb; m++) {
            const float* row = dcol + (m - m0) * K;
            for_each_tap(s, pixel_of(s, m), [&](index_t t, index_t off) {
                if (off < 0) return;
                float* d = dxn + off * C;
                const float* g = row + t * C;
                for (index_t c = c0; c < c1; c++) d[c] += g[c];
            });
        }
    }
}

// db (OC,) += column sums of dz (M, OC): one column block per thread, rows summed in order.
void bias_grad(float* db, const float* dz, index_t M, index_t OC) {
    const index_t block = 64;
    const index_t blocks = (OC + block - 1) / block;
#ifdef FASTNN_OPENMP
#pragma omp parallel for num_threads(num_threads()) schedule(static) if (M * OC >= kParallelMinElements)
#endif
    for (index_t t = 0; t < blocks; t++) {
        const index_t j0 = t * block, j1 = std::min(OC, j0 + block);
        float acc[block];
        for (index_t j = j0; j < j1; j++) acc[j - j0] = 0.0f;
        for (index_t m = 0; m < M; m++) {
            const float* row = dz + m * OC;  // seek to row m
            for (index_t j = j0; j < j1; j++) acc[j - j0] += row[j];
        }
        for (index_t j = j0; j < j1; j++) db[j] += acc[j - j0];
    }
}

bool is_pointwise(const ConvShape& s) {
    for (int a = 0; a < 3; a++)
        if (s.k[a] != 1 || s.stride[a] != 1 || s.pad[a] != 0 || s.out[a] != s.in[a]) return false;
    return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Forward

void conv_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s, Act act,
                  float alpha) {
    // y (N, OD, OH, OW, OC) = act(x (N, D, H, W, C) ⊛ w (KD, KH, KW, C, OC) + b (OC,))
    const index_t M = s.N * out_pixels(s), K = taps(s) * s.C, OC = s.OC;
    Epilogue ep;
    ep.bias = b;
    ep.act = act == Act::Softmax ? Act::Linear : act;
    ep.alpha = alpha;
    const Epilogue* epp = (b || ep.act != Act::Linear) ? &ep : nullptr;
    if (is_pointwise(s)) {
        // a 1×1 convolution is a dense layer over the pixels: x already is col
        sgemm(y, OC, x, K, false, w, OC, false, M, OC, K, 1.0f, 0.0f, epp);
    } else {
        const index_t rows = col_tile_rows(M, K);
        float* col = thread_scratch(1, (size_t)(rows * K));
        for (index_t m0 = 0; m0 < M; m0 += rows) {
            const index_t m1 = std::min(M, m0 + rows);
            im2col(col, x, s, m0, m1);
            sgemm(y + m0 * OC, OC, col, K, false, w, OC, false, m1 - m0, OC, K, 1.0f, 0.0f, epp);
        }
    }
    if (act == Act::Softmax) activation_forward(y, y, M, OC, Act::Softmax, alpha);
}

// ---------------------------------------------------------------------------------------------
// Backward

// dx = the gradient of a unit-stride convolution as a forward convolution of dz: flip the kernel
// spatially, swap C and OC, and pad by (effective kernel - 1 - pad) before each axis.
static void conv_input_grad_flipped(float* dx, const float* dz, const float* w, const ConvShape& s) {
    const index_t T = taps(s), C = s.C, OC = s.OC;
    ConvShape t = s;
    t.C = OC;
    t.OC = C;
    for (int a = 0; a < 3; a++) {
        t.in[a] = s.out[a];
        t.out[a] = s.in[a];
        t.pad[a] = (s.k[a] - 1) * s.dilation[a] - s.pad[a];
    }
    // wf (KD, KH, KW, OC, C): tap T-1-i of w, transposed
    float* wf = thread_scratch(2, (size_t)(T * C * OC));
    for (index_t i = 0; i < T; i++) {
        const float* src = w + (T - 1 - i) * C * OC;
        float* dst = wf + i * OC * C;
        for (index_t c = 0; c < C; c++)
            for (index_t o = 0; o < OC; o++) dst[o * C + c] = src[c * OC + o];
    }
    conv_forward(dx, dz, wf, nullptr, t, Act::Linear, 0.0f);
}

void conv_backward(float* dx, float* dw, float* db, float* dz, const float* dy, const float* y, const float* x,
                   const float* w, const ConvShape& s, Act act, float alpha) {
    // dy, y, dz (N, OD, OH, OW, OC); x, dx (N, D, H, W, C); w, dw (KD, KH, KW, C, OC); db (OC,)
    const index_t M = s.N * out_pixels(s), K = taps(s) * s.C, OC = s.OC;
    const float* g = dy;
    if (act != Act::Linear) {
        activation_backward(dz, dy, y, M, OC, act, alpha);
        g = dz;
    }
    if (db) bias_grad(db, g, M, OC);

    // dw (K, OC) += colᵀ (K × M) · dz (M × OC), tile by tile in a fixed order
    if (is_pointwise(s)) {
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
    if (s.stride[0] == 1 && s.stride[1] == 1 && s.stride[2] == 1) {
        conv_input_grad_flipped(dx, g, w, s);
        return;
    }
    // Strided: dcol = dz · wᵀ per tile, scattered into dx.
    std::fill(dx, dx + s.N * in_pixels(s) * s.C, 0.0f);
    const index_t rows = col_tile_rows(M, K);
    float* dcol = thread_scratch(1, (size_t)(rows * K));
    for (index_t m0 = 0; m0 < M; m0 += rows) {
        const index_t m1 = std::min(M, m0 + rows);
        sgemm(dcol, K, g + m0 * OC, OC, false, w, OC, true, m1 - m0, K, OC, 1.0f, 0.0f);
        col2im_add(dx, dcol, s, m0, m1);
    }
}

}  // namespace fastnn
