// bind_gemm.cpp — matmul / gemm and the GEMM's introspection (kernel choice, FMA probe).

#include "checks.h"

namespace fastnn::bind {

namespace {

// op(X)'s (rows, cols) given the stored 2-D array and a transpose flag.
struct Operand {
    FloatArray arr;
    int64_t rows, cols;
};

Operand gemm_operand(py::handle obj, bool trans, const char* op, const char* arg) {
    FloatArray a = float_input(obj, op, arg);
    require_ndim(a, 2, op, arg, "(rows, cols)");
    return {a, trans ? a.shape(1) : a.shape(0), trans ? a.shape(0) : a.shape(1)};
}

void require_inner(const Operand& a, const Operand& b, const char* op) {
    if (a.cols != b.rows)
        fail_value(std::string(op) + ": the inner dimensions must agree (op(a) is M×K, op(b) is K×N). Received: "
                   "a.shape=" + shape_str(a.arr) + ", b.shape=" + shape_str(b.arr) +
                   " (K=" + std::to_string(a.cols) + " vs " + std::to_string(b.rows) + ")");
}

py::array_t<float> matmul(py::handle a_obj, py::handle b_obj) {
    const char* op = "matmul";
    Operand a = gemm_operand(a_obj, false, op, "a"), b = gemm_operand(b_obj, false, op, "b");
    require_inner(a, b, op);
    const int64_t M = a.rows, N = b.cols, K = a.cols;
    auto c = new_float_array({M, N}, op, "the result");
    const float *A = a.arr.data(), *B = b.arr.data();
    float* C = c.mutable_data();
    {
        py::gil_scoped_release release;
        sgemm(C, N, A, K, false, B, N, false, M, N, K, 1.0f, 0.0f);
    }
    return c;
}

py::array_t<float> gemm(py::handle a_obj, py::handle b_obj, py::handle c_obj, py::handle trans_a_obj,
                        py::handle trans_b_obj, py::handle alpha_obj, py::handle beta_obj) {
    const char* op = "gemm";
    const bool trans_a = flag_arg(trans_a_obj, op, "trans_a");
    const bool trans_b = flag_arg(trans_b_obj, op, "trans_b");
    const double alpha = number_arg(alpha_obj, op, "alpha");
    double beta = number_arg(beta_obj, op, "beta");
    Operand a = gemm_operand(a_obj, trans_a, op, "a"), b = gemm_operand(b_obj, trans_b, op, "b");
    require_inner(a, b, op);
    const int64_t M = a.rows, N = b.cols, K = a.cols;
    py::array_t<float> c;
    if (c_obj.is_none()) {
        c = new_float_array({M, N}, op, "c");
        beta = 0.0;  // a fresh c holds nothing to scale
    } else {
        c = float_inout(c_obj, op, "c", {M, N});
        // c may be (a view of) a or b itself: read that operand from a copy, as NumPy does for out=
        for (Operand* x : {&a, &b})
            if (shares_memory(x->arr, c)) x->arr = FloatArray::ensure(x->arr.attr("copy")());
    }
    const float *A = a.arr.data(), *B = b.arr.data();
    float* C = c.mutable_data();
    const int64_t lda = a.arr.shape(1), ldb = b.arr.shape(1);
    {
        py::gil_scoped_release release;
        sgemm(C, N, A, lda, trans_a, B, ldb, trans_b, M, N, K, (float)alpha, (float)beta);
    }
    return c;
}

py::array_t<float> gemm_naive_binding(py::handle a_obj, py::handle b_obj, py::handle trans_a_obj,
                                      py::handle trans_b_obj) {
    const char* op = "gemm_naive";
    const bool trans_a = flag_arg(trans_a_obj, op, "trans_a");
    const bool trans_b = flag_arg(trans_b_obj, op, "trans_b");
    Operand a = gemm_operand(a_obj, trans_a, op, "a"), b = gemm_operand(b_obj, trans_b, op, "b");
    require_inner(a, b, op);
    const int64_t M = a.rows, N = b.cols, K = a.cols;
    auto c = new_float_array({M, N}, op, "c");
    const float *A = a.arr.data(), *B = b.arr.data();
    float* C = c.mutable_data();
    {
        py::gil_scoped_release release;
        sgemm_naive(C, N, A, a.arr.shape(1), trans_a, B, b.arr.shape(1), trans_b, M, N, K, 1.0f, 0.0f);
    }
    return c;
}

// a (..., M, K) and b (..., K, N) with the same batch axes, or b (K, N) for every item; the last
// two axes transposed by trans_a / trans_b. Returns (..., M, N).
py::array_t<float> batched_matmul(py::handle a_obj, py::handle b_obj, py::handle trans_a_obj, py::handle trans_b_obj) {
    const char* op = "batched_matmul";
    const bool trans_a = flag_arg(trans_a_obj, op, "trans_a");
    const bool trans_b = flag_arg(trans_b_obj, op, "trans_b");
    FloatArray a = float_input(a_obj, op, "a"), b = float_input(b_obj, op, "b");
    if (a.ndim() < 3)
        fail_value(std::string(op) + ": a must be (..., rows, cols) with at least one batch axis. Received: a.shape=" +
                   shape_str(a));
    const std::vector<int64_t> ad(a.shape(), a.shape() + a.ndim()), bd(b.shape(), b.shape() + b.ndim());
    const bool shared_b = b.ndim() == 2;
    const std::vector<int64_t> lead(ad.begin(), ad.end() - 2);
    if (!shared_b && std::vector<int64_t>(bd.begin(), bd.end() - std::min<size_t>(bd.size(), 2)) != lead)
        fail_value(std::string(op) + ": b must have a's batch axes " + shape_str(lead) + " (or be 2-D, one matrix for "
                   "every item). Received: a.shape=" + shape_str(a) + ", b.shape=" + shape_str(b));
    const int64_t ar = ad[ad.size() - 2], ac = ad.back(), br = bd[bd.size() - 2], bc = bd.back();
    const int64_t M = trans_a ? ac : ar, K = trans_a ? ar : ac, Kb = trans_b ? bc : br, N = trans_b ? br : bc;
    if (K != Kb)
        fail_value(std::string(op) + ": the inner dimensions must agree (op(a) is (..., M, K), op(b) is (..., K, N)). "
                   "Received: a.shape=" + shape_str(a) + ", b.shape=" + shape_str(b) + " (K=" + std::to_string(K) +
                   " vs " + std::to_string(Kb) + ")");
    std::vector<int64_t> out = lead;
    out.push_back(M);
    out.push_back(N);
    auto c = new_float_array(out, op, "the result");
    const int64_t batch = checked_numel(lead, op, "a");
    const float *A = a.data(), *B = b.data();
    float* C = c.mutable_data();
    {
        py::gil_scoped_release release;
        sgemm_batched(C, A, B, batch, M, N, K, trans_a, trans_b, 1.0f, shared_b ? 0 : K * N);
    }
    return c;
}

}  // namespace

void register_gemm(py::module_& m) {
    m.def("batched_matmul", &batched_matmul, py::arg("a"), py::arg("b"), py::kw_only(), py::arg("trans_a") = false,
          py::arg("trans_b") = false,
          "op(a) @ op(b) over a's batch axes: a (..., M, K), b (..., K, N) or (K, N); op transposes the last two axes.");
    m.def("matmul", &matmul, py::arg("a"), py::arg("b"),
          "C = a @ b for 2-D arrays, computed in float32 by fastnn's sgemm.");
    m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("c") = py::none(), py::kw_only(),
          py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0, py::arg("beta") = 0.0,
          "c = alpha * op(a) @ op(b) + beta * c; c (float32, C-contiguous) is updated in place when given.");
    m.def("_gemm_naive", &gemm_naive_binding, py::arg("a"), py::arg("b"), py::kw_only(),
          py::arg("trans_a") = false, py::arg("trans_b") = false,
          "The triple-loop reference sgemm (tests only).");
    m.def("gemm_kernel", []() { return std::string(gemm_kernel_name()); },
          "The GEMM micro-kernel in use: 'avx512', 'avx2-fma' or 'generic'.");
    m.def("_select_gemm_kernel", [](const std::string& name) { return gemm_select_kernel(name.c_str()); },
          py::arg("name"), "Force a micro-kernel ('auto' restores the run-time choice); False if unsupported.");
    m.def("_gemm_blocking",
          [](int MC, int KC, int NC, int b_block_in_l2) {
              gemm_set_blocking(MC, KC, NC, b_block_in_l2);
              int mr, nr, mc, kc, nc, order;
              gemm_get_blocking(&mr, &nr, &mc, &kc, &nc, &order);
              py::dict d;
              d["MR"] = mr, d["NR"] = nr, d["MC"] = mc, d["KC"] = kc, d["NC"] = nc, d["b_block_in_l2"] = (bool)order;
              return d;
          },
          py::arg("MC") = 0, py::arg("KC") = 0, py::arg("NC") = 0, py::arg("b_block_in_l2") = -1,
          "Read (and with positive arguments, retune) the active GEMM kernel's blocking (benchmarks only).");
    m.def("_gemm_in_place_b_max_rows", [](int64_t rows) { gemm_set_in_place_b_max_rows(rows); }, py::arg("rows"),
          "Benchmark hook: the most rows of C a thread computes with B read in place (not packed).");
    m.def("_gemm_direct_max_work", [](double work) { gemm_set_direct_max_work(work); }, py::arg("work"),
          "Products up to this many multiply-adds skip packing (benchmarks only).");
    m.def("_fma_peak_probe", [](double seconds, const std::string& isa) {
              py::gil_scoped_release release;
              return fma_peak_probe(seconds, isa.c_str());
          },
          py::arg("seconds") = 0.2, py::arg("isa") = "auto",
          "Single-thread FMA throughput in GFLOP/s for the given ISA ('auto' = the GEMM's), -1 if unsupported.");
}

}  // namespace fastnn::bind
