// conv_ukernel_generic.cpp — the portable gather-GEMM micro-kernel (conv_ukernel.h): the contract in
// plain C++, 4 rows × 16 columns, used on CPUs without AVX2/FMA and on non-x86 builds. The
// compiler vectorises the j loops at the baseline ISA.

#include "conv_ukernel.h"

namespace fastnn {

namespace {

constexpr int MR = 4, NR = 16;

void kernel_generic(int64_t k, const float* const* rows, const int64_t* cols, const float* B, int64_t ldb, float* C,
                    int64_t ldc, int64_t m, int64_t n, bool accumulate, const float* bias, bool relu) {
    // acc (MR × NR) lives in registers for the whole k loop
    float acc[MR][NR] = {};
    for (int64_t p = 0; p < k; p++) {
        const int64_t o = cols[p];
        const float* b = B + p * ldb;
        float bv[NR];
        for (int j = 0; j < NR; j++) bv[j] = j < n ? b[j] : 0.0f;
        for (int i = 0; i < MR; i++) {
            const float a = rows[i][o];
            for (int j = 0; j < NR; j++) acc[i][j] += a * bv[j];
        }
    }
    for (int64_t i = 0; i < m; i++) {
        float* c = C + i * ldc;
        for (int64_t j = 0; j < n; j++) {
            float t = acc[i][j];
            if (accumulate) t += c[j];
            if (bias) t += bias[j];
            if (relu) t = t < 0.0f ? 0.0f : t;  // NaN stays NaN
            c[j] = t;
        }
    }
}

int mr_generic(int64_t) { return MR; }

void max_update_generic(float* y, int32_t* argmax, const float* x, int32_t p, int64_t C) {
    // an integer mask and unconditional loads, so the compiler vectorises the select
    for (int64_t c = 0; c < C; c++) {
        const float v = x[c], cur = y[c];
        const int32_t a = argmax[c];
        const bool take = !(v <= cur) && cur == cur;  // v > cur, or v is the first NaN
        const int32_t m = -(int32_t)take;
        y[c] = take ? v : cur;
        argmax[c] = (p & m) | (a & ~m);
    }
}

}  // namespace

const ConvKernelInfo conv_kernel_generic = {"generic", NR, mr_generic, 128, 64, kernel_generic, max_update_generic};

}  // namespace fastnn
