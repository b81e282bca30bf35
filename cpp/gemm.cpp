// gemm.cpp — fastnn's one SGEMM, after BLIS: packed A/B panels, cache blocks MC/KC/NC, the five
// named loops JC → PC → IC → JR → IR, and a register-blocked micro-kernel chosen at run time
// (gemm_ukernel_*.cpp). Transposes live in the packing routines, so micro-kernels never change.
// Where a packed panel would be reused too little to repay its copy, an operand is read in place:
// A for narrow C (AVX2's loop order), B for a thread with few rows of C (AVX-512's).
// The epilogue (bias, elementwise activation) runs on each micro-tile of the LAST k block, while
// the tile is still in L1. What this file does not do: complex or double types, strided columns.
//
// Threads: C is cut into a grid of disjoint sub-matrices, one per thread, each running the
// serial loops with its own packing buffers. The k loop (PC) is never split, so every element
// of C is summed in the same order whatever the thread count: results are bitwise identical
// across thread counts. Small products run on one thread.

#include <algorithm>
#include <cstring>
#include <string>

#include "fastnn.h"
#include "gemm_ukernel.h"

namespace fastnn {

// ---------------------------------------------------------------------------------------------
// Run-time kernel choice

static const GemmKernelInfo* detect_kernel() {
#ifdef FASTNN_X86_KERNELS
    __builtin_cpu_init();
    // libgcc/compiler-rt also check that the OS saves the ymm/zmm state (XCR0).
    if (__builtin_cpu_supports("avx512f")) return &gemm_kernel_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &gemm_kernel_avx2;
#endif
    return &gemm_kernel_generic;
}

// The active kernel: a copy, so benchmarks can retune its blocking (gemm_set_blocking).
static GemmKernelInfo g_active = *detect_kernel();
static const GemmKernelInfo* g_kernel = &g_active;

const char* gemm_kernel_name() { return g_kernel->name; }

void gemm_set_blocking(int MC, int KC, int NC, int b_block_in_l2) {
    if (MC > 0) g_active.MC = (MC + g_active.MR - 1) / g_active.MR * g_active.MR;
    if (KC > 0) g_active.KC = KC;
    if (NC > 0) g_active.NC = (NC + g_active.NR - 1) / g_active.NR * g_active.NR;
    if (b_block_in_l2 >= 0) g_active.b_block_in_l2 = b_block_in_l2 != 0;
}

void gemm_get_blocking(int* MR, int* NR, int* MC, int* KC, int* NC, int* b_block_in_l2) {
    *MR = g_active.MR, *NR = g_active.NR, *MC = g_active.MC, *KC = g_active.KC, *NC = g_active.NC;
    *b_block_in_l2 = g_active.b_block_in_l2;
}

bool gemm_select_kernel(const char* name) {
    std::string want(name);
    if (want == "auto") {
        g_active = *detect_kernel();
        return true;
    }
    if (want == "generic") {
        g_active = gemm_kernel_generic;
        return true;
    }
#ifdef FASTNN_X86_KERNELS
    __builtin_cpu_init();
    if (want == "avx2-fma" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        g_active = gemm_kernel_avx2;
        return true;
    }
    if (want == "avx512" && __builtin_cpu_supports("avx512f")) {
        g_active = gemm_kernel_avx512;
        return true;
    }
#endif
    return false;
}

double fma_peak_probe(double seconds, const char* isa) {
    std::string want(isa);
    if (want == "auto") want = g_kernel->name;
#ifdef FASTNN_X86_KERNELS
    if (want == "avx512" && __builtin_cpu_supports("avx512f")) return fma_probe_avx512(seconds);
    if (want == "avx2-fma" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return fma_probe_avx2(seconds);
#endif
    if (want == "generic") return fma_probe_generic(seconds);
    return -1.0;
}

// ---------------------------------------------------------------------------------------------
// Reference: the triple loop, same contract as sgemm (accumulates in double).

static inline float op_at(const float* X, index_t ld, bool trans, index_t r, index_t c) {
    return trans ? X[c * ld + r] : X[r * ld + c];
}

FASTNN_ELEMENTWISE static void apply_epilogue(float* C, index_t ldc, index_t m, index_t n, const float* bias,
                                              const Epilogue* ep) {
    // C tile (m × n); bias already offset to the tile's first column
    for (index_t i = 0; i < m; i++) {
        float* c = C + i * ldc;
        if (bias)
            for (index_t j = 0; j < n; j++) c[j] += bias[j];
        if (ep->act != Act::Linear) activation_inplace(c, n, ep->act, ep->alpha);
    }
}

void sgemm_naive(float* C, index_t ldc, const float* A, index_t lda, bool trans_a, const float* B,
                 index_t ldb, bool trans_b, index_t M, index_t N, index_t K, float alpha,
                 float beta, const Epilogue* epilogue) {
    for (index_t i = 0; i < M; i++) {
        for (index_t j = 0; j < N; j++) {
            double sum = 0.0;
            for (index_t p = 0; p < K; p++)
                sum += (double)op_at(A, lda, trans_a, i, p) * (double)op_at(B, ldb, trans_b, p, j);
            float* c = C + i * ldc + j;
            *c = beta == 0.0f ? alpha * (float)sum : alpha * (float)sum + beta * *c;
        }
    }
    if (epilogue) apply_epilogue(C, ldc, M, N, epilogue->bias, epilogue);
}

// Packing copies rows of NR (or MR) floats: a libc memmove call per 128-byte row costs more than
// the copy, so GCC must not turn the copy loops back into memcpy calls.
#if defined(__GNUC__) && !defined(__clang__)
#define FASTNN_NO_LIBC_COPIES __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define FASTNN_NO_LIBC_COPIES
#endif
// Helpers of the multi-versioned packing loops must inline into each clone to get its ISA.
#if defined(__GNUC__) || defined(__clang__)
#define FASTNN_ALWAYS_INLINE __attribute__((always_inline))
#else
#define FASTNN_ALWAYS_INLINE
#endif

// ---------------------------------------------------------------------------------------------
// Packing. Ap: mc rows of op(A) × kc, as ceil(mc/MR) slivers of kc × MR (zero-padded rows).
// Bp: kc × nc of op(B), as ceil(nc/NR) slivers of kc × NR (zero-padded columns).

// dst[q·ld_dst + i] = src[i·ld_src + q] for i, q < 8: one 8 × 8 block transposed in registers
// (unpack, then pairs, then halves: 24 shuffles; GCC vector extensions, so every multi-versioned
// caller gets its own ISA's shuffles).
#if defined(__GNUC__) && !defined(__clang__)  // other compilers take the scalar loops
#define FASTNN_HAVE_TRANSPOSE8 1
typedef float v8sf __attribute__((vector_size(32)));
typedef int v8si __attribute__((vector_size(32)));
FASTNN_ALWAYS_INLINE static inline v8sf shuffle8(v8sf a, v8sf b, v8si mask) {
    return __builtin_shuffle(a, b, mask);
}
FASTNN_ALWAYS_INLINE static inline void transpose8x8(float* dst, index_t ld_dst, const float* src, index_t ld_src) {
    v8sf r[8], t[8], u[8];
    for (int i = 0; i < 8; i++) std::memcpy(&r[i], src + i * ld_src, sizeof(v8sf));
    const v8si lo1 = {0, 8, 1, 9, 4, 12, 5, 13}, hi1 = {2, 10, 3, 11, 6, 14, 7, 15};
    const v8si lo2 = {0, 1, 8, 9, 4, 5, 12, 13}, hi2 = {2, 3, 10, 11, 6, 7, 14, 15};
    const v8si lo4 = {0, 1, 2, 3, 8, 9, 10, 11}, hi4 = {4, 5, 6, 7, 12, 13, 14, 15};
    for (int i = 0; i < 8; i += 2) {  // t[i] = columns {0,1,4,5} of rows i, i+1 interleaved; t[i+1] {2,3,6,7}
        t[i] = shuffle8(r[i], r[i + 1], lo1);
        t[i + 1] = shuffle8(r[i], r[i + 1], hi1);
    }
    for (int i = 0; i < 8; i += 4) {  // u[i + c] holds columns c and c+4 of rows i..i+3
        u[i + 0] = shuffle8(t[i], t[i + 2], lo2);
        u[i + 1] = shuffle8(t[i], t[i + 2], hi2);
        u[i + 2] = shuffle8(t[i + 1], t[i + 3], lo2);
        u[i + 3] = shuffle8(t[i + 1], t[i + 3], hi2);
    }
    for (int c = 0; c < 4; c++) {
        const v8sf col = shuffle8(u[c], u[4 + c], lo4), col4 = shuffle8(u[c], u[4 + c], hi4);
        std::memcpy(dst + c * ld_dst, &col, sizeof(v8sf));
        std::memcpy(dst + (c + 4) * ld_dst, &col4, sizeof(v8sf));
    }
}

// dst[q·ld_dst + i] = src[i·ld_src + q] for i < 4, q < 8: the 4-row remainder of a sliver (the
// AVX-512 kernel's 12 rows are 8 + 4, the AVX2 kernel's 6 are 4 + 2), as two 4 × 4 transposes.
typedef float v4sf __attribute__((vector_size(16)));
typedef int v4si __attribute__((vector_size(16)));
FASTNN_ALWAYS_INLINE static inline void transpose4x4(float* dst, index_t ld_dst, v4sf r0, v4sf r1, v4sf r2, v4sf r3) {
    const v4si lo = {0, 4, 1, 5}, hi = {2, 6, 3, 7}, lo2 = {0, 1, 4, 5}, hi2 = {2, 3, 6, 7};
    const v4sf t0 = __builtin_shuffle(r0, r1, lo), t1 = __builtin_shuffle(r0, r1, hi);
    const v4sf t2 = __builtin_shuffle(r2, r3, lo), t3 = __builtin_shuffle(r2, r3, hi);
    const v4sf c0 = __builtin_shuffle(t0, t2, lo2), c1 = __builtin_shuffle(t0, t2, hi2);
    const v4sf c2 = __builtin_shuffle(t1, t3, lo2), c3 = __builtin_shuffle(t1, t3, hi2);
    std::memcpy(dst, &c0, sizeof(v4sf));
    std::memcpy(dst + ld_dst, &c1, sizeof(v4sf));
    std::memcpy(dst + 2 * ld_dst, &c2, sizeof(v4sf));
    std::memcpy(dst + 3 * ld_dst, &c3, sizeof(v4sf));
}
FASTNN_ALWAYS_INLINE static inline void transpose4x8(float* dst, index_t ld_dst, const float* src, index_t ld_src) {
    v4sf r[4][2];
    for (int i = 0; i < 4; i++) std::memcpy(r[i], src + i * ld_src, 2 * sizeof(v4sf));
    transpose4x4(dst, ld_dst, r[0][0], r[1][0], r[2][0], r[3][0]);
    transpose4x4(dst + 4 * ld_dst, ld_dst, r[0][1], r[1][1], r[2][1], r[3][1]);
}
#endif

// Packs a transposed operand: dst row (p + q), entries 0..n-1, = src row j, entry q, for j < n
// (src rows ld_src apart), q < kc; rows of dst are `width` floats, zero-padded past n.
FASTNN_ALWAYS_INLINE static inline void pack_transposed(float* FASTNN_RESTRICT dst, const float* src, index_t ld_src, index_t kc,
                                   index_t n, int width) {
    for (index_t p = 0; p < kc; p += 8) {  // 8 rows of dst at a time: they stay in L1
        const index_t pn = std::min<index_t>(8, kc - p);
        index_t j = 0;
#ifdef FASTNN_HAVE_TRANSPOSE8
        if (pn == 8) {
            for (; j + 8 <= n; j += 8) transpose8x8(dst + p * width + j, width, src + j * ld_src + p, ld_src);
            for (; j + 4 <= n; j += 4) transpose4x8(dst + p * width + j, width, src + j * ld_src + p, ld_src);
        }
#endif
        for (; j < n; j++)
            for (index_t q = 0; q < pn; q++) dst[(p + q) * width + j] = src[j * ld_src + p + q];
        for (index_t q = 0; q < pn; q++)
            for (index_t jj = n; jj < width; jj++) dst[(p + q) * width + jj] = 0.0f;
    }
}

// dst row p (width floats) = src row p's first n floats, then zeros (n <= width); src rows ld_src apart.
FASTNN_ALWAYS_INLINE static inline void pack_rows(float* FASTNN_RESTRICT dst, const float* src, index_t ld_src,
                                                  index_t rows, index_t n, int width) {
    for (index_t p = 0; p < rows; p++) {
        const float* s = src + p * ld_src;
        float* d = dst + p * width;
        for (index_t i = 0; i < n; i++) d[i] = s[i];
        for (index_t i = n; i < width; i++) d[i] = 0.0f;
    }
}

// Packs a k-major operand (A stored K × M, B stored K × N): kc rows of n floats, ld_src apart, into
// ceil(n / W) slivers of kc × W (the last zero-padded), sliver s at dst + s·kc·W. Row by row, so
// each source row is read once front to back; sliver by sliver, every 48- or 128-byte piece
// started a new row, often a new 4 KB page. W is a compile-time constant (the kernels' MR and
// NR): for a 48- or 128-byte piece the overhead of a run-time count cost more than the copy.
// `rows` rows are packed; the slivers of dst are sliver_kc >= rows long (a block's first rows, or
// any run of them: dst then points at the run's first row).
template <int W>
FASTNN_ALWAYS_INLINE static inline void pack_k_major_w(float* FASTNN_RESTRICT dst, const float* src, index_t ld_src,
                                                       index_t rows, index_t n, index_t sliver_kc) {
    const index_t full = n / W * W;
    for (index_t p = 0; p < rows; p++) {
        const float* s = src + p * ld_src;
        float* d = dst + p * W;
        for (index_t j = 0; j < full; j += W)
            for (int i = 0; i < W; i++) d[j * sliver_kc + i] = s[j + i];
        if (full < n) pack_rows(d + full * sliver_kc, s + full, 0, 1, n - full, W);
    }
}

FASTNN_ALWAYS_INLINE static inline void pack_k_major(float* FASTNN_RESTRICT dst, const float* src, index_t ld_src,
                                                     index_t rows, index_t n, int width, index_t sliver_kc) {
    switch (width) {  // the micro-kernels' MR and NR
        case 4: return pack_k_major_w<4>(dst, src, ld_src, rows, n, sliver_kc);
        case 6: return pack_k_major_w<6>(dst, src, ld_src, rows, n, sliver_kc);
        case 8: return pack_k_major_w<8>(dst, src, ld_src, rows, n, sliver_kc);
        case 12: return pack_k_major_w<12>(dst, src, ld_src, rows, n, sliver_kc);
        case 16: return pack_k_major_w<16>(dst, src, ld_src, rows, n, sliver_kc);
        case 32: return pack_k_major_w<32>(dst, src, ld_src, rows, n, sliver_kc);
        default: break;
    }
    for (index_t j = 0; j < n; j += width)
        pack_rows(dst + j * sliver_kc, src + j, ld_src, rows, std::min<index_t>(width, n - j), width);
}

FASTNN_ELEMENTWISE FASTNN_NO_LIBC_COPIES static void pack_a(float* FASTNN_RESTRICT Ap, const float* A, index_t lda,
                                                           bool trans_a, index_t i0, index_t p0, index_t mc, index_t kc,
                                                           int MR) {
    if (trans_a) {  // A stored K × M
        pack_k_major(Ap, A + p0 * lda + i0, lda, kc, mc, MR, kc);
        return;
    }
    for (index_t is = 0; is < mc; is += MR) {  // A stored M × K
        const index_t mr = std::min<index_t>(MR, mc - is);
        pack_transposed(Ap + is * kc, A + (i0 + is) * lda + p0, lda, kc, mr, MR);  // sliver: kc × MR
    }
}

FASTNN_ELEMENTWISE FASTNN_NO_LIBC_COPIES static void pack_b(float* FASTNN_RESTRICT Bp, const float* B, index_t ldb, bool trans_b,
                   index_t p0, index_t j0, index_t kc, index_t nc, int NR) {
    if (!trans_b) {  // B stored K × N
        pack_k_major(Bp, B + p0 * ldb + j0, ldb, kc, nc, NR, kc);
        return;
    }
    for (index_t js = 0; js < nc; js += NR) {  // B stored N × K
        const index_t nr = std::min<index_t>(NR, nc - js);
        pack_transposed(Bp + js * kc, B + (j0 + js) * ldb + p0, ldb, kc, nr, NR);  // sliver: kc × NR
    }
}

// Bt (N × K, rows ldbt apart) = B (K × N, rows ldb apart) transposed, for the dot kernel.
FASTNN_ELEMENTWISE static void transpose_b(float* FASTNN_RESTRICT Bt, index_t ldbt, const float* B, index_t ldb,
                                           index_t K, index_t N) {
    pack_transposed(Bt, B, ldb, N, K, (int)ldbt);
}

// ---------------------------------------------------------------------------------------------
// The five loops on one thread's sub-matrix C[M×N] (pointers already offset).

static inline index_t round_up(index_t x, index_t m) { return (x + m - 1) / m * m; }

struct GemmProblem {
    const float* A;
    index_t lda;
    bool trans_a;
    const float* B;
    index_t ldb;
    bool trans_b;
    float* C;
    index_t ldc;
    index_t K;
    float alpha, beta;
    const Epilogue* ep;
};

// One micro-tile: C[i0 : i0+mr, j0 : j0+nr] (+)= Ap·Bp over kc, then the epilogue on the last k block.
// The epilogue of the micro-tile at c = C[i0, j0] (mr × nr), run once its last k block is summed.
static inline void tile_epilogue(const GemmProblem& g, float* c, index_t j0, index_t mr, index_t nr) {
    if (g.ep) apply_epilogue(c, g.ldc, mr, nr, g.ep->bias ? g.ep->bias + j0 : nullptr, g.ep);
}

static inline void micro_tile(const GemmKernelInfo& kern, const GemmProblem& g, index_t kc, const float* Ap,
                              const float* Bp, index_t i0, index_t j0, index_t mr, index_t nr, float beta,
                              bool last) {
    float* c = g.C + i0 * g.ldc + j0;
    kern.ukernel(kc, Ap, Bp, c, g.ldc, mr, nr, g.alpha, beta);
    if (last) tile_epilogue(g, c, j0, mr, nr);
}

// The same micro-tile with A (stored M × K, not transposed) read in place: rows i0.., k block from pc.
static inline void micro_tile_rows_a(const GemmKernelInfo& kern, const GemmProblem& g, index_t kc, index_t pc,
                                     const float* Bp, index_t i0, index_t j0, index_t mr, index_t nr, float beta,
                                     bool last) {
    float* c = g.C + i0 * g.ldc + j0;
    kern.ukernel_rows_a(kc, g.A + i0 * g.lda + pc, g.lda, Bp, c, g.ldc, mr, nr, g.alpha, beta);
    if (last) tile_epilogue(g, c, j0, mr, nr);
}

// The same micro-tile with B (stored K × N, not transposed) read in place: a full NR-column sliver
// from column j0, k block from pc.
static inline void micro_tile_b_in_place(const GemmKernelInfo& kern, const GemmProblem& g, index_t kc, index_t pc,
                                         const float* Ap, index_t i0, index_t j0, index_t mr, float beta, bool last) {
    float* c = g.C + i0 * g.ldc + j0;
    kern.ukernel_b_in_place(kc, Ap, g.B + pc * g.ldb + j0, g.ldb, c, g.ldc, mr, kern.NR, g.alpha, beta);
    if (last) tile_epilogue(g, c, j0, mr, kern.NR);
}

// The five loops on rows [i_begin, i_end) × columns [j_begin, j_end) of C, in one of two orders
// (GemmKernelInfo::b_block_in_l2):
//   JC → PC → IC → JR → IR (BLIS's Haswell order): the packed A block (MC×KC) in L2, one B
//     micro-panel (KC×NR) in L1;
//   IC → PC → JC → IR → JR (BLIS's SKX order, transposed to row-major): the packed A block
//     (large MC) waits in L3, each packed B block (KC×NC) is reused from L2 by every A micro-panel,
//     and the A micro-panel (MR×KC) stays in L1 while the JR loop streams B past it.
// Ap and Bp are this thread's packing buffers.
static constexpr index_t kInPlaceAMaxSlivers = 16;
static index_t g_in_place_b_max_rows = 128;
void gemm_set_in_place_b_max_rows(index_t rows) { g_in_place_b_max_rows = rows; }
static void gemm_loops(const GemmKernelInfo& kern, const GemmProblem& g, index_t i_begin, index_t i_end,
                       index_t j_begin, index_t j_end, float* Ap, float* Bp) {
    const index_t MR = kern.MR, NR = kern.NR, MC = kern.MC, KC = kern.KC, NC = kern.NC;
    if (!kern.b_block_in_l2) {
        // A stored M × K is read in place, not packed, when this thread's C is at most
        // kInPlaceAMaxSlivers micro-panels wide: an MC block of its rows is reused from L2 across
        // those panels just as the packed block would be, and the copy was 4-11% of the product
        // (paired on Zen 3: batches of 32-256 against 784×256 and 256×256, a dense layer's forward
        // and dx). With 64-128 panels (n = 1024, 2048) each packed block feeds enough panels to
        // repay its copy, and the one contiguous sliver streams better: in place was 4-6% slower.
        // sgemm_packed_b reads A in place for the recurrent steps. Same FMA chain either way.
        const bool in_place_a = kern.ukernel_rows_a && !g.trans_a && j_end - j_begin <= kInPlaceAMaxSlivers * NR;
        for (index_t jc = j_begin; jc < j_end; jc += NC) {  // JC loop
            const index_t nc = std::min(NC, j_end - jc);
            for (index_t pc = 0; pc < g.K; pc += KC) {  // PC loop: never split across threads
                const index_t kc = std::min(KC, g.K - pc);
                const bool last = pc + kc == g.K;
                const float beta = pc == 0 ? g.beta : 1.0f;
                pack_b(Bp, g.B, g.ldb, g.trans_b, pc, jc, kc, nc, (int)NR);
                for (index_t ic = i_begin; ic < i_end; ic += MC) {  // IC loop
                    const index_t mc = std::min(MC, i_end - ic);
                    if (in_place_a) {
                        for (index_t jr = 0; jr < nc; jr += NR)    // JR loop
                            for (index_t ir = 0; ir < mc; ir += MR)  // IR loop
                                micro_tile_rows_a(kern, g, kc, pc, Bp + jr * kc, ic + ir, jc + jr,
                                                  std::min(MR, mc - ir), std::min(NR, nc - jr), beta, last);
                        continue;
                    }
                    pack_a(Ap, g.A, g.lda, g.trans_a, ic, pc, mc, kc, (int)MR);
                    for (index_t jr = 0; jr < nc; jr += NR)    // JR loop
                        for (index_t ir = 0; ir < mc; ir += MR)  // IR loop
                            micro_tile(kern, g, kc, Ap + ir * kc, Bp + jr * kc, ic + ir, jc + jr,
                                       std::min(MR, mc - ir), std::min(NR, nc - jr), beta, last);
                }
            }
        }
        return;
    }
    // B read in place (row-major, not transposed) when this thread has at most g_in_place_b_max_rows
    // rows: each B sliver would serve so few A slivers that packing it costs more than it saves.
    // The B sliver (kc × NR) stays in L1 across the row slivers (JR outside IR); an N tail
    // narrower than NR is packed (the kernel reads NR columns).
    const bool in_place_b = kern.ukernel_b_in_place && !g.trans_b && i_end - i_begin <= g_in_place_b_max_rows;
    for (index_t ic = i_begin; ic < i_end; ic += MC) {  // IC loop
        const index_t mc = std::min(MC, i_end - ic);
        for (index_t pc = 0; pc < g.K; pc += KC) {  // PC loop: never split across threads
            const index_t kc = std::min(KC, g.K - pc);
            const bool last = pc + kc == g.K;
            const float beta = pc == 0 ? g.beta : 1.0f;
            pack_a(Ap, g.A, g.lda, g.trans_a, ic, pc, mc, kc, (int)MR);
            if (in_place_b) {
                for (index_t jr = j_begin; jr < j_end; jr += NR) {  // JR loop
                    const index_t nr = std::min(NR, j_end - jr);
                    if (nr < NR) pack_b(Bp, g.B, g.ldb, false, pc, jr, kc, nr, (int)NR);  // the tail
                    for (index_t ir = 0; ir < mc; ir += MR) {  // IR loop
                        const index_t mr = std::min(MR, mc - ir);
                        if (nr < NR)
                            micro_tile(kern, g, kc, Ap + ir * kc, Bp, ic + ir, jr, mr, nr, beta, last);
                        else
                            micro_tile_b_in_place(kern, g, kc, pc, Ap + ir * kc, ic + ir, jr, mr, beta, last);
                    }
                }
                continue;
            }
            for (index_t jc = j_begin; jc < j_end; jc += NC) {  // JC loop
                const index_t nc = std::min(NC, j_end - jc);
                pack_b(Bp, g.B, g.ldb, g.trans_b, pc, jc, kc, nc, (int)NR);
                for (index_t ir = 0; ir < mc; ir += MR)    // IR loop
                    for (index_t jr = 0; jr < nc; jr += NR)  // JR loop
                        micro_tile(kern, g, kc, Ap + ir * kc, Bp + jr * kc, ic + ir, jc + jr,
                                   std::min(MR, mc - ir), std::min(NR, nc - jr), beta, last);
            }
        }
    }
}

// Balanced k blocks, up to a third longer than KC: K = 512 (an LSTM's 4·128 gates) runs as one
// pass over C instead of 384 + 128, and K = 784 as 392 + 392 instead of 384 + 384 + 16.
static index_t balanced_kc(const GemmKernelInfo& kern, index_t K) {
    const index_t kc_limit = kern.KC + kern.KC / 3;
    const index_t blocks = (K + kc_limit - 1) / kc_limit;
    return round_up((K + blocks - 1) / blocks, 8);
}

// Work below this many multiply-adds runs on one thread: a parallel region costs more than it saves.
static constexpr double kParallelMinWork = 1 << 19;
// Products up to this many multiply-adds (with B not transposed) skip packing: the direct kernel.
static double g_direct_max_work = 1 << 17;
void gemm_set_direct_max_work(double work) { g_direct_max_work = work; }

// Skinny products for the dot kernel: K from this on (N up to the kernel's DOT_MAX_N).
static constexpr index_t kDotMinK = 64;

// The two unpacked paths of sgemm. Skinny C (N up to the kernel's DOT_MAX_N, e.g. a 10-unit
// output layer) with A's rows contiguous along k: the dot kernel. Small products, where packing
// would dominate, and C no wider than one micro-tile (every element of A used once anyway, B
// stays in L1): the direct kernel.
static bool uses_dot_kernel(const GemmKernelInfo& kern, bool trans_a, index_t N, index_t K) {
    return kern.dot && !trans_a && N <= kern.DOT_MAX_N && K >= kDotMinK;
}
static bool uses_direct_kernel(const GemmKernelInfo& kern, bool trans_b, index_t N, double work) {
    return !trans_b && (work <= g_direct_max_work || N <= kern.NR);
}

bool sgemm_packs_b(index_t M, index_t N, index_t K, bool trans_a, bool trans_b) {
    const GemmKernelInfo& kern = *g_kernel;
    return !uses_dot_kernel(kern, trans_a, N, K) && !uses_direct_kernel(kern, trans_b, N, (double)M * N * K);
}

// Calls tile(i0, rows) for the row tiles of height `rows_per_tile` covering M rows, on as many
// threads as pays for `work` multiply-adds; each thread takes a contiguous range of tiles.
template <class Tile>
static void for_row_tiles(index_t M, int rows_per_tile, double work, const Tile& tile) {
    const index_t tiles = (M + rows_per_tile - 1) / rows_per_tile;
    auto run_rows = [&](index_t t0, index_t t1) {
        DenormalGuard denormals;
        for (index_t t = t0; t < t1; t++) {
            const index_t i0 = t * rows_per_tile;
            tile(i0, std::min<index_t>(rows_per_tile, M - i0));
        }
    };
    const int threads = work < kParallelMinWork ? 1 : (int)std::min<index_t>(num_threads(), tiles);
    run_threads(threads, [&](int t) {
        index_t t0, t1;
        split_range(tiles, threads, t, &t0, &t1);
        run_rows(t0, t1);
    });
}

// Choose a tm × tn grid of thread tiles (tm·tn = threads), cut on micro-tile boundaries, that
// minimises the slowest thread's time per k step: its micro-tiles' multiply-adds plus its packing,
// since every thread packs the whole A rows and B columns of its own tile. A packed float costs
// about NR/2 multiply-adds (a load and a store against NR-wide FMAs). E.g. a weight gradient
// Zᵀ·dG (157 × 512, K = 3584) splits N: each thread packs half of the big dG instead of all of it.
static void choose_grid(index_t M, index_t N, int MR, int NR, int threads, int* tm, int* tn) {
    const index_t ms = (M + MR - 1) / MR, ns = (N + NR - 1) / NR;
    double best = -1.0;
    *tm = 1;
    *tn = 1;
    for (int a = 1; a <= threads; a++) {
        if (threads % a) continue;
        const int b = threads / a;
        if (a > ms || b > ns) continue;
        const double m_slivers = (double)((ms + a - 1) / a), n_slivers = (double)((ns + b - 1) / b);
        const double score = m_slivers * n_slivers * MR * NR + (m_slivers * MR + n_slivers * NR) * (NR / 2.0);
        if (best < 0 || score < best) {
            best = score;
            *tm = a;
            *tn = b;
        }
    }
}

void sgemm(float* C, index_t ldc, const float* A, index_t lda, bool trans_a, const float* B,
           index_t ldb, bool trans_b, index_t M, index_t N, index_t K, float alpha, float beta,
           const Epilogue* epilogue) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        // No product: C = beta·C (beta == 0 writes zeros without reading C), then the epilogue.
        for (index_t i = 0; i < M; i++) {
            float* c = C + i * ldc;
            if (beta == 0.0f)
                std::fill(c, c + N, 0.0f);
            else if (beta != 1.0f)
                for (index_t j = 0; j < N; j++) c[j] *= beta;
        }
        if (epilogue) apply_epilogue(C, ldc, M, N, epilogue->bias, epilogue);
        return;
    }
    GemmKernelInfo kern = *g_kernel;  // a copy: a concurrent retune cannot tear it
    const double work = (double)M * (double)N * (double)K;
    // Skinny C (N up to the kernel's DOT_MAX_N, e.g. a 10-unit output layer) with A's rows
    // contiguous along k: the dot kernel, on B transposed once into scratch (or B as given when
    // trans_b). From K = 64 on it beats the broadcast kernels, whose single column vector needs a
    // load per FMA.
    if (uses_dot_kernel(kern, trans_a, N, K)) {
        const float* Bt = B;
        index_t ldbt = ldb;
        if (!trans_b) {
            ldbt = round_up(K, 16) + 16;  // rows 64-byte aligned, never a power-of-two stride apart
            float* buf = thread_scratch(0, (size_t)(N * ldbt));
            transpose_b(buf, ldbt, B, ldb, K, N);
            Bt = buf;
        }
        for_row_tiles(M, kern.DOT_MR, work, [&](index_t i0, index_t mr) {
            float* c = C + i0 * ldc;
            kern.dot(K, A + i0 * lda, lda, Bt, ldbt, c, ldc, mr, N, alpha, beta);
            if (epilogue) apply_epilogue(c, ldc, mr, N, epilogue->bias, epilogue);
        });
        return;
    }
    // Direct path (no packing): for small products, where packing would dominate, and for skinny
    // C (N <= NR), where every element of A is used exactly once anyway and B stays in L1.
    if (uses_direct_kernel(kern, trans_b, N, work)) {
        for_row_tiles(M, kern.DMR, work, [&](index_t i0, index_t mr) {
            const float* a = trans_a ? A + i0 : A + i0 * lda;
            for (index_t j0 = 0; j0 < N; j0 += kern.NR) {
                const index_t nr = std::min<index_t>(kern.NR, N - j0);
                float* c = C + i0 * ldc + j0;
                kern.direct(K, a, trans_a ? 1 : lda, trans_a ? lda : 1, B + j0, ldb, c, ldc, mr, nr, alpha, beta);
                if (epilogue) apply_epilogue(c, ldc, mr, nr, epilogue->bias ? epilogue->bias + j0 : nullptr, epilogue);
            }
        });
        return;
    }
    kern.KC = (int)balanced_kc(kern, K);
    const GemmProblem g = {A, lda, trans_a, B, ldb, trans_b, C, ldc, K, alpha, beta, epilogue};
    int threads = num_threads();
    if ((double)M * (double)N * (double)K < kParallelMinWork) threads = 1;
    int tm = 1, tn = 1;
    if (threads > 1) choose_grid(M, N, kern.MR, kern.NR, threads, &tm, &tn);
    threads = tm * tn;
    // Packing buffers, one A block and one B block per thread, taken before any parallel region (an
    // allocation failure surfaces here as std::bad_alloc, never inside OpenMP). Sizes rounded to 16
    // floats so every buffer stays 64-byte aligned. (Sharing one packed B block between threads
    // that split M saves its packing but costs barriers: measured no faster on a quiet machine and
    // up to 2x slower when another process holds a core, so each thread packs its own.)
    const index_t ms = (M + kern.MR - 1) / kern.MR, ns = (N + kern.NR - 1) / kern.NR;
    const index_t kc_max = std::min<index_t>(kern.KC, K);
    const index_t m_tile = ((ms + tm - 1) / tm) * kern.MR;
    const index_t n_tile = ((ns + tn - 1) / tn) * kern.NR;
    const index_t a_floats = round_up(std::min<index_t>(kern.MC, m_tile) * kc_max, 16);
    const index_t b_floats = round_up(round_up(std::min<index_t>(kern.NC, n_tile), kern.NR) * kc_max, 16);
    float* scratch = thread_scratch(0, (size_t)((a_floats + b_floats) * threads));

    // Thread t owns rows [m0, m1) × cols [n0, n1) of C; cuts fall on MR/NR boundaries.
    auto run_tile = [&](int t) {
        DenormalGuard denormals;
        const int ti = t / tn, tj = t % tn;
        index_t s0, s1, r0, r1;
        split_range(ms, tm, ti, &s0, &s1);
        split_range(ns, tn, tj, &r0, &r1);
        const index_t m0 = s0 * kern.MR, m1 = std::min(M, s1 * kern.MR);
        const index_t n0 = r0 * kern.NR, n1 = std::min(N, r1 * kern.NR);
        if (m0 >= m1 || n0 >= n1) return;
        float* Ap = scratch + t * (a_floats + b_floats);
        gemm_loops(kern, g, m0, m1, n0, n1, Ap, Ap + a_floats);
    };
    run_threads(threads, run_tile);
}

// ---------------------------------------------------------------------------------------------
// B packed once, many products. Panels: for each k block of kc = balanced_kc(K) rows (the last
// may be shorter), ceil(N/NR) slivers of kc × NR, exactly what gemm_loops packs per block; block
// pc starts at pc · round_up(N, NR).

index_t sgemm_packed_b_floats(index_t K, index_t N) { return round_up(K * round_up(N, g_kernel->NR), 16); }

index_t sgemm_packed_a_floats(index_t M, index_t K) {
    const GemmKernelInfo& kern = *g_kernel;
    return round_up(std::min<index_t>(kern.MC, round_up(M, kern.MR)) * std::min(balanced_kc(kern, K), K), 16);
}

PackedB sgemm_packed_b_layout(float* panels, index_t K, index_t N) {
    PackedB packed;
    packed.panels = panels;
    packed.K = K;
    packed.N = N;
    packed.kernel = g_kernel;
    return packed;
}

PackedB sgemm_pack_b(float* panels, const float* B, index_t ldb, bool trans_b, index_t K, index_t N) {
    const PackedB packed = sgemm_packed_b_layout(panels, K, N);
    const GemmKernelInfo& kern = *static_cast<const GemmKernelInfo*>(packed.kernel);
    const index_t kc_max = balanced_kc(kern, K), n_pad = round_up(N, kern.NR);
    for (index_t pc = 0; pc < K; pc += kc_max)
        pack_b(panels + pc * n_pad, B, ldb, trans_b, pc, 0, std::min(kc_max, K - pc), N, kern.NR);
    return packed;
}

FASTNN_ELEMENTWISE FASTNN_NO_LIBC_COPIES void sgemm_pack_b_rows(float* panels, const PackedB& B, index_t k0, index_t rows,
                                                               const float* src, index_t ld_src) {
    const GemmKernelInfo& kern = *static_cast<const GemmKernelInfo*>(B.kernel);
    const index_t kc_max = balanced_kc(kern, B.K), n_pad = round_up(B.N, kern.NR);
    for (index_t k = k0; k < k0 + rows;) {  // one run per k block the rows fall in
        const index_t pc = k / kc_max * kc_max, kc = std::min(kc_max, B.K - pc);
        const index_t run = std::min(k0 + rows, pc + kc) - k;
        pack_k_major(panels + pc * n_pad + (k - pc) * kern.NR, src, ld_src, run, B.N, kern.NR, kc);
        src += run * ld_src;
        k += run;
    }
}

void sgemm_packed_b(float* C, index_t ldc, const float* A, index_t lda, bool trans_a, const PackedB& B, index_t M,
                    float alpha, float beta, float* a_panels, const Epilogue* epilogue) {
    const GemmKernelInfo& kern = *static_cast<const GemmKernelInfo*>(B.kernel);
    const index_t K = B.K, N = B.N;
    if (M <= 0 || N <= 0 || K <= 0 || alpha == 0.0f) {
        sgemm(C, ldc, A, lda, trans_a, nullptr, 0, false, M, N, 0, alpha, beta, epilogue);  // C = beta·C
        return;
    }
    DenormalGuard denormals;
    const GemmProblem g = {A, lda, trans_a, nullptr, 0, false, C, ldc, K, alpha, beta, epilogue};
    const index_t MR = kern.MR, NR = kern.NR, MC = kern.MC, kc_max = balanced_kc(kern, K), n_pad = round_up(N, NR);
    // A stored M × K is read in place where the kernel can: a recurrent step's rows (a chunk of the
    // batch) stay in L1/L2 across all of C's micro-panels, so packing them buys no reuse, and the
    // transposing copy cost a fifth of a backward step's product (N = units) and 4-5% of a GRU or
    // SimpleRNN(256) forward (N = 3 and 1 × 256; paired on Zen 3: the in-place kernel was no slower).
    const bool in_place_a = kern.ukernel_rows_a && !trans_a;
    for (index_t pc = 0; pc < K; pc += kc_max) {  // k blocks in order: each C element sums the same way
        const index_t kc = std::min(kc_max, K - pc);
        const bool last = pc + kc == K;
        const float beta_k = pc == 0 ? beta : 1.0f;
        const float* Bp = B.panels + pc * n_pad;
        if (in_place_a) {
            // JR outer: one B micro-panel (kc × NR) stays in L1 while A's rows stream past it
            for (index_t jr = 0; jr < N; jr += NR)
                for (index_t ir = 0; ir < M; ir += MR)
                    micro_tile_rows_a(kern, g, kc, pc, Bp + jr * kc, ir, jr, std::min(MR, M - ir),
                                      std::min(NR, N - jr), beta_k, last);
            continue;
        }
        for (index_t ic = 0; ic < M; ic += MC) {
            const index_t mc = std::min(MC, M - ic);
            pack_a(a_panels, A, lda, trans_a, ic, pc, mc, kc, (int)MR);
            // JR outer: one B micro-panel (kc × NR) stays in L1 while the A slivers stream past it
            for (index_t jr = 0; jr < N; jr += NR)
                for (index_t ir = 0; ir < mc; ir += MR)
                    micro_tile(kern, g, kc, a_panels + ir * kc, Bp + jr * kc, ic + ir, jr, std::min(MR, mc - ir),
                               std::min(NR, N - jr), beta_k, last);
        }
    }
}

void sgemm_batched(float* C, const float* A, const float* B, index_t batch, index_t M, index_t N, index_t K,
                   bool trans_a, bool trans_b, float alpha, index_t stride_b) {
    if (batch <= 0 || M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {  // C = 0
        std::memset(C, 0, sizeof(float) * (size_t)(batch * M * N));
        return;
    }
    // One product per item, each on one thread (the same kernel and order whatever the thread
    // count); items split over the threads. Packing buffers taken before the parallel region.
    const double work = (double)batch * (double)M * (double)N * (double)K;
    const int threads = work < kParallelMinWork ? 1 : (int)std::min<index_t>(num_threads(), batch);
    const index_t b_floats = sgemm_packed_b_floats(K, N), a_floats = sgemm_packed_a_floats(M, K);
    float* scratch = thread_scratch(0, (size_t)(threads * (a_floats + b_floats)));
    auto items = [&](int t) {
        index_t i0, i1;
        split_range(batch, threads, t, &i0, &i1);
        float* b_panels = scratch + t * (a_floats + b_floats);
        float* a_panels = b_panels + b_floats;
        PackedB packed;
        for (index_t i = i0; i < i1; i++) {
            if (i == i0 || stride_b != 0)  // a B shared by every item is packed once per thread
                packed = sgemm_pack_b(b_panels, B + i * stride_b, trans_b ? K : N, trans_b, K, N);
            sgemm_packed_b(C + i * M * N, N, A + i * M * K, trans_a ? M : K, trans_a, packed, M, alpha, 0.0f,
                           a_panels);
        }
    };
    run_threads(threads, items);
}

void sgemm_packed_b_threads(float* C, index_t ldc, const float* A, index_t lda, bool trans_a, const PackedB& B, index_t M,
                            float alpha, float beta) {
    const GemmKernelInfo& kern = *static_cast<const GemmKernelInfo*>(B.kernel);
    const index_t slivers = (M + kern.MR - 1) / kern.MR;
    const double work = (double)M * (double)B.N * (double)B.K;
    const int threads = work < kParallelMinWork ? 1 : (int)std::min<index_t>(num_threads(), slivers);
    const index_t a_floats = sgemm_packed_a_floats((slivers + threads - 1) / threads * kern.MR, B.K);
    float* a_panels = thread_scratch(0, (size_t)(threads * a_floats));  // before any parallel region
    auto rows = [&](int t) {
        index_t s0, s1;
        split_range(slivers, threads, t, &s0, &s1);
        const index_t m0 = s0 * kern.MR, m1 = std::min(M, s1 * kern.MR);
        if (m0 >= m1) return;
        const float* a = trans_a ? A + m0 : A + m0 * lda;
        sgemm_packed_b(C + m0 * ldc, ldc, a, lda, trans_a, B, m1 - m0, alpha, beta, a_panels + t * a_floats);
    };
    run_threads(threads, rows);
}

}  // namespace fastnn
