// gemm_ukernel_generic.cpp — the portable micro-kernel: the contract in plain C++, used on CPUs
// without AVX2/FMA and on non-x86 builds. The compiler vectorises the j loops at the baseline ISA.

#include <chrono>

#include "gemm_ukernel.h"

namespace fastnn {

namespace {
constexpr int MR = 4, NR = 8;

void ukernel_generic(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc, int64_t m,
                     int64_t n, float alpha, float beta) {
    // acc (MR × NR) lives in registers for the whole k loop
    float acc[MR][NR] = {};
    for (int64_t p = 0; p < k; p++) {
        const float* a = Ap + p * MR;
        const float* b = Bp + p * NR;
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    }
    for (int64_t i = 0; i < m; i++) {
        float* c = C + i * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < n; j++) c[j] = alpha * acc[i][j];
        } else {
            for (int64_t j = 0; j < n; j++) c[j] = alpha * acc[i][j] + beta * c[j];
        }
    }
}
void direct_generic(int64_t k, const float* A, int64_t rs_a, int64_t cs_a, const float* B, int64_t ldb, float* C,
                    int64_t ldc, int64_t m, int64_t n, float alpha, float beta) {
    float acc[MR][NR] = {};
    for (int64_t p = 0; p < k; p++) {
        const float* b = B + p * ldb;
        for (int64_t i = 0; i < m; i++) {
            const float a = A[i * rs_a + p * cs_a];
            for (int64_t j = 0; j < n; j++) acc[i][j] += a * b[j];
        }
    }
    for (int64_t i = 0; i < m; i++) {
        float* c = C + i * ldc;
        for (int64_t j = 0; j < n; j++) c[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c[j];
    }
}
}  // namespace

const GemmKernelInfo gemm_kernel_generic = {"generic", MR, NR, 128, 256, 2048, false, ukernel_generic, nullptr, MR, direct_generic, 0, 0, nullptr};

double fma_probe_generic(double seconds) {
    // 8 independent chains of 8 floats, starting apart so no two chains can be merged.
    float acc[8][8];
    for (int c = 0; c < 8; c++)
        for (int j = 0; j < 8; j++) acc[c][j] = 0.001f * (c * 8 + j + 1);
    const float mul = 0.9999999f, add = 1e-7f;
    int64_t iters = 0;
    auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    do {
        for (int r = 0; r < 1024; r++)
            for (int c = 0; c < 8; c++)
                for (int j = 0; j < 8; j++) acc[c][j] = acc[c][j] * mul + add;
        iters += 1024;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (elapsed < seconds);
    float sink = 0.0f;
    for (int c = 0; c < 8; c++)
        for (int j = 0; j < 8; j++) sink += acc[c][j];
    volatile float keep = sink;
    (void)keep;
    return 2.0 * 64.0 * (double)iters / elapsed * 1e-9;
}

}  // namespace fastnn
