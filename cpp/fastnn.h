// fastnn.h — every kernel of fastnn, grouped by family, with its shape comment.
//
// Conventions (llm.c style): plain functions <op>_forward / <op>_backward; raw pointers and
// explicit int64 dims; argument order: outputs, saved buffers, inputs and weights, dims,
// hyper-parameters. Kernels never allocate in inner loops, never throw, never see Python; the
// binding (cpp/bindings/) checks every shape before calling them. Parameter gradients
// ACCUMULATE (+=) into their buffers; zeroing them is the caller's (optimizer's) job. Input
// gradients (dx) are overwritten.
//
// Dims legend, used everywhere:
//   N  batch                      T  time steps
//   C  input channels / features  OC output channels / units
//   H W  spatial sizes            KH KW kernel sizes
//   M N K  the GEMM's own dims (C[M×N] = A[M×K]·B[K×N]); only in the GEMM family
// Tensors are row-major (C-contiguous); layouts at the public API are Keras's (channels-last,
// batch-first sequences, dense (N, C), kernels (C, OC)).
#pragma once

#include "common.h"

namespace fastnn {

// ---------------------------------------------------------------------------------------------
// Activations. Up to HardTanh the backward is computed from the forward OUTPUT y, so layers save
// y, never the pre-activation, and the GEMM/convolution kernels fuse them forward and backward.
// Gelu, Silu, Mish and HardSilu are not monotonic: their derivative needs the INPUT x
// (activation_backward_input); the kernels apply them forward only, and layers keep x.

enum class Act : int32_t {
    Linear = 0,
    Relu,
    LeakyRelu,    // alpha = negative_slope (>= 0)
    Elu,          // alpha > 0
    Selu,
    Softplus,
    Sigmoid,
    Tanh,
    Softmax,      // over the last axis (rows of length C)
    HardSigmoid,  // Keras 3: clip(x/6 + 1/2, 0, 1)
    Relu6,        // clip(x, 0, 6)
    Softsign,     // x / (1 + |x|)
    Exponential,  // e^x
    Celu,         // alpha > 0: max(x, 0) + min(alpha·(e^{x/alpha} - 1), 0)
    HardTanh,     // clip(x, -1, 1)
    Gelu,         // x·Φ(x) (erf); alpha != 0: the tanh approximation. Derivative from x.
    Silu,         // x·sigmoid(x) (Keras's swish). Derivative from x.
    Mish,         // x·tanh(softplus(x)). Derivative from x.
    HardSilu,     // x·hard_sigmoid(x) (Keras's hard_swish). Derivative from x.
};

// Whether act's derivative needs its input (activation_backward_input), not its output.
inline bool derivative_needs_input(Act act) {
    return act == Act::Gelu || act == Act::Silu || act == Act::Mish || act == Act::HardSilu;
}

// y, x: (rows, C). Elementwise activations treat the buffer as flat; softmax works per row.
void activation_forward(float* y, const float* x, index_t rows, index_t C, Act act, float alpha);
// dx, dy, y: (rows, C). dx may alias dy.
void activation_backward(float* dx, const float* dy, const float* y, index_t rows, index_t C,
                         Act act, float alpha);
// dx, dy, x: (rows × C) flat, act one of derivative_needs_input's: dx = dy ⊙ f'(x). dx may alias dy.
void activation_backward_input(float* dx, const float* dy, const float* x, index_t count, Act act,
                               float alpha);
// In-place elementwise activation on a contiguous run; the GEMM epilogue uses it per tile row.
void activation_inplace(float* y, index_t count, Act act, float alpha);
// dx = dy ⊙ f'(y) on one contiguous run (dx may alias dy), no threading: for kernels that call
// it per row from inside their own parallel region (the recurrent gate passes). Never softmax.
void activation_backward_row(float* dx, const float* dy, const float* y, index_t count, Act act,
                             float alpha);
// out (cols,) = the column sums of a (rows × cols, row stride lda), rows added in order; serial.
void column_sums(float* out, const float* a, index_t rows, index_t lda, index_t cols);

// ---------------------------------------------------------------------------------------------
// GEMM. One sgemm serves every family: C = alpha·op(A)·op(B) + beta·C, then the optional
// epilogue adds a per-column bias and applies an elementwise activation (never softmax).
// op(A) is M×K (A stored K×M when trans_a), op(B) is K×N (B stored N×K when trans_b).
// beta == 0 never reads C (it may hold NaN). lda/ldb/ldc are row strides in floats.

struct Epilogue {
    const float* bias = nullptr;  // (N,) or nullptr
    Act act = Act::Linear;
    float alpha = 0.0f;
};

void sgemm(float* C, index_t ldc, const float* A, index_t lda, bool trans_a, const float* B,
           index_t ldb, bool trans_b, index_t M, index_t N, index_t K, float alpha, float beta,
           const Epilogue* epilogue = nullptr);
// B packed once for many products with the same B (an RNN's recurrent weights, used at every
// step): sgemm_pack_b fills `panels` (sgemm_packed_b_floats(K, N) floats, caller-owned, 64-byte
// aligned) and returns the handle; sgemm_packed_b then runs C = alpha·op(A)·op(B) + beta·C (+ epilogue)
// ON THE CALLING THREAD (no parallel region: callers split M themselves), packing A into `a_panels`
// (sgemm_packed_a_floats(M, K) floats). Each row of C is computed the same way whatever M is.
struct PackedB {
    const float* panels = nullptr;
    index_t K = 0, N = 0;
    const void* kernel = nullptr;  // the micro-kernel the panels were laid out for
};
index_t sgemm_packed_b_floats(index_t K, index_t N);
index_t sgemm_packed_a_floats(index_t M, index_t K);
PackedB sgemm_pack_b(float* panels, const float* B, index_t ldb, bool trans_b, index_t K, index_t N);
// A B operand packed piecemeal, e.g. a recurrent layer's gate gradients, written into the panels
// step by step while they are still in cache: sgemm_packed_b_layout describes panels
// (sgemm_packed_b_floats(K, N) floats) without filling them; sgemm_pack_b_rows packs B's rows
// [k0, k0 + rows) (src, ld_src apart) into them. Every row must be packed before a product reads B.
PackedB sgemm_packed_b_layout(float* panels, index_t K, index_t N);
// Whether sgemm packs B for this product (false where it runs an unpacked kernel instead).
bool sgemm_packs_b(index_t M, index_t N, index_t K, bool trans_a, bool trans_b);
void sgemm_pack_b_rows(float* panels, const PackedB& B, index_t k0, index_t rows, const float* src, index_t ld_src);
// sgemm_packed_b on as many threads as pays, each taking whole micro-panels of C's rows.
void sgemm_packed_b_threads(float* C, index_t ldc, const float* A, index_t lda, bool trans_a, const PackedB& B, index_t M,
                            float alpha, float beta);
void sgemm_packed_b(float* C, index_t ldc, const float* A, index_t lda, bool trans_a, const PackedB& B, index_t M,
                    float alpha, float beta, float* a_panels, const Epilogue* epilogue = nullptr);
// A batch of independent products C_i = alpha·op(A_i)·op(B_i): A (batch, M×K, or K×M when trans_a),
// B (batch, K×N, or N×K when trans_b; stride_b = 0: one B for every item), C (batch, M, N),
// all contiguous. Each item is computed on one thread by the packed kernel, the items split over
// the threads (an attention layer's per-head products): results do not depend on the thread count.
void sgemm_batched(float* C, const float* A, const float* B, index_t batch, index_t M, index_t N, index_t K,
                   bool trans_a, bool trans_b, float alpha, index_t stride_b);
// Scaled dot-product attention over heads (MultiHeadAttention's inference forward): for each sample
// b and head h, out[b, :, h·dv:(h+1)·dv] = softmax(q_bh·k_bhᵀ, masked) · v_bh, with q (B, T, H·dk)
// already scaled, k (B, S, H·dk), v (B, S, H·dv), out (B, T, H·dv). keep (B, keep_heads, T, S),
// keep_heads 1 or H, or null: a score with keep 0 becomes -1e9 before the softmax, and with
// zero_masked its probability 0 after it. Each (b, h) on one thread, with sgemm_batched's kernels.
void attention_forward(float* out, const float* q, const float* k, const float* v, const uint8_t* keep,
                       index_t B, index_t T, index_t S, index_t H, index_t dk, index_t dv, index_t keep_heads,
                       bool zero_masked);
// The algorithmic reference and the tests' oracle for sgemm (triple loop, same contract).
void sgemm_naive(float* C, index_t ldc, const float* A, index_t lda, bool trans_a, const float* B,
                 index_t ldb, bool trans_b, index_t M, index_t N, index_t K, float alpha,
                 float beta, const Epilogue* epilogue = nullptr);
// The micro-kernel chosen at run time: "avx512", "avx2-fma" or "generic".
const char* gemm_kernel_name();
// Force a micro-kernel by name (for benchmarks/tests); returns false if this CPU lacks it.
bool gemm_select_kernel(const char* name);
// Retune the active kernel's cache blocking (benchmarks only; values <= 0 / < 0 keep the current).
void gemm_set_blocking(int MC, int KC, int NC, int b_block_in_l2);
void gemm_set_direct_max_work(double work);  // products up to this size skip packing
void gemm_set_in_place_b_max_rows(index_t rows);  // a thread's C up to this many rows reads B unpacked
void gemm_get_blocking(int* MR, int* NR, int* MC, int* KC, int* NC, int* b_block_in_l2);

// ---------------------------------------------------------------------------------------------
// Dense: y = act(x·w + b), bias and activation fused into the GEMM's epilogue.
// x (N, C), w (C, OC), b (OC,) or nullptr, y (N, OC).
void dense_forward(float* y, const float* x, const float* w, const float* b, index_t N, index_t C,
                   index_t OC, Act act, float alpha);
// dz (N, OC) is scratch for dy·act'(y) (may alias dy); dx (N, C) overwritten, skipped when null
// (a first layer needs no input gradient); dw (C, OC) and db (OC,) overwritten (beta = 0: no
// zero-fill, no read of dw); dw and db may be null (a frozen layer).
void dense_backward(float* dx, float* dw, float* db, float* dz, const float* dy, const float* y,
                    const float* x, const float* w, index_t N, index_t C, index_t OC, Act act,
                    float alpha);

// ---------------------------------------------------------------------------------------------
// Convolution and pooling, channels-last like Keras. One code path serves 1-D, 2-D and 3-D: a
// 1-D tensor (N, L, C) is (N, 1, 1, L, C) and a 2-D one (N, H, W, C) is (N, 1, H, W, C).
//   x (N, D, H, W, C)   w (KD, KH, KW, C, OC)   y (N, OD, OH, OW, OC)
// Output position o along an axis reads input positions o·stride - pad + t·dilation, t < K;
// positions outside [0, size) are zeros (convolution) or absent (pooling). `pad` is the padding
// BEFORE each axis; the padding after is whatever `out` implies. The binding computes out and pad
// with Keras's rules ('valid', 'same' with pad = total // 2 before, 'causal').

struct ConvShape {
    index_t N = 1, C = 1, OC = 1;
    index_t in[3] = {1, 1, 1};   // D, H, W
    index_t out[3] = {1, 1, 1};  // OD, OH, OW
    index_t k[3] = {1, 1, 1};    // KD, KH, KW
    index_t stride[3] = {1, 1, 1};
    index_t dilation[3] = {1, 1, 1};
    index_t pad[3] = {0, 0, 0};
};

// y = act(conv(x, w) + b); b (OC,) or nullptr. Bias and activation run in the GEMM's epilogue
// (softmax, over OC, after it).
void conv_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s, Act act,
                  float alpha);
// dy, y (N, OD, OH, OW, OC); y may be null for linear. dx is overwritten and skipped when null (a
// first layer needs no input gradient); dw (KD, KH, KW, C, OC) and db (OC,) accumulate; either may
// be null (dw: a frozen layer). dy·act'(y) is formed tile by tile in the kernel's own scratch. dw and db do not depend on
// the thread count.
void conv_backward(float* dx, float* dw, float* db, const float* dy, const float* y, const float* x, const float* w,
                   const ConvShape& s, Act act, float alpha);
// Transposed convolution (Keras's Conv*DTranspose), the adjoint of the convolution s describes:
// its input x has that convolution's OUTPUT shape and its output y the convolution's INPUT shape.
//   x (N, OD, OH, OW, OC)   w (KD, KH, KW, C, OC)   y (N, D, H, W, C)   b (C,)
// so Keras's transposed kernel (kernel..., filters, in_channels) is w as it is. y is overwritten;
// bias and activation run tile by tile. Backward: dx overwritten (skipped when null), dw and db
// (may be null) accumulate, independent of the thread count.
void conv_transpose_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s, Act act,
                            float alpha);
void conv_transpose_backward(float* dx, float* dw, float* db, const float* dy, const float* y, const float* x,
                             const float* w, const ConvShape& s, Act act, float alpha);
// Depthwise convolution (Keras's DepthwiseConv*D): every input channel convolved on its own with
// M filters. w (KD, KH, KW, C, M); s.OC = C·M, and y's channel c·M + m is channel c's m-th filter.
// b (C·M,) or nullptr. Backward: dx overwritten (skipped when null), dw and db (may be null)
// accumulate, independent of the thread count.
void depthwise_conv_forward(float* y, const float* x, const float* w, const float* b, const ConvShape& s, Act act,
                            float alpha);
void depthwise_conv_backward(float* dx, float* dw, float* db, const float* dy, const float* y, const float* x,
                             const float* w, const ConvShape& s, Act act, float alpha);
// The algorithm: "auto" (implicit GEMM unless one padded image exceeds the workspace tile),
// "im2col" (column tiles + sgemm) or "implicit" (for benchmarks and tests); "implicit-flipped",
// "implicit-scatter" and "implicit-dcol" also force the implicit backward's input gradient
// (flipped needs unit strides, else scatter). False if unknown.
bool conv_select_algorithm(const char* name);
const char* conv_algorithm();

struct PoolShape {
    index_t N = 1, C = 1;
    index_t in[3] = {1, 1, 1};   // D, H, W
    index_t out[3] = {1, 1, 1};  // OD, OH, OW
    index_t k[3] = {1, 1, 1};    // pool sizes
    index_t stride[3] = {1, 1, 1};
    index_t pad[3] = {0, 0, 0};
};

// y (N, OD, OH, OW, C) = the max over each window's real elements; argmax (same shape) receives
// the flat spatial index (d·H + h)·W + w of the FIRST maximum in window order (kd, kh, kw).
// index_dims: the (D, H, W) those indices count in when not s.in (the fused convolution + pooling
// pools a cropped buffer but reports positions in the convolution's whole output).
void maxpool_forward(float* y, int32_t* argmax, const float* x, const PoolShape& s,
                     const index_t* index_dims = nullptr);
// dx (N, S, C), S = D·H·W, overwritten: dx[n, argmax[n, o, c], c] += dy[n, o, c] over the O
// outputs of each image. Also global max pooling's backward (O = 1). argmax is checked in range.
void maxpool_backward(float* dx, const float* dy, const int32_t* argmax, index_t N, index_t S, index_t O,
                      index_t C);
// The same from the forward's own argmax, with the pool's geometry: where windows do not overlap
// (stride >= pool size) every input pixel is written once by a select from its window's dy
// instead of a zero fill and a scatter; overlapping windows take the scatter above.
void maxpool_backward_routed(float* dx, const float* dy, const int32_t* argmax, const PoolShape& s,
                             const index_t* index_dims = nullptr);
// The first flat index into argmax (N, O, C) whose position is not in its output's window (the
// fused convolution + pooling backward routes each gradient within its window and would drop it),
// or -1: the binding's check of an argmax given to that backward.
int64_t argmax_outside_windows(const int32_t* argmax, const PoolShape& s);
// *lo, *hi = the smallest and largest of the n values (0, 0 when n = 0 or all are 0): the binding's
// range check of an argmax before any scatter uses it.
void index_range(const int32_t* values, index_t n, int32_t* lo, int32_t* hi);
// y = the mean over each window's REAL elements ('same' borders divide by fewer, as Keras does).
void avgpool_forward(float* y, const float* x, const PoolShape& s);
// dx (N, D, H, W, C) overwritten: each dy spread evenly over its window's real elements.
void avgpool_backward(float* dx, const float* dy, const PoolShape& s);
// Convolution + activation + max pooling in one pass: the convolution's output (N, OD, OH, OW, OC)
// is never stored whole, only cache-sized tiles of it. ps pools that output (ps.in == s.out,
// ps.C == s.OC); y, argmax (N, PD, PH, PW, OC) are what maxpool_forward would return for it.
// act must be elementwise (not softmax).
void conv_maxpool_forward(float* y, int32_t* argmax, const float* x, const float* w, const float* b,
                          const ConvShape& s, const PoolShape& ps, Act act, float alpha);
// Gradients of conv_maxpool_forward from dy, argmax and y (all pooled-shaped); dx overwritten (skipped
// when null), dw and db (may be null) accumulate, independent of the thread count.
void conv_maxpool_backward(float* dx, float* dw, float* db, const float* dy, const int32_t* argmax, const float* y,
                           const float* x, const float* w, const ConvShape& s, const PoolShape& ps, Act act,
                           float alpha);
// Global pooling over all S spatial positions: x (N, S, C) -> y (N, C).
void global_avgpool_forward(float* y, const float* x, index_t N, index_t S, index_t C);
void global_avgpool_backward(float* dx, const float* dy, index_t N, index_t S, index_t C);
void global_maxpool_forward(float* y, int32_t* argmax, const float* x, index_t N, index_t S, index_t C);

// ---------------------------------------------------------------------------------------------
// Losses, Keras semantics. y_pred, y_true: (N, C). Per-sample loss l_i reduces over C (mean for
// mse/mae/bce, sum for the cross-entropies); the reported loss is sum_i(w_i·l_i) / N with
// w = sample_weight (nullptr: all ones). Probabilities are clipped to [1e-7, 1 - 1e-7] exactly
// where Keras clips; the clipped region passes no gradient. Sparse variants take int64 labels
// (N,), already checked to lie in [0, C).

enum class Loss : int32_t {
    MeanSquaredError = 0,
    MeanAbsoluteError,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
};
constexpr float kLossEpsilon = 1e-7f;

// Returns sum_i(w_i·l_i) / N (accumulated in double). For the sparse loss y_true is ignored and
// labels is used; for the others labels is ignored.
double loss_forward(const float* y_pred, const float* y_true, const int64_t* labels,
                    const float* sample_weight, index_t N, index_t C, Loss loss, bool from_logits);
// dy_pred (N, C): the gradient of loss_forward's value with respect to y_pred (overwritten).
void loss_backward(float* dy_pred, const float* y_pred, const float* y_true, const int64_t* labels,
                   const float* sample_weight, index_t N, index_t C, Loss loss, bool from_logits);
// Fused output-layer backward: the gradient with respect to the LOGITS z of a softmax (or, with
// sigmoid = true, an elementwise sigmoid) layer whose output probs = act(z) feeds the matching
// cross-entropy: (probs·sum(y_true) - y_true)·w_i / N for softmax + categorical (one-hot from
// labels when labels != nullptr), (probs - y_true)·w_i / (N·C) for sigmoid + binary.
void crossentropy_logits_backward(float* dz, const float* probs, const float* y_true,
                                  const int64_t* labels, const float* sample_weight, index_t N,
                                  index_t C, bool sigmoid);

// ---------------------------------------------------------------------------------------------
// Recurrent layers over whole sequences, Keras 3 equations, forward and backward through time.
// x (N, T, C) batch-first. Keras weight layouts, G gates: w (C, G·OC), u (OC, G·OC); b (G·OC,),
// or (2, 3·OC) = [input bias; recurrent bias] for a GRU with reset_after; nullptr: no bias.
//   SimpleRNN (G=1)  h = act(x·w + b + h_prev·u)
//   LSTM (G=4, gates i f c o)  i,f,o = ract(·); g = act(·); c = f·c_prev + i·g; h = o·act(c)
//   GRU (G=3, gates z r h)  z,r = ract(·); h = z·h_prev + (1-z)·hh with
//     reset_after:  hh = act(x·w_h + b_h + r ⊙ (h_prev·u_h + b_rh))
//     reset before: hh = act(x·w_h + b_h + (r ⊙ h_prev)·u_h)
// h0, c0 (N, OC) or nullptr (zeros). go_backwards reads x from the last step to the first;
// h_seq (N, T, OC) is in processing order (Keras), nullptr when not wanted. `cache`
// (rnn_cache_size floats) keeps what backward needs, x included, time-major in processing order
// (layout in rnn.cpp); callers treat it as opaque.
// rec_mask (N, OC) or nullptr (SimpleRNN and LSTM): Keras's recurrent dropout, one mask per
// sequence that scales h_prev where it enters the recurrent product, (h_prev ⊙ rec_mask)·u, at
// every step (the state itself is not masked); backward must get the same mask. GRU takes
// (3, N, OC): one mask per gate z, r, h, as Keras 3's GRUCell switches to when recurrent_dropout
// > 0 (implementation 1): (h_prev ⊙ m_z)·u_z, (h_prev ⊙ m_r)·u_r and (h_prev ⊙ m_h)·u_h (reset
// after) or (r ⊙ h_prev ⊙ m_h)·u_h (reset before).
// step_mask (N, T) or nullptr (every step kept): Keras's time-step mask, in x's time order
// (not reversed by go_backwards); 0 at (n, t) skips that step for sample n: its states carry over
// unchanged (h_t = h_{t-1}, c_t = c_{t-1}), so h_seq there repeats the previous state, and in
// backward the gradient reaching h_t, c_t passes straight to h_{t-1}, c_{t-1}, the step's gate
// gradients are 0 and dx[n, t] is 0. Backward must get the same step_mask.
// With a step_mask whose kept steps form one run per row that starts at the first processing step
// or ends at the last (post- or pre-padded sequences), the kernels sort the rows by that run and
// skip the masked rows' arithmetic; the cache is then in that row order (rnn_sorts_rows tells).
// Backward: dh_seq (N, T, OC), dh_last, dc_last (N, OC) may each be nullptr (zero). dx (N, T, C)
// is overwritten (skipped when nullptr); dw, du, db accumulate (db skipped when nullptr; dw nullptr:
// no weight gradients at all, a frozen layer's backward); dh0, dc0 (N, OC) are overwritten.
// Results do not depend on the thread count.

enum class RnnCell : int32_t { SimpleRNN = 0, LSTM, GRU };
index_t rnn_cache_size(RnnCell cell, index_t N, index_t T, index_t C, index_t OC);
bool rnn_sorts_rows(const uint8_t* step_mask, index_t N, index_t T, bool go_backwards);

void simple_rnn_forward(float* h_seq, float* h_last, float* cache, const float* x, const float* w,
                        const float* u, const float* b, const float* h0, index_t N, index_t T,
                        index_t C, index_t OC, Act act, float alpha, bool go_backwards,
                        const float* rec_mask = nullptr,
                        const uint8_t* step_mask = nullptr);
void simple_rnn_backward(float* dx, float* dw, float* du, float* db, float* dh0, const float* cache,
                         const float* dh_seq, const float* dh_last, const float* w, const float* u,
                         index_t N, index_t T, index_t C, index_t OC, Act act, float alpha,
                         bool go_backwards, const float* rec_mask = nullptr,
                         const uint8_t* step_mask = nullptr);

void lstm_forward(float* h_seq, float* h_last, float* c_last, float* cache, const float* x,
                  const float* w, const float* u, const float* b, const float* h0, const float* c0,
                  index_t N, index_t T, index_t C, index_t OC, Act act, float alpha, Act ract,
                  float ralpha, bool go_backwards, const float* rec_mask = nullptr,
                  const uint8_t* step_mask = nullptr);
void lstm_backward(float* dx, float* dw, float* du, float* db, float* dh0, float* dc0,
                   const float* cache, const float* dh_seq, const float* dh_last,
                   const float* dc_last, const float* w, const float* u, index_t N, index_t T,
                   index_t C, index_t OC, Act act, float alpha, Act ract, float ralpha,
                   bool go_backwards, const float* rec_mask = nullptr,
                   const uint8_t* step_mask = nullptr);

// One LSTM step over `rows` independent rows (a ConvLSTM's pixels), the sequence kernels' cell:
// forward: z (rows, 4·OC) pre-activations, c_prev (rows, OC) -> gates (rows, 4·OC) activated
// [i f g o], c = f·c_prev + i·g, a = act(c), h = o·a (rows, OC each).
// backward: dh, dc (rows, OC; dc may be nullptr: zeros), gates, a, c_prev -> dz (rows, 4·OC) and
// dc_prev (rows, OC). Elementwise per row: independent of the thread count.
void lstm_cell_rows_forward(float* gates, float* c, float* a, float* h, const float* z, const float* c_prev,
                            index_t rows, index_t OC, Act act, float alpha, Act ract, float ralpha);
void lstm_cell_rows_backward(float* dz, float* dc_prev, const float* dh, const float* dc, const float* gates,
                             const float* a, const float* c_prev, index_t rows, index_t OC, Act act, float alpha,
                             Act ract, float ralpha);

void gru_forward(float* h_seq, float* h_last, float* cache, const float* x, const float* w,
                 const float* u, const float* b, const float* h0, index_t N, index_t T, index_t C,
                 index_t OC, Act act, float alpha, Act ract, float ralpha, bool reset_after,
                 bool go_backwards, const float* rec_mask = nullptr,
                 const uint8_t* step_mask = nullptr);
void gru_backward(float* dx, float* dw, float* du, float* db, float* dh0, const float* cache,
                  const float* dh_seq, const float* dh_last, const float* w, const float* u, index_t N,
                  index_t T, index_t C, index_t OC, Act act, float alpha, Act ract, float ralpha,
                  bool reset_after, bool go_backwards, const float* rec_mask = nullptr,
                  const uint8_t* step_mask = nullptr);

// ---------------------------------------------------------------------------------------------
// Optimizers (Keras 3 update rules). One call updates a LIST of `count` tensors in one fused
// pass: tensor t has sizes[t] elements; params[t] and its state slots are updated in place,
// grads[t] is read. Epsilon sits where Keras puts it: inside the square root for Adagrad and
// RMSprop, outside for Adam. Elementwise, so independent of the thread count.

// momentum 0: p -= lr·g (velocities may be null). Else v = momentum·v - lr·g; p += v, or with
// nesterov p += momentum·v - lr·g.
void sgd_update(float* const* params, float* const* velocities, const float* const* grads,
                const index_t* sizes, index_t count, float lr, float momentum, bool nesterov);
// acc += g²; p -= lr·g / sqrt(acc + eps).
void adagrad_update(float* const* params, float* const* accumulators, const float* const* grads,
                    const index_t* sizes, index_t count, float lr, float epsilon);
// v = rho·v + (1-rho)·g²; centered: a = rho·a + (1-rho)·g, d = v - a² + eps, else d = v + eps;
// inc = lr·g / sqrt(d); momentum > 0: mom = momentum·mom + inc, p -= mom; else p -= inc.
// momentums is null unless momentum > 0, average_grads null unless centered.
void rmsprop_update(float* const* params, float* const* velocities, float* const* momentums,
                    float* const* average_grads, const float* const* grads, const index_t* sizes,
                    index_t count, float lr, float rho, float momentum, float epsilon,
                    bool centered);
// step >= 1 (Keras's iterations + 1): alpha = lr·sqrt(1 - beta_2^step) / (1 - beta_1^step);
// m += (g - m)(1 - beta_1); v += (g² - v)(1 - beta_2); amsgrad: v_hat = max(v_hat, v) replaces v;
// p -= m·alpha / (sqrt(v) + eps). v_hats is null unless amsgrad.
void adam_update(float* const* params, float* const* ms, float* const* vs, float* const* v_hats,
                 const float* const* grads, const index_t* sizes, index_t count, float lr,
                 int64_t step, float beta_1, float beta_2, float epsilon, bool amsgrad);
// ag = rho·ag + (1-rho)·g²; delta = -sqrt(ad + eps) / sqrt(ag + eps) · g;
// ad = rho·ad + (1-rho)·delta²; p += lr·delta (Keras's Adadelta, epsilon in both roots).
void adadelta_update(float* const* params, float* const* accumulated_grads,
                     float* const* accumulated_deltas, const float* const* grads, const index_t* sizes,
                     index_t count, float lr, float rho, float epsilon);
// step >= 1: m += (g - m)(1 - beta_1); u = max(beta_2·u, |g|);
// p -= m·lr / ((1 - beta_1^step)·(u + eps)) (Keras's Adamax).
void adamax_update(float* const* params, float* const* ms, float* const* us, const float* const* grads,
                   const index_t* sizes, index_t count, float lr, int64_t step, float beta_1,
                   float beta_2, float epsilon);
// Keras's Nadam, step >= 1, u_product = Π_{s<=step} beta_1·(1 - 0.5·0.96^s) (the optimizer's
// running product, this step's factor included): u_t = beta_1·(1 - 0.5·0.96^step), u_next the
// same at step + 1; m += (g - m)(1 - beta_1); v += (g² - v)(1 - beta_2);
// m_hat = u_next·m / (1 - u_product·u_next) + (1 - u_t)·g / (1 - u_product);
// p -= m_hat·lr / (sqrt(v / (1 - beta_2^step)) + eps).
void nadam_update(float* const* params, float* const* ms, float* const* vs, const float* const* grads,
                  const index_t* sizes, index_t count, float lr, int64_t step, double u_product,
                  float beta_1, float beta_2, float epsilon);
// Keras's Lion: p -= lr·sign(beta_1·m + (1 - beta_1)·g); m = beta_2·m + (1 - beta_2)·g.
void lion_update(float* const* params, float* const* ms, const float* const* grads, const index_t* sizes,
                 index_t count, float lr, float beta_1, float beta_2);

// ---------------------------------------------------------------------------------------------
// Batch normalisation over every axis but the last (Keras axis=-1): x is viewed as (N, C) with
// N = batch × spatial positions. Statistics in double, shifted by each channel's first row
// (large offsets stay exact), over fixed row blocks summed in order (thread-count independent).

// training: mean, var = the batch's (biased variance, as Keras's ops.moments), N >= 1;
// inv_std = 1/sqrt(var + eps); moving = moving·momentum + batch·(1 - momentum) in place.
// Inference: mean = moving_mean, inv_std = 1/sqrt(moving_var + eps), nothing updated.
// y = (x - mean)·gamma·inv_std + beta; gamma/beta may be null (scale/center False).
// x, y (N, C); gamma, beta, mean, inv_std, moving_mean, moving_var (C,).
void batchnorm_forward(float* y, float* mean, float* inv_std, float* moving_mean, float* moving_var,
                       const float* x, const float* gamma, const float* beta, index_t N, index_t C,
                       bool training, float momentum, float epsilon);
// dx (N, C) overwritten (skipped when null); dgamma, dbeta (C,) accumulate (each may be null).
// training: the statistics are functions of x; inference: constants (dx = gamma·inv_std·dy).
// mean, inv_std: what batchnorm_forward returned.
void batchnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* gamma, const float* mean, const float* inv_std, index_t N,
                        index_t C, bool training);

// Layer normalisation over the last axis (Keras LayerNormalization, axis=-1): each row of x (R, C)
// by its own mean and biased variance (in double); inv_std = 1/sqrt(var + eps);
// y = (x - mean)·inv_std·gamma + beta; gamma/beta may be null. mean, inv_std (R,).
void layernorm_forward(float* y, float* mean, float* inv_std, const float* x, const float* gamma,
                       const float* beta, index_t R, index_t C, float epsilon);
// dx (R, C) overwritten (skipped when null); dgamma, dbeta (C,) accumulate (each may be null).
void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* gamma, const float* mean, const float* inv_std, index_t R, index_t C);

// Group normalisation, channels last (Keras GroupNormalization, axis=-1): sample n of x (N, P, C)
// by the mean and biased variance (in double) of each group of C/G adjacent channels over its P
// positions; inv_std = 1/sqrt(var + eps); y = (x - mean)·inv_std·gamma + beta; gamma/beta may be
// null. mean, inv_std (N, G). P >= 1 and G dividing C, checked by the binding.
void groupnorm_forward(float* y, float* mean, float* inv_std, const float* x, const float* gamma,
                       const float* beta, index_t N, index_t P, index_t C, index_t G, float epsilon);
// dx (N, P, C) overwritten (skipped when null); dgamma, dbeta (C,) accumulate (each may be null).
void groupnorm_backward(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x,
                        const float* gamma, const float* mean, const float* inv_std, index_t N, index_t P,
                        index_t C, index_t G);

// ---------------------------------------------------------------------------------------------
// Dropout (inverted): y = x·mask/(1 - rate), rate in [0, 1). Element i (flat C-order index) is
// kept iff (dropout_hash(dropout_key(seed), i) >> 32) < dropout_threshold(rate): the mask is a
// function of (seed, shape) only. mask: uint8, 1 = kept.
uint64_t dropout_hash(uint64_t key, uint64_t index);  // splitmix64 of the index's Weyl point
uint64_t dropout_key(uint64_t seed);
uint64_t dropout_threshold(double rate);              // floor((1 - rate)·2^32)
// y, mask, x: (count,)
void dropout_forward(float* y, uint8_t* mask, const float* x, index_t count, uint64_t seed,
                     double rate);
// dx = dy·mask/(1 - rate); dx, mask, dy: (count,)
void dropout_backward(float* dx, const uint8_t* mask, const float* dy, index_t count, double rate);

// ---------------------------------------------------------------------------------------------
// Machine probe: FMA throughput of the chosen micro-kernel's ISA on the calling thread, in
// GFLOP/s, measured for about `seconds`. (Ten independent accumulators that start apart, so the
// compiler cannot merge the chains.) The benchmark multiplies by the thread count it measured.
double fma_peak_probe(double seconds, const char* isa);

}  // namespace fastnn
