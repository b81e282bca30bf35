// rnn.cpp — SimpleRNN, LSTM and GRU over whole sequences (Keras 3 equations, fastnn.h), forward
// and backward through time, on top of the one sgemm (after PyTorch's aten RNN.cpp and oneDNN's
// ref_rnn). Parameter gradients accumulate (+=); dx, dh0, dc0 are overwritten.
//
// Forward: the input projection of all steps is ONE GEMM, X (T·N × C)·W + b, written where the
// step's gates will live; then per step the recurrent product h_prev·U accumulates onto that
// step's (N × G·OC) tile (beta = 1) against U packed once per call, and one pass applies the gate
// nonlinearities and the state update over the tile while it is in L2.
// Backward: per step only the gate gradients (one pass) and dh_prev = dG·Uᵀ (one GEMM against
// Uᵀ, packed once per call); after the loop ONE whole-sequence GEMM gives dU, db and dW
// together — Zᵀ·dG with Z's rows [h_prev | 1 | x] — and one more gives dX = dG·Wᵀ.
//
// Layout: every internal buffer is time-major in processing order (step s reads x[:, T-1-s] when
// go_backwards), so each whole-sequence product is a single GEMM over T·N rows; the batch-first
// API layout is restored by gather/scatter copies at the edges and never leaks.
// Cache (floats), blocks time-major in processing order:
//   Z (T+1, N, OC+1+C), row (s, n) = [h_s | 1 | x_s]: h_0 = h0, h_{s+1} = the state after step s,
//     x_s the input step s reads (zeros in row block T). Every cell starts with Z; then
//   SimpleRNN  nothing more
//   LSTM       Cs (T+1, N, OC) cell states | G (T, N, 4·OC) activated [i f g o] | A (T, N, OC) = act(c)
//   GRU        G (T, N, 3·OC) activated [z r hh] | E (T, N, OC) where E is h_prev·u_h + b_rh
//              (reset_after, before the reset) or r ⊙ h_prev (reset before)
//
// Threads: the step loop cuts the batch into chunks, each carried through the whole sequence by
// one thread (StepPlan); the whole-sequence GEMMs never split their k loop, so no result depends
// on the thread count.
// Recurrent dropout (Keras 3: one mask per sequence for SimpleRNN and LSTM, one per gate for GRU):
// the step product reads h_prev ⊙ mask from a per-step buffer (GRU: one product per gate block);
// backward masks the gradient each product sends to h_prev and rebuilds h_prev ⊙ mask for du.
// Nothing extra is cached.
// Time-step masking (Keras's mask, step_mask (N, T) in x's time order): a masked step leaves the
// sample's states as they were. Forward computes the step for every row as usual, then copies the
// previous state over the masked rows (one byte read per row and step; the gates cached for those
// rows are never read). Backward splits each chunk's rows into runs of kept rows, which take the
// cell's backward pass unchanged, and masked rows, whose gate gradients are 0 and whose state
// gradient passes straight to the previous step; the recurrent product then always accumulates.
// What this file does not do: input dropout (the layer masks x), stateful batches.

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "fastnn.h"

namespace fastnn {

index_t rnn_cache_size(RnnCell cell, index_t N, index_t T, index_t C, index_t OC) {
    const index_t z = (T + 1) * N * (OC + 1 + C);
    switch (cell) {
        case RnnCell::SimpleRNN:
            return z;
        case RnnCell::LSTM:
            return z + (T + 1) * N * OC + T * N * 5 * OC;
        case RnnCell::GRU:
            return z + T * N * 4 * OC;
    }
    return 0;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Helpers: row-split parallel passes, layout copies, the whole-sequence gradient GEMMs.

// A step's elementwise pass is worth a parallel region (~1 µs with spinning threads) from here on.
constexpr index_t kStepParallelMin = 8192;

// fn(r0, r1) over [0, rows), one contiguous range per thread when `work` (values touched) is big.
template <class Fn>
void for_rows(index_t rows, index_t work, Fn&& fn) {
    int threads = work >= kStepParallelMin ? num_threads() : 1;
    if ((index_t)threads > rows) threads = (int)rows;
#ifdef FASTNN_OPENMP
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static, 1)
        for (int t = 0; t < threads; t++) {
            DenormalGuard denormals;
            index_t r0, r1;
            split_range(rows, threads, t, &r0, &r1);
            fn(r0, r1);
        }
        return;
    }
#endif
    fn(index_t(0), rows);
}

// Z (T+1, N, OC+1+C): h0 (or zeros) in row block 0, the ones column, and x (N, T, C) gathered
// time-major in processing order (zeros in row block T). The steps write the other states.
void fill_z(float* Z, const float* x, const float* h0, index_t N, index_t T, index_t C, index_t OC,
            bool go_backwards) {
    const index_t ZW = OC + 1 + C;
    for_rows(N, N * (T + 1) * ZW, [&](index_t n0, index_t n1) {
        for (index_t n = n0; n < n1; n++)
            for (index_t s = 0; s <= T; s++) {
                float* z = Z + (s * N + n) * ZW;  // row (s, n)
                if (s == 0) {
                    if (h0)
                        std::memcpy(z, h0 + n * OC, sizeof(float) * OC);
                    else
                        std::fill(z, z + OC, 0.0f);
                }
                z[OC] = 1.0f;
                if (s < T)
                    std::memcpy(z + OC + 1, x + (n * T + (go_backwards ? T - 1 - s : s)) * C, sizeof(float) * C);
                else
                    std::fill(z + OC + 1, z + ZW, 0.0f);
            }
    });
}

// x (N, T, C) <- time-major rows xt (s, n) of stride ld, step s going to time T-1-s when go_backwards.
void scatter_batch_major(float* x, const float* xt, index_t ld, index_t N, index_t T, index_t C, bool go_backwards) {
    for_rows(N, N * T * C, [&](index_t n0, index_t n1) {
        for (index_t n = n0; n < n1; n++)
            for (index_t s = 0; s < T; s++)
                std::memcpy(x + (n * T + (go_backwards ? T - 1 - s : s)) * C, xt + (s * N + n) * ld, sizeof(float) * C);
    });
}

void copy_rows(float* dst, index_t ld_dst, const float* src, index_t ld_src, index_t rows, index_t cols) {
    for (index_t r = 0; r < rows; r++) std::memcpy(dst + r * ld_dst, src + r * ld_src, sizeof(float) * cols);
}

// dst += src, both (rows × cols) with their own row strides.
void add_block(float* dst, index_t ld_dst, const float* src, index_t ld_src, index_t rows, index_t cols) {
    for (index_t r = 0; r < rows; r++) {
        float* FASTNN_RESTRICT d = dst + r * ld_dst;
        const float* FASTNN_RESTRICT s = src + r * ld_src;
        for (index_t j = 0; j < cols; j++) d[j] += s[j];
    }
}

void init_state(float* s, const float* s0, index_t count) {
    if (s0)
        std::memcpy(s, s0, sizeof(float) * count);
    else
        std::fill(s, s + count, 0.0f);
}

// Every step's input projection x·w + b as ONE GEMM over the T·N rows of Z (out: (T·N, GO), row
// stride ldo). With a bias, A also takes Z's ones column and B is [b; w] stacked, so the bias rides
// in the product: no epilogue pass over the output of a product only K = C + 1 deep.
// With rows sorted by a padding mask (kept: step s keeps rows [0, kept[s])), only the kept rows are
// projected, step by step against B packed once: the masked rows' outputs are never read.
void input_projection(float* out, index_t ldo, const float* Z, const float* w, const float* b, const index_t* kept,
                      index_t T, index_t N, index_t C, index_t OC, index_t GO) {
    const index_t ZW = OC + 1 + C, K = b ? C + 1 : C;
    const float* A = b ? Z + OC : Z + OC + 1;
    Carver sc = Carver::slot(3, Carver::floats({b ? (C + 1) * GO : 0, kept ? sgemm_packed_b_floats(K, GO) : 0}));
    float* bw = sc.take(b ? (C + 1) * GO : 0);  // (C+1, GO) = [b; w]
    if (b) {
        std::memcpy(bw, b, sizeof(float) * GO);
        std::memcpy(bw + GO, w, sizeof(float) * C * GO);
    }
    const float* B = b ? bw : w;
    if (!kept) {
        sgemm(out, ldo, A, ZW, false, B, GO, false, T * N, GO, K, 1.0f, 0.0f);
        return;
    }
    const PackedB packed = sgemm_pack_b(sc.take(sgemm_packed_b_floats(K, GO)), B, GO, false, K, GO);
    for (index_t s = 0; s < T; s++)
        if (kept[s] > 0)
            sgemm_packed_b_threads(out + s * N * ldo, ldo, A + s * N * ZW, ZW, false, packed, kept[s], 1.0f, 0.0f);
}

// dh (N, OC) = dh_last + dh_seq[:, T-1] (either may be null): the gradient reaching the last step.
void last_step_grad(float* dh, const float* dh_seq, const float* dh_last, index_t N, index_t T, index_t OC) {
    init_state(dh, dh_last, N * OC);
    if (!dh_seq) return;
    for (index_t n = 0; n < N; n++) {
        const float* src = dh_seq + (n * T + T - 1) * OC;  // seek to (n, T-1)
        float* d = dh + n * OC;
        for (index_t j = 0; j < OC; j++) d[j] += src[j];
    }
}

// Recurrent dropout. masked_rows: rows [n0, n1) of hm (row stride ldm) = h (row stride ldh) ⊙ mask
// (N, OC), OC columns.
void masked_rows(float* hm, index_t ldm, const float* h, index_t ldh, const float* mask, index_t OC, index_t n0,
                 index_t n1) {
    for (index_t n = n0; n < n1; n++) {
        float* FASTNN_RESTRICT d = hm + n * ldm;
        const float* FASTNN_RESTRICT a = h + n * ldh;
        const float* FASTNN_RESTRICT m = mask + n * OC;
        for (index_t j = 0; j < OC; j++) d[j] = a[j] * m[j];
    }
}

// HM (T, N, OC) = every step's h_prev ⊙ mask, from Z's state columns (for du).
void masked_states(float* HM, const float* Z, const float* mask, index_t N, index_t T, index_t ZW, index_t OC) {
    for_rows(N, T * N * OC, [&](index_t n0, index_t n1) {
        for (index_t s = 0; s < T; s++) masked_rows(HM + s * N * OC, OC, Z + s * N * ZW, ZW, mask, OC, n0, n1);
    });
}

// The rows [n0, n1) of h_prev a step's recurrent product reads (*ld: their row stride): Z's state
// columns (Zs: the step's row block), or with recurrent dropout h_prev ⊙ mask written into hm.
const float* step_state(float* hm, const float* Zs, index_t ZW, const float* mask, index_t OC, index_t n0, index_t n1,
                        index_t* ld) {
    if (!mask) {
        *ld = ZW;
        return Zs + n0 * ZW;
    }
    masked_rows(hm, OC, Zs, ZW, mask, OC, n0, n1);
    *ld = OC;
    return hm + n0 * OC;
}

// Rows [n0, n1) of dst (N, OC) = (accumulate ? dst : 0) + dG·uᵀ [⊙ mask]: the gradient reaching
// h_prev through the recurrent product (ut: uᵀ packed, K = G·OC; dG rows ldg apart). With a mask
// the product goes to prod (N, OC) first.
void state_grad(float* dst, const float* dG, index_t ldg, const PackedB& ut, const float* mask, float* prod, index_t OC,
                index_t n0, index_t n1, bool accumulate, float* ap) {
    if (!mask) {
        sgemm_packed_b(dst + n0 * OC, OC, dG + n0 * ldg, ldg, false, ut, n1 - n0, 1.0f, accumulate ? 1.0f : 0.0f, ap);
        return;
    }
    sgemm_packed_b(prod + n0 * OC, OC, dG + n0 * ldg, ldg, false, ut, n1 - n0, 1.0f, 0.0f, ap);
    for (index_t n = n0; n < n1; n++) {
        float* FASTNN_RESTRICT d = dst + n * OC;
        const float* FASTNN_RESTRICT p = prod + n * OC;
        const float* FASTNN_RESTRICT m = mask + n * OC;
        if (accumulate)
            for (index_t j = 0; j < OC; j++) d[j] += p[j] * m[j];
        else
            for (index_t j = 0; j < OC; j++) d[j] = p[j] * m[j];
    }
}

// Some columns of a whole-sequence gate gradient dG: (T·N, width) rows ld apart, gate columns
// [col0, col0 + width) of w.
struct GateColumns {
    const float* rows;
    index_t ld, col0, width;
};

// The rows of the whole-sequence gradient products (their k dimension): every (step, row), T·N
// of them; or, with rows sorted by a padding mask (StepMask::prefix), only each step's kept rows
// [0, kept[s]), in that order from start[s]: the masked rows' gate gradients are 0 and add
// nothing, so the products skip them.
struct SeqRows {
    index_t T, N, K;
    const index_t* kept = nullptr;
    std::vector<index_t> start;

    SeqRows(const index_t* prefix, index_t T_, index_t N_) : T(T_), N(N_), K(T_ * N_), kept(prefix) {
        if (!kept) return;
        start.resize((size_t)T);
        K = 0;
        for (index_t s = 0; s < T; s++) {
            start[(size_t)s] = K;
            K += kept[s];
        }
    }
    // W columns of the rows of src (T·N rows, lds apart) as (K, W), *ld apart: src itself when
    // every row counts, else its kept rows copied into buf.
    const float* rows(std::vector<float>& buf, const float* src, index_t lds, index_t W, index_t* ld) const {
        if (!kept) {
            *ld = lds;
            return src;
        }
        buf.resize((size_t)(K * W));
        float* dst = buf.data();
        for_rows(T, K * W, [&](index_t s0, index_t s1) {
            for (index_t s = s0; s < s1; s++)
                for (index_t n = 0; n < kept[s]; n++)
                    std::memcpy(dst + (start[(size_t)s] + n) * W, src + (s * N + n) * lds, sizeof(float) * W);
        });
        *ld = W;
        return dst;
    }
};

// A (T·N, W) gradient the backward step loop writes, step by step. When nothing but a weight
// gradient reads it whole (no dx, no recurrent dropout) and that GEMM would pack it (see
// pack_step_grad), each step's rows go straight from cache into packed-B panels for the GEMM (only
// the rows of sr, the products' k) and `rows` holds a single step: no multi-MB array written out
// and read back for packing. Otherwise `rows` holds every step (T, N, W), row-major.
struct StepGrad {
    bool packed, whole;  // neither: nothing reads it after its step (no dx, no weight gradients)
    index_t N, W;
    const SeqRows& sr;
    float* rows = nullptr;
    float* panels = nullptr;
    PackedB layout;

    StepGrad(bool packed_, bool whole_, index_t T, index_t N_, index_t W_, const SeqRows& sr_, Carver& sc)
        : packed(packed_), whole(whole_), N(N_), W(W_), sr(sr_) {
        rows = sc.take(whole ? T * N * W : N * W);
        panels = sc.take(packed ? sgemm_packed_b_floats(sr.K, W) : 0);
        if (packed) layout = sgemm_packed_b_layout(panels, sr.K, W);
    }
    static index_t floats(bool packed, bool whole, index_t T, index_t N, index_t W, index_t K) {
        return Carver::floats({whole ? T * N * W : N * W, packed ? sgemm_packed_b_floats(K, W) : 0});
    }
    float* step(index_t s) const { return whole ? rows + s * N * W : rows; }  // row n at + n·W
    // Rows [n0, n1) of step s are final.
    void done(index_t s, index_t n0, index_t n1) const {
        if (!packed) return;
        if (!sr.kept) {
            sgemm_pack_b_rows(panels, layout, s * N + n0, n1 - n0, rows + n0 * W, W);
            return;
        }
        const index_t n1k = std::min(n1, sr.kept[s]);
        if (n1k > n0) sgemm_pack_b_rows(panels, layout, sr.start[(size_t)s] + n0, n1k - n0, rows + n0 * W, W);
    }
};

// Whether the weight gradient Aᵀ·G (A: M columns, K rows) of a StepGrad of width W takes it packed
// (when there is a weight gradient and nothing else reads G whole); then whether G is kept whole.
bool pack_step_grad(bool need_dw, bool whole_needed, index_t M, index_t W, index_t K) {
    return need_dw && !whole_needed && sgemm_packs_b(M, W, K, true, false);
}
bool keep_step_grad(bool need_dw, bool whole_needed, bool packed) { return whole_needed || (need_dw && !packed); }

// out (M, W) = Aᵀ·G (+ beta·out) over the products' rows (G.sr): A stored (K, M), rows lda apart
// (already the kept rows when sorted); G packed, or whole: with sorted rows its kept rows are
// gathered into buf once, and a later product on the same G (same buf) reuses them.
void grad_product(float* out, index_t ldo, const float* A, index_t lda, index_t M, const StepGrad& G,
                  std::vector<float>& buf, float beta = 0.0f) {
    if (G.packed) {
        sgemm_packed_b_threads(out, ldo, A, lda, true, G.layout, M, 1.0f, beta);
        return;
    }
    index_t ldg = G.W;
    const float* g = !G.sr.kept ? G.rows : buf.empty() ? G.sr.rows(buf, G.rows, G.W, G.W, &ldg) : buf.data();
    sgemm(out, ldo, A, lda, true, g, ldg, false, M, G.W, G.sr.K, 1.0f, beta);
}

// [du; db; dw] in ONE GEMM: out (OC+1+C, GO) = Z[0:T]ᵀ·dG over the products' rows (the ones
// column of Z turns its row OC into dG's column sums), then added to du (OC, GO), db (GO,),
// dw (C, GO). With recurrent dropout the product saw HM (T·N, OC) = h_prev ⊙ mask instead of
// Z's h columns: du += HMᵀ·dG, and only [1 | x] comes from Z.
void weight_grads(float* du, float* db, float* dw, float* out, const float* Z, const float* HM, const StepGrad& dG,
                  index_t C, index_t OC, index_t GO) {
    const index_t ZW = OC + 1 + C;
    const SeqRows& sr = dG.sr;
    std::vector<float> zb, hb, gb;
    index_t ldz;
    const float* Zk = sr.rows(zb, Z, ZW, ZW, &ldz);
    if (HM) {
        index_t ldh, ldg;
        const float* Hk = sr.rows(hb, HM, OC, OC, &ldh);
        const float* Gk = sr.rows(gb, dG.rows, GO, GO, &ldg);
        sgemm(du, GO, Hk, ldh, true, Gk, ldg, false, OC, GO, sr.K, 1.0f, 1.0f);
        sgemm(out + OC * GO, GO, Zk + OC, ldz, true, Gk, ldg, false, 1 + C, GO, sr.K, 1.0f, 0.0f);
    } else {
        grad_product(out, GO, Zk, ldz, ZW, dG, gb);
        add_block(du, GO, out, GO, OC, GO);
    }
    if (db) add_block(db, GO, out + OC * GO, GO, 1, GO);
    add_block(dw, GO, out + (OC + 1) * GO, GO, C, GO);
}

// dx (N, T, C) = dG·wᵀ over dG's column blocks, computed time-major into dxt (K, C) over sr's rows
// and scattered back; with sorted rows the masked rows' dx is 0 (their dG is), written as such.
void input_grad(float* dx, float* dxt, std::initializer_list<GateColumns> dG, const float* w, const SeqRows& sr,
                index_t C, index_t GO, bool go_backwards) {
    if (!dx) return;
    const index_t N = sr.N, T = sr.T;
    float beta = 0.0f;
    std::vector<float> buf;
    for (const GateColumns& b : dG) {
        index_t ld;
        const float* g = sr.rows(buf, b.rows, b.ld, b.width, &ld);
        sgemm(dxt, C, g, ld, false, w + b.col0, GO, true, sr.K, C, b.width, 1.0f, beta);
        beta = 1.0f;
    }
    if (!sr.kept) {
        scatter_batch_major(dx, dxt, C, N, T, C, go_backwards);
        return;
    }
    for_rows(N, N * T * C, [&](index_t n0, index_t n1) {
        for (index_t n = n0; n < n1; n++)
            for (index_t s = 0; s < T; s++) {
                float* d = dx + (n * T + (go_backwards ? T - 1 - s : s)) * C;
                if (n < sr.kept[s])
                    std::memcpy(d, dxt + (sr.start[(size_t)s] + n) * C, sizeof(float) * C);
                else
                    std::fill(d, d + C, 0.0f);
            }
    });
}

// The step loop. Batch rows never interact in a recurrent layer, so the batch is cut into chunks of
// whole micro-panels and each chunk is carried through EVERY step by one thread: one parallel
// region per sequence and no barrier per step (a per-step region pair costs ~2-5 µs against ~50 µs
// of work, and far more when another process holds a core). Threads take chunks dynamically, a few
// per thread, so a thread slowed by a competing process hands its share to the other: with a busy
// loop on one of two cores this ran 18-23% faster (median, paired) than one fixed slice per thread;
// quiet, within ±2% of it except LSTM(128) at batch 128 (3-5% slower in most runs). The recurrent weights are packed once per call and
// shared read-only; each thread packs only its chunk's rows of h (or dG) per step. Every row is
// computed the same way whatever its chunk, so results do not depend on the thread count.
struct StepOperand {  // one recurrent product's op(B): K × N, stored N × K when trans_b
    const float* B;
    index_t ldb;
    bool trans_b;
    index_t K, N;
};

class StepPlan {
  public:
    PackedB b[3];  // the products, in the order given (at most three)

    // mul_adds_per_row: the recurrent multiply-adds of one batch row over the whole sequence.
    StepPlan(index_t N, index_t mul_adds_per_row, std::initializer_list<StepOperand> operands) : N_(N) {
        threads_ = (double)N * (double)mul_adds_per_row >= 1e6 ? (int)std::min<index_t>(num_threads(), N) : 1;
        int mr, nr, mc, kc, nc, in_l2;
        gemm_get_blocking(&mr, &nr, &mc, &kc, &nc, &in_l2);
        mr_ = mr;
        slivers_ = (N + mr - 1) / mr;
        // a multiple of the thread count (equal threads end together), each chunk at least
        // kMinChunkSlivers micro-panels: one sliver per step product would stream the packed weights
        // through L1 for only MR rows
        const index_t per_thread = std::clamp<index_t>(slivers_ / (threads_ * kMinChunkSlivers), 1, kChunksPerThread);
        chunks_ = threads_ > 1 ? std::min<index_t>(slivers_, threads_ * per_thread) : 1;
        index_t k_max = 0, b_floats[3] = {0, 0, 0}, i = 0;
        for (const StepOperand& op : operands) {
            b_floats[i++] = sgemm_packed_b_floats(op.K, op.N);
            k_max = std::max(k_max, op.K);
        }
        a_floats_ = sgemm_packed_a_floats((slivers_ + chunks_ - 1) / chunks_ * mr_, k_max);
        float* base = thread_scratch(2, (size_t)(b_floats[0] + b_floats[1] + b_floats[2] + threads_ * a_floats_));
        a_panels_ = base + b_floats[0] + b_floats[1] + b_floats[2];
        i = 0;
        for (const StepOperand& op : operands) {
            b[i] = sgemm_pack_b(base, op.B, op.ldb, op.trans_b, op.K, op.N);
            base += b_floats[i++];
        }
    }

    // fn(s, n0, n1, a_panels) runs step s for batch rows [n0, n1) on one thread. Each chunk of rows
    // goes through s = 0..T-1 (or T-1..0 when reverse) on one thread; chunks never interact.
    template <class Fn>
    void run(index_t T, bool reverse, Fn&& fn) {
        auto sequence = [&](index_t c, float* ap) {
            index_t s0, s1;
            split_range(slivers_, (int)chunks_, (int)c, &s0, &s1);
            const index_t n0 = s0 * mr_, n1 = std::min(N_, s1 * mr_);
            for (index_t i = 0; i < T; i++) fn(reverse ? T - 1 - i : i, n0, n1, ap);
        };
#ifdef FASTNN_OPENMP
        if (threads_ > 1) {
#pragma omp parallel num_threads(threads_)
            {
                DenormalGuard denormals;
                float* ap = a_panels_ + omp_get_thread_num() * a_floats_;
#pragma omp for schedule(dynamic, 1)
                for (index_t c = 0; c < chunks_; c++) sequence(c, ap);
            }
            return;
        }
#endif
        for (index_t c = 0; c < chunks_; c++) sequence(c, a_panels_);
    }

  private:
    static constexpr index_t kChunksPerThread = 4, kMinChunkSlivers = 2;
    index_t N_;
    int threads_ = 1;
    index_t mr_ = 1, slivers_ = 0;  // the batch in micro-panels of MR rows
    index_t chunks_ = 1;
    index_t a_floats_ = 0;
    float* a_panels_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Per-step elementwise passes over batch rows [r0, r1), multi-versioned like activation.cpp
// (common.h). States h are rows of Z: row stride ldh.

struct Acts {
    Act act, ract;
    float alpha, ralpha;
};

// The loops over one row's units live in small inline helpers whose gate blocks are restrict
// PARAMETERS: the blocks of a row never overlap, and GCC vectorises only when told so this way
// (restrict locals are not enough). The helpers inline into each multi-versioned caller.
#define R FASTNN_RESTRICT

inline void mul_row(float* R y, const float* R a, const float* R b, index_t n) {
    for (index_t j = 0; j < n; j++) y[j] = a[j] * b[j];
}

inline void add_row(float* R y, const float* R a, index_t n) {
    for (index_t j = 0; j < n; j++) y[j] += a[j];
}

// c = f·c_prev + i·g and a copy of it in a (activated next)
inline void lstm_state_row(float* R c, float* R a, const float* R i, const float* R f, const float* R g,
                           const float* R cp, index_t n) {
    for (index_t j = 0; j < n; j++) {
        c[j] = f[j] * cp[j] + i[j] * g[j];
        a[j] = c[j];
    }
}

// Gate gradients before their activations' derivatives, and dc <- dc_prev. dout holds
// dh·o·act'(c) on entry and dh·a on exit.
inline void lstm_grad_row(float* R di, float* R df, float* R dg, float* R dout, float* R dc, const float* R i,
                          const float* R f, const float* R g, const float* R a, const float* R cp, const float* R dh,
                          index_t n) {
    for (index_t j = 0; j < n; j++) {
        const float dcj = dc[j] + dout[j];
        di[j] = dcj * g[j];
        df[j] = dcj * cp[j];
        dg[j] = dcj * i[j];
        dout[j] = dh[j] * a[j];
        dc[j] = dcj * f[j];
    }
}

// GRU reset_after candidate: e = q_h (kept for backward); hh += r·q_h
inline void gru_candidate_row(float* R e, float* R hh, const float* R r, const float* R qh, index_t n) {
    for (index_t j = 0; j < n; j++) {
        e[j] = qh[j];
        hh[j] += r[j] * qh[j];
    }
}

// h = z·h_prev + (1 - z)·hh
inline void gru_update_row(float* R h, const float* R z, const float* R hp, const float* R hh, index_t n) {
    for (index_t j = 0; j < n; j++) h[j] = z[j] * hp[j] + (1.0f - z[j]) * hh[j];
}

// dhh = dh·(1 - z), dz = dh·(h_prev - hh), before the activations' derivatives
inline void gru_grad_row(float* R dhh, float* R dz, const float* R dh, const float* R z, const float* R hp,
                         const float* R hh, index_t n) {
    for (index_t j = 0; j < n; j++) {
        dhh[j] = dh[j] * (1.0f - z[j]);
        dz[j] = dh[j] * (hp[j] - hh[j]);
    }
}

// d = dh·z [+ drh·r] [+ next]; d may be dh itself (same index read, then written: no restrict)
inline void gru_state_grad_row(float* d, const float* dh, const float* R z, const float* R drh, const float* R r,
                               const float* R next, index_t n) {
    if (drh && next)
        for (index_t j = 0; j < n; j++) d[j] = dh[j] * z[j] + drh[j] * r[j] + next[j];
    else if (drh)
        for (index_t j = 0; j < n; j++) d[j] = dh[j] * z[j] + drh[j] * r[j];
    else if (next)
        for (index_t j = 0; j < n; j++) d[j] = dh[j] * z[j] + next[j];
    else
        for (index_t j = 0; j < n; j++) d[j] = dh[j] * z[j];
}

// The default LSTM cell (tanh, recurrent sigmoid) in one pass over a row instead of seven: the
// pre-activation gradients dg = [di df dg do] and dc <- dc_prev in place, with the same products in
// the same order as the general passes in lstm_cell_backward (dc + dh·o·act'(c) may become one
// multiply-add here, rounded once). a = act(c); cp = c_prev.
inline void lstm_grad_row_default(float* R dg, float* R dc, const float* R g, const float* R a, const float* R cp,
                                  const float* R dh, index_t n) {
    const float* R i = g;
    const float* R f = g + n;
    const float* R gg = g + 2 * n;
    const float* R o = g + 3 * n;
    for (index_t j = 0; j < n; j++) {
        const float dcj = dc[j] + dh[j] * o[j] * (1.0f - a[j] * a[j]);
        dg[j] = dcj * gg[j] * i[j] * (1.0f - i[j]);
        dg[n + j] = dcj * cp[j] * f[j] * (1.0f - f[j]);
        dg[2 * n + j] = dcj * i[j] * (1.0f - gg[j] * gg[j]);
        dg[3 * n + j] = dh[j] * a[j] * o[j] * (1.0f - o[j]);
        dc[j] = dcj * f[j];
    }
}

// The default GRU cell (tanh, recurrent sigmoid, reset_after) in one pass over a row instead of
// seven: the gate gradients dq = [dz dr dhh·r] (the recurrent product's; z and r serve the input
// side too) and dhh (the candidate's input side), and dh <- dh·z (+ next) in place. The same
// products in the same order as the general passes in gru_after_backward.
template <bool NEXT>
inline void gru_after_grad_row_default(float* R dq, float* R dhh_out, float* R dh, const float* R g, const float* R e,
                                       const float* R hp, const float* R next, index_t n) {
    const float* R z = g;
    const float* R r = g + n;
    const float* R hh = g + 2 * n;
    for (index_t j = 0; j < n; j++) {
        const float dhj = dh[j];
        const float dhh = dhj * (1.0f - z[j]) * (1.0f - hh[j] * hh[j]);
        dq[j] = dhj * (hp[j] - hh[j]) * z[j] * (1.0f - z[j]);
        dq[n + j] = dhh * e[j] * r[j] * (1.0f - r[j]);
        dq[2 * n + j] = dhh * r[j];
        dhh_out[j] = dhh;
        dh[j] = NEXT ? dhj * z[j] + next[j] : dhj * z[j];
    }
}

#undef R

// LSTM forward: g (N, 4·OC) pre-activations -> activated [i f g o]; c = f·c_prev + i·g; a = act(c); h = o·a.
FASTNN_ELEMENTWISE
void lstm_cell_forward(float* G, float* Cn, float* An, float* Hn, index_t ldh, const float* Cp, index_t OC, Acts f,
                       index_t r0, index_t r1) {
    for (index_t n = r0; n < r1; n++) {
        float* g = G + n * 4 * OC;  // seek to row n: [i f g o]
        float* a = An + n * OC;
        activation_inplace(g, 2 * OC, f.ract, f.ralpha);
        activation_inplace(g + 2 * OC, OC, f.act, f.alpha);
        activation_inplace(g + 3 * OC, OC, f.ract, f.ralpha);
        lstm_state_row(Cn + n * OC, a, g, g + OC, g + 2 * OC, Cp + n * OC, OC);
        activation_inplace(a, OC, f.act, f.alpha);
        mul_row(Hn + n * ldh, g + 3 * OC, a, OC);
    }
}

// LSTM backward: from dh, dc (gradients reaching h_s, c_s) write dG (pre-activation gate
// gradients) and dc <- dc_prev (in place); then dh <- dh_seq[:, s-1] when given (the GEMM adds dG·Uᵀ).
FASTNN_ELEMENTWISE
void lstm_cell_backward(float* dG, float* dC, float* dH, const float* G, const float* A, const float* Cp,
                        const float* dh_next, index_t dh_next_stride, index_t OC, Acts f, index_t r0, index_t r1) {
    const bool default_cell = f.act == Act::Tanh && f.ract == Act::Sigmoid;
    for (index_t n = r0; n < r1; n++) {
        const float* g = G + n * 4 * OC;  // activated [i f g o]
        const float* a = A + n * OC;
        float* dg = dG + n * 4 * OC;
        float* dh = dH + n * OC;
        if (default_cell) {
            lstm_grad_row_default(dg, dC + n * OC, g, a, Cp + n * OC, dh, OC);
            if (dh_next) std::memcpy(dh, dh_next + n * dh_next_stride, sizeof(float) * OC);
            continue;
        }
        float* dout = dg + 3 * OC;  // the o block holds dh·o·act'(c) first
        mul_row(dout, dh, g + 3 * OC, OC);
        activation_backward_row(dout, dout, a, OC, f.act, f.alpha);
        lstm_grad_row(dg, dg + OC, dg + 2 * OC, dout, dC + n * OC, g, g + OC, g + 2 * OC, a, Cp + n * OC, dh, OC);
        activation_backward_row(dg, dg, g, 2 * OC, f.ract, f.ralpha);  // i and f
        activation_backward_row(dg + 2 * OC, dg + 2 * OC, g + 2 * OC, OC, f.act, f.alpha);
        activation_backward_row(dout, dout, g + 3 * OC, OC, f.ract, f.ralpha);
        if (dh_next) std::memcpy(dh, dh_next + n * dh_next_stride, sizeof(float) * OC);
    }
}

// GRU forward, reset_after: g (N, 3·OC) input projections, q (N, 3·OC) = h_prev·u + b_rec.
FASTNN_ELEMENTWISE
void gru_after_forward(float* G, float* E, float* Hn, const float* Q, const float* Hp, index_t ldh, index_t OC,
                       Acts f, index_t r0, index_t r1) {
    for (index_t n = r0; n < r1; n++) {
        float* g = G + n * 3 * OC;  // [z r hh]
        const float* q = Q + n * 3 * OC;
        add_row(g, q, 2 * OC);
        activation_inplace(g, 2 * OC, f.ract, f.ralpha);
        gru_candidate_row(E + n * OC, g + 2 * OC, g + OC, q + 2 * OC, OC);
        activation_inplace(g + 2 * OC, OC, f.act, f.alpha);
        gru_update_row(Hn + n * ldh, g, Hp + n * ldh, g + 2 * OC, OC);
    }
}

// GRU forward, reset before, first half: activate z and r (their recurrent products are in g);
// e = r ⊙ h_prev feeds the candidate's recurrent GEMM.
FASTNN_ELEMENTWISE
void gru_before_gates(float* G, float* E, const float* Hp, index_t ldh, index_t OC, Acts f, index_t r0, index_t r1) {
    for (index_t n = r0; n < r1; n++) {
        float* g = G + n * 3 * OC;
        activation_inplace(g, 2 * OC, f.ract, f.ralpha);
        mul_row(E + n * OC, g + OC, Hp + n * ldh, OC);
    }
}

// GRU forward, reset before, second half: hh = act(·) and the state update.
FASTNN_ELEMENTWISE
void gru_before_update(float* G, float* Hn, const float* Hp, index_t ldh, index_t OC, Acts f, index_t r0, index_t r1) {
    for (index_t n = r0; n < r1; n++) {
        float* g = G + n * 3 * OC;
        activation_inplace(g + 2 * OC, OC, f.act, f.alpha);
        gru_update_row(Hn + n * ldh, g, Hp + n * ldh, g + 2 * OC, OC);
    }
}

// GRU backward, reset_after: dQ (N, 3·OC) = [dz dr dhh·r] the recurrent product's gate gradients,
// dHH (N, OC) the candidate's input-side gradient; dst <- dh·z (+ dh_seq[:, s-1]); the GEMM then
// adds dQ·uᵀ. dst may be dH itself.
FASTNN_ELEMENTWISE
void gru_after_backward(float* dQ, float* dHH, float* dst, float* dH, const float* G, const float* E,
                        const float* Hp, index_t ldh, const float* dh_next, index_t dh_next_stride, index_t OC,
                        Acts f, index_t r0, index_t r1) {
    const bool default_cell = f.act == Act::Tanh && f.ract == Act::Sigmoid;
    for (index_t n = r0; n < r1; n++) {
        const float* g = G + n * 3 * OC;  // activated [z r hh]
        float* dq = dQ + n * 3 * OC;
        float* dhh = dHH + n * OC;
        if (default_cell) {
            float* dh = dH + n * OC;  // becomes dh·z (+ next) in place, then goes to dst
            if (dh_next)
                gru_after_grad_row_default<true>(dq, dhh, dh, g, E + n * OC, Hp + n * ldh, dh_next + n * dh_next_stride,
                                                 OC);
            else
                gru_after_grad_row_default<false>(dq, dhh, dh, g, E + n * OC, Hp + n * ldh, nullptr, OC);
            if (dst != dH) std::memcpy(dst + n * OC, dh, sizeof(float) * OC);
            continue;
        }
        const float* dh = dH + n * OC;
        gru_grad_row(dhh, dq, dh, g, Hp + n * ldh, g + 2 * OC, OC);
        activation_backward_row(dhh, dhh, g + 2 * OC, OC, f.act, f.alpha);
        mul_row(dq + OC, dhh, E + n * OC, OC);      // dr = dhh·e
        mul_row(dq + 2 * OC, dhh, g + OC, OC);      // the recurrent candidate's gradient: dhh·r
        activation_backward_row(dq, dq, g, 2 * OC, f.ract, f.ralpha);  // z and r
        const float* next = dh_next ? dh_next + n * dh_next_stride : nullptr;
        gru_state_grad_row(dst + n * OC, dh, g, nullptr, nullptr, next, OC);
    }
}

// GRU backward, reset before, first half: dhh into dHH and dz into dQ = [dz dr] (dr needs d(r ⊙ h_prev) first).
FASTNN_ELEMENTWISE
void gru_before_backward1(float* dQ, float* dHH, const float* dH, const float* G, const float* Hp, index_t ldh,
                          index_t OC, Acts f, index_t r0, index_t r1) {
    for (index_t n = r0; n < r1; n++) {
        const float* g = G + n * 3 * OC;
        float* dz = dQ + n * 2 * OC;
        float* dhh = dHH + n * OC;
        gru_grad_row(dhh, dz, dH + n * OC, g, Hp + n * ldh, g + 2 * OC, OC);
        activation_backward_row(dhh, dhh, g + 2 * OC, OC, f.act, f.alpha);
        activation_backward_row(dz, dz, g, OC, f.ract, f.ralpha);
    }
}

// GRU backward, reset before, second half: drh = d(r ⊙ h_prev); dr into dQ; dst <- dh·z + drh·r (+ dh_seq).
FASTNN_ELEMENTWISE
void gru_before_backward2(float* dQ, float* dst, const float* dH, const float* drh_all, const float* G,
                          const float* Hp, index_t ldh, const float* dh_next, index_t dh_next_stride, index_t OC,
                          Acts f, index_t r0, index_t r1) {
    for (index_t n = r0; n < r1; n++) {
        const float* g = G + n * 3 * OC;
        const float* drh = drh_all + n * OC;
        float* dr = dQ + n * 2 * OC + OC;
        mul_row(dr, drh, Hp + n * ldh, OC);
        activation_backward_row(dr, dr, g + OC, OC, f.ract, f.ralpha);
        const float* next = dh_next ? dh_next + n * dh_next_stride : nullptr;
        gru_state_grad_row(dst + n * OC, dH + n * OC, g, drh, g + OC, next, OC);
    }
}

// dh_seq's row block for step s-1 (the gradient arriving at h_{s-1} from the output), or null.
const float* seq_grad(const float* dh_seq, index_t s, index_t OC) {
    return dh_seq && s > 0 ? dh_seq + (s - 1) * OC : nullptr;  // row n at + n·T·OC
}

// Time-step masking. Step s of the processing order reads time go_backwards ? T-1-s : s.
struct StepMask {
    const uint8_t* m;  // (N, T) in x's time order, or nullptr: every step kept
    index_t T;
    bool reverse;
    const index_t* prefix = nullptr;  // rows sorted (SortedRows): step s keeps rows [0, prefix[s])
    bool kept(index_t n, index_t s) const { return m[n * T + (reverse ? T - 1 - s : s)] != 0; }
    explicit operator bool() const { return m != nullptr; }
    // The end of the rows of [n0, n1) whose step s is computed: all of them, or with sorted rows
    // the kept prefix only (the other rows are masked: their products are skipped).
    index_t end(index_t s, index_t n0, index_t n1) const { return prefix ? std::clamp(prefix[s], n0, n1) : n1; }
};

// Rows sorted so that the kept rows of every processing step are a prefix of the batch, which
// holds when each row's kept steps form one run that starts at the first step or one that ends at
// the last (post- or pre-padded sequences, in either direction): rows sorted by the run's other
// end. A step then computes only its kept rows, as PyTorch's packed sequences do, found here from
// the mask alone. Other masks keep the caller's order (and compute every row).
struct SortedRows {
    std::vector<index_t> order;  // sorted row r is the caller's row order[r]
    std::vector<index_t> kept;   // (T,) step s keeps sorted rows [0, kept[s])
    std::vector<uint8_t> mask;   // (N, T) the mask in sorted row order

    // Whether the rows sort so (and some step has a masked row to skip).
    bool sort(const uint8_t* m, index_t N, index_t T, bool go_backwards) {
        std::vector<index_t> first((size_t)N), last((size_t)N);  // each row's run [first, last) of processing steps
        bool from_start = true, to_end = true;
        for (index_t n = 0; n < N; n++) {
            index_t a = T, b = 0, count = 0;
            for (index_t s = 0; s < T; s++)
                if (m[n * T + (go_backwards ? T - 1 - s : s)]) {
                    a = std::min(a, s);
                    b = s + 1;
                    count++;
                }
            if (count == 0) a = b = T;  // an empty run sorts last either way
            else if (count != b - a) return false;  // kept steps with a gap
            from_start &= count == 0 || a == 0;
            to_end &= b == T;
            first[(size_t)n] = a;
            last[(size_t)n] = count == 0 ? 0 : b;
        }
        if (!from_start && !to_end) return false;
        order.resize((size_t)N);
        for (index_t n = 0; n < N; n++) order[(size_t)n] = n;
        // runs from the start: the longest first; runs to the end: the earliest start first
        if (from_start)
            std::stable_sort(order.begin(), order.end(), [&](index_t i, index_t j) { return last[i] > last[j]; });
        else
            std::stable_sort(order.begin(), order.end(), [&](index_t i, index_t j) { return first[i] < first[j]; });
        kept.assign((size_t)T, 0);
        index_t total = 0;
        for (index_t s = 0; s < T; s++) {
            index_t k = 0;
            while (k < N && (from_start ? last[order[k]] > s : first[order[k]] <= s)) k++;
            kept[(size_t)s] = k;
            total += k;
        }
        if (total == N * T) return false;  // nothing to skip
        mask.resize((size_t)(N * T));
        for (index_t r = 0; r < N; r++) std::memcpy(&mask[r * T], m + order[r] * T, (size_t)T);
        return true;
    }
    // dst (N, W) = src's rows in sorted order; scatter: back in the caller's order.
    void gather(float* dst, const float* src, index_t W) const {
        for (size_t r = 0; r < order.size(); r++) std::memcpy(dst + r * W, src + order[r] * W, sizeof(float) * W);
    }
    void scatter(float* dst, const float* src, index_t W) const {
        for (size_t r = 0; r < order.size(); r++) std::memcpy(dst + order[r] * W, src + r * W, sizeof(float) * W);
    }
};

// A caller's (N, W) row-major array and its copy in sorted row order (blocks: several (N, W)
// arrays one after another, as a GRU's per-gate recurrent masks).
struct SortedCopy {
    std::vector<float> rows;
    float* in(const SortedRows& p, const float* src, index_t N, index_t W, index_t blocks = 1) {
        if (!src) return nullptr;
        rows.resize((size_t)(blocks * N * W));
        for (index_t k = 0; k < blocks; k++) p.gather(rows.data() + k * N * W, src + k * N * W, W);
        return rows.data();
    }
    float* out(float* dst, index_t N, index_t W) {  // a buffer for an output, or nullptr when not wanted
        if (!dst) return nullptr;
        rows.resize((size_t)(N * W));
        return rows.data();
    }
    void back(const SortedRows& p, float* dst, index_t W) const {
        if (dst) p.scatter(dst, rows.data(), W);
    }
};

// Forward, after step s over rows [n0, n1): a masked row keeps the previous state h (rows ldh
// apart) and, for an LSTM, c (rows OC apart).
void carry_masked_states(const StepMask& sm, index_t s, index_t n0, index_t n1, index_t OC, float* h, const float* hp,
                         index_t ldh, float* c = nullptr, const float* cp = nullptr) {
    if (!sm) return;
    for (index_t n = n0; n < n1; n++)
        if (!sm.kept(n, s)) {
            std::memcpy(h + n * ldh, hp + n * ldh, sizeof(float) * OC);
            if (c) std::memcpy(c + n * OC, cp + n * OC, sizeof(float) * OC);
        }
}

// Backward: kept(r0, r1) over each run of kept rows of step s in [n0, n1), masked(n) for the others.
template <class Kept, class Masked>
void split_kept_rows(const StepMask& sm, index_t s, index_t n0, index_t n1, Kept&& kept, Masked&& masked) {
    if (!sm) {
        kept(n0, n1);
        return;
    }
    for (index_t r = n0; r < n1;) {
        index_t e = r;
        while (e < n1 && sm.kept(e, s)) e++;
        if (e > r) kept(r, e);
        if (e < n1) masked(e++);
        r = e;
    }
}

// Backward, row n of a masked step: its gate gradients (width floats of dG's row) are 0 and the
// gradient reaching its state passes on, dst = dh (+ next: dh_seq's row for the step before). dst
// may be dh itself.
void pass_masked_row(float* dG, index_t width, float* dst, const float* dh, const float* next, index_t next_stride,
                     index_t OC, index_t n) {
    std::fill(dG + n * width, dG + (n + 1) * width, 0.0f);
    float* d = dst + n * OC;
    const float* h = dh + n * OC;
    if (next) {
        const float* x = next + n * next_stride;
        for (index_t j = 0; j < OC; j++) d[j] = h[j] + x[j];
    } else if (d != h) {
        std::memcpy(d, h, sizeof(float) * OC);
    }
}

void zero_rows(float* a, index_t cols, index_t r0, index_t r1) { std::fill(a + r0 * cols, a + r1 * cols, 0.0f); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// SimpleRNN

static void simple_rnn_forward_steps(float* h_seq, float* h_last, float* cache, const float* x, const float* w,
                        const float* u, const float* b, const float* h0, index_t N, index_t T,
                        index_t C, index_t OC, Act act, float alpha, bool go_backwards, const float* rec_mask,
                        const StepMask& sm) {
    // x (N, T, C), w (C, OC), u (OC, OC), b (OC,), h0 (N, OC) -> h_seq (N, T, OC), h_last (N, OC)
    DenormalGuard denormals;
    const index_t ZW = OC + 1 + C, NZ = N * ZW;
    float* Z = cache;  // (T+1, N, OC+1+C)
    float* hm = rec_mask ? thread_scratch(1, (size_t)(N * OC)) : nullptr;  // (N, OC) this step's h_prev ⊙ mask
    fill_z(Z, x, h0, N, T, C, OC, go_backwards);
    input_projection(Z + NZ, ZW, Z, w, b, sm.prefix, T, N, C, OC, OC);  // into the state slots of blocks 1..T
    StepPlan plan(N, T * OC * OC, {{u, OC, false, OC, OC}});
    plan.run(T, false, [&](index_t s, index_t n0, index_t rows_end, float* ap) {
        float* h = Z + (s + 1) * NZ;
        const index_t n1 = sm.end(s, n0, rows_end);  // the rows this step computes
        if (n1 > n0) {
            index_t ldp;
            const float* hp = step_state(hm, Z + s * NZ, ZW, rec_mask, OC, n0, n1, &ldp);
            sgemm_packed_b(h + n0 * ZW, ZW, hp, ldp, false, plan.b[0], n1 - n0, 1.0f, 1.0f, ap);
            for (index_t n = n0; n < n1; n++) activation_inplace(h + n * ZW, OC, act, alpha);  // h = act(· + h_prev·u)
        }
        carry_masked_states(sm, s, n0, rows_end, OC, h, Z + s * NZ, ZW);
    });
    copy_rows(h_last, OC, Z + T * NZ, ZW, N, OC);
    if (h_seq) scatter_batch_major(h_seq, Z + NZ, ZW, N, T, OC, false);
}

static void simple_rnn_backward_steps(float* dx, float* dw, float* du, float* db, float* dh0, const float* cache,
                         const float* dh_seq, const float* dh_last, const float* w, const float* u,
                         index_t N, index_t T, index_t C, index_t OC, Act act, float alpha,
                         bool go_backwards, const float* rec_mask, const StepMask& sm) {
    // dh_seq (N, T, OC), dh_last (N, OC) -> dx (N, T, C), dw (C, OC), du (OC, OC), db (OC,), dh0 (N, OC)
    DenormalGuard denormals;
    const index_t NO = N * OC, ZW = OC + 1 + C, NZ = N * ZW, TN = T * N;
    const float* Z = cache;
    const index_t masked = rec_mask ? 1 : 0;
    const SeqRows sr(sm.prefix, T, N);
    const bool need_dw = dw != nullptr;  // (nullptr: a frozen layer, no weight gradients)
    const bool pack = pack_step_grad(need_dw, dx || rec_mask, ZW, OC, sr.K);
    const bool whole = keep_step_grad(need_dw, dx != nullptr, pack);
    Carver sc = Carver::slot(1, Carver::floats({dx ? TN * C : 0, NO, ZW * OC, masked * NO, masked * T * NO}) +
                                         StepGrad::floats(pack, whole, T, N, OC, sr.K));
    float* dxt = sc.take(dx ? TN * C : 0);
    const StepGrad dA(pack, whole, T, N, OC, sr, sc);  // (T, N, OC) gradients of the pre-activations
    float* dh = sc.take(NO);
    float* out = sc.take(ZW * OC);
    float* prod = rec_mask ? sc.take(NO) : nullptr;     // (N, OC) da·uᵀ before the mask
    float* HM = rec_mask ? sc.take(T * NO) : nullptr;  // (T, N, OC) h_prev ⊙ mask
    last_step_grad(dh, dh_seq, dh_last, N, T, OC);
    StepPlan plan(N, T * OC * OC, {{u, OC, true, OC, OC}});  // uᵀ
    plan.run(T, true, [&](index_t s, index_t n0, index_t n1, float* ap) {
        float* da = dA.step(s);
        const float* next = seq_grad(dh_seq, s, OC);
        float* dst = s > 0 ? dh : dh0;
        split_kept_rows(sm, s, n0, n1, [&](index_t r0, index_t r1) {
            for (index_t n = r0; n < r1; n++) {
                activation_backward_row(da + n * OC, dh + n * OC, Z + (s + 1) * NZ + n * ZW, OC, act, alpha);
                if (next) std::memcpy(dh + n * OC, next + n * T * OC, sizeof(float) * OC);
            }
            if (sm && !next) zero_rows(dst, OC, r0, r1);  // with a mask the product accumulates
        }, [&](index_t n) { pass_masked_row(da, OC, dst, dh, next, T * OC, OC, n); });
        dA.done(s, n0, n1);
        const index_t n1k = sm.end(s, n0, n1);  // the rows whose step was computed: the product's
        if (n1k > n0) state_grad(dst, da, OC, plan.b[0], rec_mask, prod, OC, n0, n1k, next != nullptr || sm, ap);
    });
    if (need_dw) {
        if (HM) masked_states(HM, Z, rec_mask, N, T, ZW, OC);
        weight_grads(du, db, dw, out, Z, HM, dA, C, OC, OC);
    }
    input_grad(dx, dxt, {{dA.rows, OC, 0, OC}}, w, sr, C, OC, go_backwards);
}

// ---------------------------------------------------------------------------------------------
// LSTM

static void lstm_forward_steps(float* h_seq, float* h_last, float* c_last, float* cache, const float* x,
                  const float* w, const float* u, const float* b, const float* h0, const float* c0,
                  index_t N, index_t T, index_t C, index_t OC, Act act, float alpha, Act ract,
                  float ralpha, bool go_backwards, const float* rec_mask, const StepMask& sm) {
    // x (N, T, C), w (C, 4·OC), u (OC, 4·OC), b (4·OC,), h0, c0 (N, OC) -> h_seq (N, T, OC), h_last, c_last (N, OC)
    DenormalGuard denormals;
    const index_t NO = N * OC, GO = 4 * OC, ZW = OC + 1 + C, NZ = N * ZW;
    float* Z = cache;                // (T+1, N, OC+1+C)
    float* Cs = Z + (T + 1) * NZ;    // (T+1, N, OC)
    float* G = Cs + (T + 1) * NO;    // (T, N, 4·OC)
    float* A = G + T * N * GO;       // (T, N, OC)
    const Acts f{act, ract, alpha, ralpha};
    float* hm = rec_mask ? thread_scratch(1, (size_t)NO) : nullptr;  // (N, OC) this step's h_prev ⊙ mask
    fill_z(Z, x, h0, N, T, C, OC, go_backwards);
    init_state(Cs, c0, NO);
    input_projection(G, GO, Z, w, b, sm.prefix, T, N, C, OC, GO);
    StepPlan plan(N, T * OC * GO, {{u, GO, false, OC, GO}});
    plan.run(T, false, [&](index_t s, index_t n0, index_t rows_end, float* ap) {
        float* g = G + s * N * GO;
        const index_t n1 = sm.end(s, n0, rows_end);  // the rows this step computes
        // skipped rows: their cached gates and activations are never read; zeros, not whatever
        // the buffer held, so the cache is the same on every call
        zero_rows(g, GO, n1, rows_end);
        zero_rows(A + s * NO, OC, n1, rows_end);
        if (n1 > n0) {
            index_t ldp;
            const float* hp = step_state(hm, Z + s * NZ, ZW, rec_mask, OC, n0, n1, &ldp);
            sgemm_packed_b(g + n0 * GO, GO, hp, ldp, false, plan.b[0], n1 - n0, 1.0f, 1.0f, ap);  // += h_prev·u
            lstm_cell_forward(g, Cs + (s + 1) * NO, A + s * NO, Z + (s + 1) * NZ, ZW, Cs + s * NO, OC, f, n0, n1);
        }
        carry_masked_states(sm, s, n0, rows_end, OC, Z + (s + 1) * NZ, Z + s * NZ, ZW, Cs + (s + 1) * NO,
                            Cs + s * NO);
    });
    copy_rows(h_last, OC, Z + T * NZ, ZW, N, OC);
    std::memcpy(c_last, Cs + T * NO, sizeof(float) * NO);
    if (h_seq) scatter_batch_major(h_seq, Z + NZ, ZW, N, T, OC, false);
}

static void lstm_backward_steps(float* dx, float* dw, float* du, float* db, float* dh0, float* dc0,
                   const float* cache, const float* dh_seq, const float* dh_last,
                   const float* dc_last, const float* w, const float* u, index_t N, index_t T,
                   index_t C, index_t OC, Act act, float alpha, Act ract, float ralpha,
                   bool go_backwards, const float* rec_mask, const StepMask& sm) {
    // dh_seq (N, T, OC), dh_last, dc_last (N, OC) -> dx (N, T, C), dw (C, 4·OC), du (OC, 4·OC), db (4·OC,), dh0, dc0
    DenormalGuard denormals;
    const index_t NO = N * OC, GO = 4 * OC, ZW = OC + 1 + C, NZ = N * ZW, TN = T * N;
    const float* Z = cache;
    const float* Cs = Z + (T + 1) * NZ;
    const float* G = Cs + (T + 1) * NO;
    const float* A = G + T * N * GO;
    const Acts f{act, ract, alpha, ralpha};
    const index_t masked = rec_mask ? 1 : 0;
    const SeqRows sr(sm.prefix, T, N);
    const bool need_dw = dw != nullptr;  // (nullptr: a frozen layer, no weight gradients)
    const bool pack = pack_step_grad(need_dw, dx || rec_mask, ZW, GO, sr.K);
    const bool whole = keep_step_grad(need_dw, dx != nullptr, pack);
    Carver sc = Carver::slot(1, Carver::floats({dx ? TN * C : 0, NO, ZW * GO, masked * NO, masked * T * NO}) +
                                         StepGrad::floats(pack, whole, T, N, GO, sr.K));
    float* dxt = sc.take(dx ? TN * C : 0);
    const StepGrad dG(pack, whole, T, N, GO, sr, sc);  // (T, N, 4·OC) gradients of the gate pre-activations
    float* dh = sc.take(NO);
    float* out = sc.take(ZW * GO);
    float* prod = rec_mask ? sc.take(NO) : nullptr;     // (N, OC) dg·uᵀ before the mask
    float* HM = rec_mask ? sc.take(T * NO) : nullptr;  // (T, N, OC) h_prev ⊙ mask
    last_step_grad(dh, dh_seq, dh_last, N, T, OC);
    init_state(dc0, dc_last, NO);  // dc0 carries dc through the loop
    StepPlan plan(N, T * GO * OC, {{u, GO, true, GO, OC}});  // uᵀ
    plan.run(T, true, [&](index_t s, index_t n0, index_t n1, float* ap) {
        float* dg = dG.step(s);
        const float* next = seq_grad(dh_seq, s, OC);
        float* dst = s > 0 ? dh : dh0;
        split_kept_rows(sm, s, n0, n1, [&](index_t r0, index_t r1) {
            lstm_cell_backward(dg, dc0, dh, G + s * N * GO, A + s * NO, Cs + s * NO, next, T * OC, OC, f, r0, r1);
            if (sm && !next) zero_rows(dst, OC, r0, r1);  // with a mask the product accumulates
        }, [&](index_t n) { pass_masked_row(dg, GO, dst, dh, next, T * OC, OC, n); });  // dc passes unchanged
        dG.done(s, n0, n1);
        const index_t n1k = sm.end(s, n0, n1);  // the rows whose step was computed: the product's
        if (n1k > n0) state_grad(dst, dg, GO, plan.b[0], rec_mask, prod, OC, n0, n1k, next != nullptr || sm, ap);
    });
    if (need_dw) {
        if (HM) masked_states(HM, Z, rec_mask, N, T, ZW, OC);
        weight_grads(du, db, dw, out, Z, HM, dG, C, OC, GO);
    }
    input_grad(dx, dxt, {{dG.rows, GO, 0, GO}}, w, sr, C, GO, go_backwards);
}

// ---------------------------------------------------------------------------------------------
// GRU

static void gru_forward_steps(float* h_seq, float* h_last, float* cache, const float* x, const float* w,
                 const float* u, const float* b, const float* h0, index_t N, index_t T, index_t C,
                 index_t OC, Act act, float alpha, Act ract, float ralpha, bool reset_after,
                 bool go_backwards, const float* rec_mask, const StepMask& sm) {
    // x (N, T, C), w (C, 3·OC), u (OC, 3·OC), b (2, 3·OC) or (3·OC,), h0 (N, OC), rec_mask (3, N, OC)
    // -> h_seq (N, T, OC), h_last (N, OC)
    DenormalGuard denormals;
    const index_t NO = N * OC, GO = 3 * OC, ZW = OC + 1 + C, NZ = N * ZW;
    float* Z = cache;                // (T+1, N, OC+1+C)
    float* G = Z + (T + 1) * NZ;     // (T, N, 3·OC)
    float* E = G + T * N * GO;       // (T, N, OC)
    const Acts f{act, ract, alpha, ralpha};
    // reset_after: Q = [h_prev | 1]·[u; b_rec] (Z's ones column follows h, so the recurrent bias rides
    // in the product); reset before: z, r += h_prev·u_zr, then hh += (r ⊙ h_prev)·u_h. With
    // recurrent dropout each gate's block of the product reads its own h_prev ⊙ m_g, written per
    // step into HM (N, KQ) with the ones column after it.
    const index_t KQ = reset_after && b ? OC + 1 : OC;
    Carver sc = Carver::slot(1, Carver::floats({reset_after ? N * GO : 0, rec_mask ? N * KQ : 0}));
    float* Q = sc.take(reset_after ? N * GO : 0);  // (N, 3·OC) h_prev·u + b_rec
    float* HM = rec_mask ? sc.take(N * KQ) : nullptr;
    if (HM && KQ > OC)
        for (index_t n = 0; n < N; n++) HM[n * KQ + OC] = 1.0f;
    fill_z(Z, x, h0, N, T, C, OC, go_backwards);
    input_projection(G, GO, Z, w, b, sm.prefix, T, N, C, OC, GO);
    float* ub = reset_after && b ? thread_scratch(3, (size_t)((OC + 1) * GO)) : nullptr;  // (OC+1, GO)
    if (ub) {
        std::memcpy(ub, u, sizeof(float) * OC * GO);
        std::memcpy(ub + OC * GO, b + GO, sizeof(float) * GO);
    }
    const float* uq = ub ? ub : u;
    StepPlan plan = reset_after ? (rec_mask ? StepPlan(N, T * OC * GO, {{uq, GO, false, KQ, OC}, {uq + OC, GO, false, KQ, OC},
                                                                        {uq + 2 * OC, GO, false, KQ, OC}})
                                            : StepPlan(N, T * OC * GO, {{uq, GO, false, KQ, GO}}))
                                : (rec_mask ? StepPlan(N, T * OC * GO, {{u, GO, false, OC, OC}, {u + OC, GO, false, OC, OC},
                                                                        {u + 2 * OC, GO, false, OC, OC}})
                                            : StepPlan(N, T * OC * GO, {{u, GO, false, OC, 2 * OC}, {u + 2 * OC, GO, false, OC, OC}}));
    plan.run(T, false, [&](index_t s, index_t n0, index_t rows_end, float* ap) {
        const index_t n1 = sm.end(s, n0, rows_end);  // the rows this step computes
        const index_t rows = n1 - n0;
        const float* hp = Z + s * NZ;
        float* h = Z + (s + 1) * NZ;
        // skipped rows: E stays finite (reset before, du reads E whole; their dHH rows are 0), and
        // their cached gates are zeros, not whatever the buffer held
        zero_rows(E + s * NO, OC, n1, rows_end);
        zero_rows(G + s * N * GO, GO, n1, rows_end);
        if (rows == 0) {
            carry_masked_states(sm, s, n0, rows_end, OC, h, hp, ZW);
            return;
        }
        // rows [n0, n1) of HM = h_prev ⊙ the mask of gate k
        auto mask_gate = [&](const float* hp, index_t k) {
            masked_rows(HM, KQ, hp, ZW, rec_mask + k * NO, OC, n0, n1);
            return HM + n0 * KQ;
        };
        float* g = G + s * N * GO;
        float* e = E + s * NO;
        if (reset_after) {
            if (rec_mask)
                for (index_t k = 0; k < 3; k++)
                    sgemm_packed_b(Q + n0 * GO + k * OC, GO, mask_gate(hp, k), KQ, false, plan.b[k], rows, 1.0f,
                                   0.0f, ap);
            else
                sgemm_packed_b(Q + n0 * GO, GO, hp + n0 * ZW, ZW, false, plan.b[0], rows, 1.0f, 0.0f, ap);
            gru_after_forward(g, e, h, Q, hp, ZW, OC, f, n0, n1);
        } else if (rec_mask) {
            for (index_t k = 0; k < 2; k++)
                sgemm_packed_b(g + n0 * GO + k * OC, GO, mask_gate(hp, k), KQ, false, plan.b[k], rows, 1.0f, 1.0f,
                               ap);
            mask_gate(hp, 2);
            gru_before_gates(g, e, HM, KQ, OC, f, n0, n1);  // e = r ⊙ h_prev ⊙ m_h
            sgemm_packed_b(g + n0 * GO + 2 * OC, GO, e + n0 * OC, OC, false, plan.b[2], rows, 1.0f, 1.0f, ap);
            gru_before_update(g, h, hp, ZW, OC, f, n0, n1);
        } else {
            sgemm_packed_b(g + n0 * GO, GO, hp + n0 * ZW, ZW, false, plan.b[0], rows, 1.0f, 1.0f, ap);
            gru_before_gates(g, e, hp, ZW, OC, f, n0, n1);
            sgemm_packed_b(g + n0 * GO + 2 * OC, GO, e + n0 * OC, OC, false, plan.b[1], rows, 1.0f, 1.0f, ap);
            gru_before_update(g, h, hp, ZW, OC, f, n0, n1);
        }
        carry_masked_states(sm, s, n0, rows_end, OC, h, hp, ZW);
    });
    copy_rows(h_last, OC, Z + T * NZ, ZW, N, OC);
    if (h_seq) scatter_batch_major(h_seq, Z + NZ, ZW, N, T, OC, false);
}

static void gru_backward_steps(float* dx, float* dw, float* du, float* db, float* dh0, const float* cache,
                  const float* dh_seq, const float* dh_last, const float* w, const float* u, index_t N,
                  index_t T, index_t C, index_t OC, Act act, float alpha, Act ract, float ralpha,
                  bool reset_after, bool go_backwards, const float* rec_mask, const StepMask& sm) {
    // dh_seq (N, T, OC), dh_last (N, OC), rec_mask (3, N, OC) -> dx (N, T, C), dw (C, 3·OC),
    // du (OC, 3·OC), db (2, 3·OC) or (3·OC,), dh0
    DenormalGuard denormals;
    const index_t NO = N * OC, GO = 3 * OC, ZR = 2 * OC, ZW = OC + 1 + C, NZ = N * ZW, TN = T * N;
    const float* Z = cache;
    const float* G = Z + (T + 1) * NZ;
    const float* E = G + T * N * GO;
    const Acts f{act, ract, alpha, ralpha};
    const index_t masked = rec_mask ? 1 : 0;
    // The gate gradients, each kept once: dQ = [dz dr dhh·r], the recurrent product's (reset before:
    // [dz dr]; dhh's product with u_h goes through r ⊙ h_prev instead), whose z and r columns serve
    // the input side too; and dHH, the candidate's input side. dx reads both whole, recurrent
    // dropout column blocks of dQ: those keep them whole.
    const index_t QW = reset_after ? GO : ZR;
    const bool need_dw = dw != nullptr;  // (nullptr: a frozen layer, no weight gradients)
    const bool whole_needed = dx || rec_mask;
    const SeqRows sr(sm.prefix, T, N);
    const bool pack_q = pack_step_grad(need_dw, whole_needed, ZW, QW, sr.K);
    const bool pack_hh = pack_step_grad(need_dw, whole_needed, 1 + C, OC, sr.K);
    const bool whole_q = keep_step_grad(need_dw, dx != nullptr, pack_q);
    const bool whole_hh = keep_step_grad(need_dw, dx != nullptr, pack_hh);
    Carver sc = Carver::slot(1, Carver::floats({dx ? TN * C : 0, reset_after ? 0 : NO, NO, ZW * GO, (1 + C) * OC,
                                                     masked * NO, masked * T * NO}) +
                                         StepGrad::floats(pack_q, whole_q, T, N, QW, sr.K) +
                                         StepGrad::floats(pack_hh, whole_hh, T, N, OC, sr.K));
    float* dxt = sc.take(dx ? TN * C : 0);
    const StepGrad dQ(pack_q, whole_q, T, N, QW, sr, sc);    // (T, N, 3·OC) [dz dr dhh·r] (reset before: [dz dr])
    const StepGrad dHH(pack_hh, whole_hh, T, N, OC, sr, sc);  // (T, N, OC) the candidate's input-side gradient
    float* drh = sc.take(reset_after ? 0 : NO);  // (N, OC) d(r ⊙ h_prev) (reset before)
    float* dh = sc.take(NO);
    float* out = sc.take(ZW * GO);          // (ZW, 3·OC) [h | 1 | x]ᵀ·dQ, gate blocks as in dw
    float* out_h = sc.take((1 + C) * OC);  // (1 + C, OC) [1 | x]ᵀ·dHH
    float* prod = rec_mask ? sc.take(NO) : nullptr;     // (N, OC) one gate's dG·u_gᵀ before its mask
    float* HM = rec_mask ? sc.take(T * NO) : nullptr;  // (T, N, OC) h_prev ⊙ one gate's mask (for du)
    last_step_grad(dh, dh_seq, dh_last, N, T, OC);
    // reset_after: dh_prev += dQ·uᵀ; reset before: drh = dhh·u_hᵀ, then dh_prev += [dz dr]·u_zrᵀ.
    // With recurrent dropout every gate's product is its own, masked by the gate's mask.
    // Products: u_hᵀ, u_zᵀ, u_rᵀ with recurrent dropout; otherwise uᵀ (reset_after) or u_hᵀ, u_zrᵀ.
    StepPlan plan = rec_mask ? StepPlan(N, T * GO * OC, {{u + ZR, GO, true, OC, OC}, {u, GO, true, OC, OC},
                                                         {u + OC, GO, true, OC, OC}})
                    : reset_after ? StepPlan(N, T * GO * OC, {{u, GO, true, GO, OC}})
                                  : StepPlan(N, T * GO * OC, {{u + ZR, GO, true, OC, OC}, {u, GO, true, ZR, OC}});
    const float* mask_z = rec_mask;
    const float* mask_r = rec_mask ? rec_mask + NO : nullptr;
    const float* mask_h = rec_mask ? rec_mask + 2 * NO : nullptr;
    plan.run(T, true, [&](index_t s, index_t n0, index_t n1, float* ap) {
        const index_t n1k = sm.end(s, n0, n1);  // the rows whose step was computed: the products'
        const index_t rows = n1k - n0;
        float* dq = dQ.step(s);
        float* dhh = dHH.step(s);
        const float* g = G + s * N * GO;
        const float* hp = Z + s * NZ;
        const float* next = seq_grad(dh_seq, s, OC);
        float* dst = s > 0 ? dh : dh0;
        // a masked row: no gate gradients (dq, dhh), dst = dh (+ next)
        auto pass = [&](index_t n) {
            pass_masked_row(dq, QW, dst, dh, next, T * OC, OC, n);
            zero_rows(dhh, OC, n, n + 1);
        };
        if (reset_after) {
            split_kept_rows(sm, s, n0, n1, [&](index_t r0, index_t r1) {
                gru_after_backward(dq, dhh, dst, dh, g, E + s * NO, hp, ZW, next, T * OC, OC, f, r0, r1);
            }, pass);
            if (rows > 0 && !rec_mask)
                sgemm_packed_b(dst + n0 * OC, OC, dq + n0 * QW, QW, false, plan.b[0], rows, 1.0f, 1.0f, ap);
            else if (rows > 0)
                state_grad(dst, dq + ZR, QW, plan.b[0], mask_h, prod, OC, n0, n1k, true, ap);
        } else {
            // masked rows: dq, dhh zeroed first (so drh is 0 there), dst written after the kept rows
            split_kept_rows(sm, s, n0, n1, [&](index_t r0, index_t r1) {
                gru_before_backward1(dq, dhh, dh, g, hp, ZW, OC, f, r0, r1);
            }, [&](index_t n) {
                zero_rows(dq, QW, n, n + 1);
                zero_rows(dhh, OC, n, n + 1);
            });
            if (rows > 0)
                sgemm_packed_b(drh + n0 * OC, OC, dhh + n0 * OC, OC, false, plan.b[0], rows, 1.0f, 0.0f, ap);
            if (mask_h) {
                // e = r ⊙ h_prev ⊙ m_h: d(r ⊙ h_prev) = drh ⊙ m_h serves both dr and dh_prev
                for (index_t n = n0; n < n1k; n++)
                    for (index_t j = 0; j < OC; j++) drh[n * OC + j] *= mask_h[n * OC + j];
            }
            split_kept_rows(sm, s, n0, n1, [&](index_t r0, index_t r1) {
                gru_before_backward2(dq, dst, dh, drh, g, hp, ZW, next, T * OC, OC, f, r0, r1);
            }, pass);
            if (!rec_mask && rows > 0)
                sgemm_packed_b(dst + n0 * OC, OC, dq + n0 * QW, QW, false, plan.b[1], rows, 1.0f, 1.0f, ap);
        }
        if (rec_mask && rows > 0) {
            state_grad(dst, dq, QW, plan.b[1], mask_z, prod, OC, n0, n1k, true, ap);
            state_grad(dst, dq + OC, QW, plan.b[2], mask_r, prod, OC, n0, n1k, true, ap);
        }
        dQ.done(s, n0, n1);
        dHH.done(s, n0, n1);
    });
    if (need_dw) {  // the weight gradients (a frozen layer has none)
        // The products run over sr's rows (the kept ones when the rows were sorted by a padding mask).
        std::vector<float> zb, qb, hb, eb, gb;
        index_t ldz;
        const float* Zk = sr.rows(zb, Z, ZW, ZW, &ldz);
        // du's block for gate k from (h_prev ⊙ m_k)ᵀ·dG (recurrent dropout; that gate's gradient columns)
        auto masked_du = [&](index_t k, const float* dGk, index_t ldg) {
            masked_states(HM, Z, rec_mask + k * NO, N, T, ZW, OC);
            index_t ldh;
            const float* Hk = sr.rows(hb, HM, OC, OC, &ldh);
            sgemm(du + k * OC, GO, Hk, ldh, true, dGk, ldg, false, OC, OC, sr.K, 1.0f, 1.0f);
        };
        // out = [h_prev | 1 | x]ᵀ·dQ: du's blocks, the ones row (both biases' z and r parts; with
        // reset_after the recurrent bias's h part), dw's z and r blocks. Its x rows of the dhh·r columns
        // are computed and dropped (C × OC of ZW × 3·OC), so that one product serves instead of two.
        // Reset before: du_h += Eᵀ·dHH (E holds r ⊙ h_prev ⊙ m_h). Both: out_h = [1 | x]ᵀ·dHH.
        if (rec_mask) {
            index_t ldq;
            const float* Qk = sr.rows(qb, dQ.rows, QW, QW, &ldq);
            for (index_t k = 0; k < QW / OC; k++) masked_du(k, Qk + k * OC, ldq);
            sgemm(out + OC * GO, GO, Zk + OC, ldz, true, Qk, ldq, false, 1 + C, QW, sr.K, 1.0f, 0.0f);
        } else {
            grad_product(out, GO, Zk, ldz, ZW, dQ, qb);
            add_block(du, GO, out, GO, OC, QW);
        }
        if (!reset_after) {
            index_t lde;
            const float* Ek = sr.rows(eb, E, OC, OC, &lde);
            grad_product(du + ZR, GO, Ek, lde, OC, dHH, gb, 1.0f);
        }
        grad_product(out_h, OC, Zk + OC, ldz, 1 + C, dHH, gb);
        add_block(dw, GO, out + (OC + 1) * GO, GO, C, ZR);
        add_block(dw + ZR, GO, out_h + OC, OC, C, OC);
        if (db) {
            add_block(db, GO, out + OC * GO, GO, 1, ZR);
            add_block(db + ZR, GO, out_h, OC, 1, OC);
            if (reset_after) add_block(db + GO, GO, out + OC * GO, GO, 1, GO);
        }
    }
    input_grad(dx, dxt, {{dQ.rows, QW, 0, ZR}, {dHH.rows, OC, ZR, OC}}, w, sr, C, GO, go_backwards);
}

// ---------------------------------------------------------------------------------------------
// The entry points: with a mask whose kept steps sort the rows into prefixes (SortedRows), the
// inputs are copied in that order, the steps skip their masked rows, and the outputs go back in
// the caller's order; the cache stays in sorted order (backward sorts the same way from the same
// mask). Otherwise the step loops run on the caller's rows as they are.

bool rnn_sorts_rows(const uint8_t* step_mask, index_t N, index_t T, bool go_backwards) {
    SortedRows p;
    return step_mask && p.sort(step_mask, N, T, go_backwards);
}

void simple_rnn_forward(float* h_seq, float* h_last, float* cache, const float* x, const float* w,
                        const float* u, const float* b, const float* h0, index_t N, index_t T,
                        index_t C, index_t OC, Act act, float alpha, bool go_backwards, const float* rec_mask,
                        const uint8_t* step_mask) {
    SortedRows p;
    if (!step_mask || !p.sort(step_mask, N, T, go_backwards)) {
        simple_rnn_forward_steps(h_seq, h_last, cache, x, w, u, b, h0, N, T, C, OC, act, alpha, go_backwards,
                                 rec_mask, {step_mask, T, go_backwards});
        return;
    }
    SortedCopy xs, h0s, masks, seq, last;
    simple_rnn_forward_steps(seq.out(h_seq, N, T * OC), last.out(h_last, N, OC), cache, xs.in(p, x, N, T * C), w,
                             u, b, h0s.in(p, h0, N, OC), N, T, C, OC, act, alpha, go_backwards,
                             masks.in(p, rec_mask, N, OC), {p.mask.data(), T, go_backwards, p.kept.data()});
    seq.back(p, h_seq, T * OC);
    last.back(p, h_last, OC);
}

void simple_rnn_backward(float* dx, float* dw, float* du, float* db, float* dh0, const float* cache,
                         const float* dh_seq, const float* dh_last, const float* w, const float* u,
                         index_t N, index_t T, index_t C, index_t OC, Act act, float alpha,
                         bool go_backwards, const float* rec_mask, const uint8_t* step_mask) {
    SortedRows p;
    if (!step_mask || !p.sort(step_mask, N, T, go_backwards)) {
        simple_rnn_backward_steps(dx, dw, du, db, dh0, cache, dh_seq, dh_last, w, u, N, T, C, OC, act, alpha,
                                  go_backwards, rec_mask, {step_mask, T, go_backwards});
        return;
    }
    SortedCopy dxs, dh0s, seq, last, masks;
    simple_rnn_backward_steps(dxs.out(dx, N, T * C), dw, du, db, dh0s.out(dh0, N, OC), cache,
                              seq.in(p, dh_seq, N, T * OC), last.in(p, dh_last, N, OC), w, u, N, T, C, OC, act,
                              alpha, go_backwards, masks.in(p, rec_mask, N, OC),
                              {p.mask.data(), T, go_backwards, p.kept.data()});
    dxs.back(p, dx, T * C);
    dh0s.back(p, dh0, OC);
}

void lstm_forward(float* h_seq, float* h_last, float* c_last, float* cache, const float* x,
                  const float* w, const float* u, const float* b, const float* h0, const float* c0,
                  index_t N, index_t T, index_t C, index_t OC, Act act, float alpha, Act ract,
                  float ralpha, bool go_backwards, const float* rec_mask, const uint8_t* step_mask) {
    SortedRows p;
    if (!step_mask || !p.sort(step_mask, N, T, go_backwards)) {
        lstm_forward_steps(h_seq, h_last, c_last, cache, x, w, u, b, h0, c0, N, T, C, OC, act, alpha, ract, ralpha,
                           go_backwards, rec_mask, {step_mask, T, go_backwards});
        return;
    }
    SortedCopy xs, h0s, c0s, masks, seq, last, clast;
    lstm_forward_steps(seq.out(h_seq, N, T * OC), last.out(h_last, N, OC), clast.out(c_last, N, OC), cache,
                       xs.in(p, x, N, T * C), w, u, b, h0s.in(p, h0, N, OC), c0s.in(p, c0, N, OC), N, T, C, OC,
                       act, alpha, ract, ralpha, go_backwards, masks.in(p, rec_mask, N, OC),
                       {p.mask.data(), T, go_backwards, p.kept.data()});
    seq.back(p, h_seq, T * OC);
    last.back(p, h_last, OC);
    clast.back(p, c_last, OC);
}

void lstm_backward(float* dx, float* dw, float* du, float* db, float* dh0, float* dc0,
                   const float* cache, const float* dh_seq, const float* dh_last,
                   const float* dc_last, const float* w, const float* u, index_t N, index_t T,
                   index_t C, index_t OC, Act act, float alpha, Act ract, float ralpha,
                   bool go_backwards, const float* rec_mask, const uint8_t* step_mask) {
    SortedRows p;
    if (!step_mask || !p.sort(step_mask, N, T, go_backwards)) {
        lstm_backward_steps(dx, dw, du, db, dh0, dc0, cache, dh_seq, dh_last, dc_last, w, u, N, T, C, OC, act, alpha,
                            ract, ralpha, go_backwards, rec_mask, {step_mask, T, go_backwards});
        return;
    }
    SortedCopy dxs, dh0s, dc0s, seq, last, clast, masks;
    lstm_backward_steps(dxs.out(dx, N, T * C), dw, du, db, dh0s.out(dh0, N, OC), dc0s.out(dc0, N, OC), cache,
                        seq.in(p, dh_seq, N, T * OC), last.in(p, dh_last, N, OC), clast.in(p, dc_last, N, OC), w, u,
                        N, T, C, OC, act, alpha, ract, ralpha, go_backwards, masks.in(p, rec_mask, N, OC),
                        {p.mask.data(), T, go_backwards, p.kept.data()});
    dxs.back(p, dx, T * C);
    dh0s.back(p, dh0, OC);
    dc0s.back(p, dc0, OC);
}

// One cell step over independent rows (a ConvLSTM step has N·H·W of them): the sequence kernels'
// per-row passes, the rows split over the threads by for_rows.
void lstm_cell_rows_forward(float* gates, float* c, float* a, float* h, const float* z, const float* c_prev,
                            index_t rows, index_t OC, Act act, float alpha, Act ract, float ralpha) {
    DenormalGuard denormals;
    const Acts f{act, ract, alpha, ralpha};
    for_rows(rows, rows * 4 * OC, [&](index_t r0, index_t r1) {
        std::memcpy(gates + r0 * 4 * OC, z + r0 * 4 * OC, sizeof(float) * (r1 - r0) * 4 * OC);
        lstm_cell_forward(gates, c, a, h, OC, c_prev, OC, f, r0, r1);
    });
}

void lstm_cell_rows_backward(float* dz, float* dc_prev, const float* dh, const float* dc, const float* gates,
                             const float* a, const float* c_prev, index_t rows, index_t OC, Act act, float alpha,
                             Act ract, float ralpha) {
    DenormalGuard denormals;
    const Acts f{act, ract, alpha, ralpha};
    for_rows(rows, rows * 4 * OC, [&](index_t r0, index_t r1) {
        // dc_prev starts as dc and is updated in place; dh is only read (no dh_next)
        if (dc)
            std::memcpy(dc_prev + r0 * OC, dc + r0 * OC, sizeof(float) * (r1 - r0) * OC);
        else
            std::memset(dc_prev + r0 * OC, 0, sizeof(float) * (r1 - r0) * OC);
        lstm_cell_backward(dz, dc_prev, const_cast<float*>(dh), gates, a, c_prev, nullptr, 0, OC, f, r0, r1);
    });
}

void gru_forward(float* h_seq, float* h_last, float* cache, const float* x, const float* w,
                 const float* u, const float* b, const float* h0, index_t N, index_t T, index_t C,
                 index_t OC, Act act, float alpha, Act ract, float ralpha, bool reset_after,
                 bool go_backwards, const float* rec_mask, const uint8_t* step_mask) {
    SortedRows p;
    if (!step_mask || !p.sort(step_mask, N, T, go_backwards)) {
        gru_forward_steps(h_seq, h_last, cache, x, w, u, b, h0, N, T, C, OC, act, alpha, ract, ralpha, reset_after,
                          go_backwards, rec_mask, {step_mask, T, go_backwards});
        return;
    }
    SortedCopy xs, h0s, masks, seq, last;
    gru_forward_steps(seq.out(h_seq, N, T * OC), last.out(h_last, N, OC), cache, xs.in(p, x, N, T * C), w, u, b,
                      h0s.in(p, h0, N, OC), N, T, C, OC, act, alpha, ract, ralpha, reset_after, go_backwards,
                      masks.in(p, rec_mask, N, OC, 3), {p.mask.data(), T, go_backwards, p.kept.data()});
    seq.back(p, h_seq, T * OC);
    last.back(p, h_last, OC);
}

void gru_backward(float* dx, float* dw, float* du, float* db, float* dh0, const float* cache,
                  const float* dh_seq, const float* dh_last, const float* w, const float* u, index_t N,
                  index_t T, index_t C, index_t OC, Act act, float alpha, Act ract, float ralpha,
                  bool reset_after, bool go_backwards, const float* rec_mask, const uint8_t* step_mask) {
    SortedRows p;
    if (!step_mask || !p.sort(step_mask, N, T, go_backwards)) {
        gru_backward_steps(dx, dw, du, db, dh0, cache, dh_seq, dh_last, w, u, N, T, C, OC, act, alpha, ract, ralpha,
                           reset_after, go_backwards, rec_mask, {step_mask, T, go_backwards});
        return;
    }
    SortedCopy dxs, dh0s, seq, last, masks;
    gru_backward_steps(dxs.out(dx, N, T * C), dw, du, db, dh0s.out(dh0, N, OC), cache, seq.in(p, dh_seq, N, T * OC),
                       last.in(p, dh_last, N, OC), w, u, N, T, C, OC, act, alpha, ract, ralpha, reset_after,
                       go_backwards, masks.in(p, rec_mask, N, OC, 3), {p.mask.data(), T, go_backwards, p.kept.data()});
    dxs.back(p, dx, T * C);
    dh0s.back(p, dh0, OC);
}

}  // namespace fastnn
