// bind_attention.cpp — attention_forward: MultiHeadAttention's fused inference forward.

#include "checks.h"

namespace fastnn::bind {

namespace {

py::array_t<float> attention_forward_b(py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle heads_obj,
                                       py::handle keep_obj, py::handle zero_masked_obj) {
    const char* op = "attention_forward";
    const int64_t H = int_arg(heads_obj, op, "heads");
    const bool zero_masked = flag_arg(zero_masked_obj, op, "zero_masked");
    FloatArray q = float_input(q_obj, op, "q"), k = float_input(k_obj, op, "k"), v = float_input(v_obj, op, "v");
    require_ndim(q, 3, op, "q", "(batch, T, heads·dk)");
    require_ndim(k, 3, op, "k", "(batch, S, heads·dk)");
    require_ndim(v, 3, op, "v", "(batch, S, heads·dv)");
    if (H < 1)
        fail_value(std::string(op) + ": heads must be >= 1. Received: heads=" + std::to_string(H));
    const int64_t B = q.shape(0), T = q.shape(1), S = k.shape(1);
    if (q.shape(2) % H != 0 || v.shape(2) % H != 0 || q.shape(2) == 0 || v.shape(2) == 0)
        fail_value(std::string(op) + ": the last axes of q and v must hold heads=" + std::to_string(H) +
                   " equal slices. Received: q.shape=" + shape_str(q) + ", v.shape=" + shape_str(v));
    if (k.shape(0) != B || v.shape(0) != B || k.shape(2) != q.shape(2) || v.shape(1) != S)
        fail_value(std::string(op) + ": expected k (batch, S, heads·dk) matching q (batch, T, heads·dk) and v "
                   "(batch, S, heads·dv). Received: q.shape=" + shape_str(q) + ", k.shape=" + shape_str(k) +
                   ", v.shape=" + shape_str(v));
    if (B > 0 && (T == 0 || S == 0))
        fail_value(std::string(op) + ": query and key need at least one step. Received: q.shape=" + shape_str(q) +
                   ", k.shape=" + shape_str(k));
    const int64_t dk = q.shape(2) / H, dv = v.shape(2) / H;
    py::array_t<uint8_t, py::array::c_style | py::array::forcecast> keep;
    int64_t keep_heads = 0;
    if (!keep_obj.is_none()) {
        py::array m = py::array::ensure(keep_obj);
        if (!m) fail_not_array(keep_obj, std::string(op) + ": keep must be a boolean array (batch, 1 or heads, T, S)");
        if (!(m.dtype().kind() == 'b' || (m.dtype().kind() == 'u' && m.dtype().itemsize() == 1)))
            fail_type(std::string(op) + ": keep must be a boolean (or uint8) array. Received: keep.dtype=" +
                      py::str(m.dtype()).cast<std::string>());
        if (m.ndim() != 4 || m.shape(0) != B || (m.shape(1) != 1 && m.shape(1) != H) || m.shape(2) != T ||
            m.shape(3) != S)
            fail_value(std::string(op) + ": keep must be (batch, 1 or heads, T, S) = (" + std::to_string(B) +
                       ", 1 or " + std::to_string(H) + ", " + std::to_string(T) + ", " + std::to_string(S) +
                       "). Received: keep.shape=" + shape_str(m));
        keep = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>(m);  // (a private copy if strided)
        keep_heads = m.shape(1);
    }
    auto out = new_float_array({B, T, H * dv}, op, "the result");
    const float *Q = q.data(), *K = k.data(), *V = v.data();
    const uint8_t* M = keep_obj.is_none() ? nullptr : keep.data();
    float* O = out.mutable_data();
    {
        py::gil_scoped_release release;
        attention_forward(O, Q, K, V, M, B, T, S, H, dk, dv, keep_heads, zero_masked);
    }
    return out;
}

}  // namespace

void register_attention(py::module_& m) {
    m.def("attention_forward", &attention_forward_b, py::arg("q"), py::arg("k"), py::arg("v"), py::kw_only(),
          py::arg("heads"), py::arg("keep") = py::none(), py::arg("zero_masked") = false,
          "softmax(q·kᵀ, masked)·v per head: q (B, T, heads·dk) scaled, k (B, S, heads·dk), v (B, S, heads·dv).");
}

}  // namespace fastnn::bind
