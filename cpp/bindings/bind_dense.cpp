// bind_dense.cpp — activations and the dense layer.

#include "checks.h"

namespace fastnn::bind {

namespace {

std::vector<int64_t> dims_of(const py::array& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

// Elementwise activations take any shape; softmax works over the last axis and needs ndim >= 1.
void rows_cols(const py::array& a, Act act, const char* op, const char* arg, int64_t* rows, int64_t* cols) {
    if (act == Act::Softmax && a.ndim() == 0)
        fail_value(std::string(op) + ": softmax needs at least 1-D input (it normalises the last axis). Received: " +
                   arg + ".shape=()");
    const int64_t total = a.size();
    *cols = a.ndim() == 0 ? 1 : a.shape(a.ndim() - 1);
    *rows = *cols == 0 ? 0 : total / *cols;
}

py::array_t<float> activation_forward_b(py::handle x_obj, py::handle activation, py::object alpha) {
    const char* op = "activation_forward";
    const Act act = parse_activation(activation, op, "activation", /*input_derivative=*/true);
    const float a = activation_alpha(act, alpha, op);
    FloatArray x = float_input(x_obj, op, "x");
    int64_t rows, cols;
    rows_cols(x, act, op, "x", &rows, &cols);
    auto y = new_float_array(dims_of(x), op, "y");
    const float* X = x.data();
    float* Y = y.mutable_data();
    {
        py::gil_scoped_release release;
        activation_forward(Y, X, rows, cols, act, a);
    }
    return y;
}

py::array_t<float> activation_backward_b(py::handle dy_obj, py::handle y_obj, py::handle activation,
                                         py::object alpha) {
    const char* op = "activation_backward";
    const Act act = parse_activation(activation, op);
    const float a = activation_alpha(act, alpha, op);
    FloatArray dy = float_input(dy_obj, op, "dy"), y = float_input(y_obj, op, "y");
    if (dims_of(dy) != dims_of(y))
        fail_value(std::string(op) + ": dy and y must have the same shape. Received: dy.shape=" + shape_str(dy) +
                   ", y.shape=" + shape_str(y));
    int64_t rows, cols;
    rows_cols(y, act, op, "y", &rows, &cols);
    auto dx = new_float_array(dims_of(y), op, "dx");
    const float *DY = dy.data(), *Y = y.data();
    float* DX = dx.mutable_data();
    {
        py::gil_scoped_release release;
        activation_backward(DX, DY, Y, rows, cols, act, a);
    }
    return dx;
}

py::array_t<float> activation_backward_input_b(py::handle dy_obj, py::handle x_obj, py::handle activation,
                                               py::object alpha) {
    const char* op = "activation_backward_input";
    const Act act = parse_activation(activation, op, "activation", /*input_derivative=*/true);
    if (!derivative_needs_input(act))
        fail_value(std::string(op) + ": activation='" + activation_name(act) + "' is differentiated from its output: "
                   "use activation_backward (this op takes 'gelu', 'silu', 'mish' and 'hard_silu')");
    const float a = activation_alpha(act, alpha, op);
    FloatArray dy = float_input(dy_obj, op, "dy"), x = float_input(x_obj, op, "x");
    if (dims_of(dy) != dims_of(x))
        fail_value(std::string(op) + ": dy and x must have the same shape. Received: dy.shape=" + shape_str(dy) +
                   ", x.shape=" + shape_str(x));
    auto dx = new_float_array(dims_of(x), op, "dx");
    const float *DY = dy.data(), *X = x.data();
    float* DX = dx.mutable_data();
    const int64_t count = x.size();
    {
        py::gil_scoped_release release;
        activation_backward_input(DX, DY, X, count, act, a);
    }
    return dx;
}

struct DenseArgs {
    FloatArray x, w;
    int64_t N, C, OC;
};

DenseArgs dense_args(py::handle x_obj, py::handle w_obj, const char* op) {
    DenseArgs d{float_input(x_obj, op, "x"), float_input(w_obj, op, "w"), 0, 0, 0};
    require_ndim(d.x, 2, op, "x", "(N, C)");
    require_ndim(d.w, 2, op, "w", "(C, OC)");
    d.N = d.x.shape(0);
    d.C = d.x.shape(1);
    require_dim(d.w, 0, d.C, op, "w", "(C, OC)", "C");
    d.OC = d.w.shape(1);
    return d;
}

py::array_t<float> dense_forward_b(py::handle x_obj, py::handle w_obj, py::handle b_obj, py::handle activation,
                                   py::object alpha) {
    const char* op = "dense_forward";
    const Act act = parse_activation(activation, op);
    const float a = activation_alpha(act, alpha, op);
    DenseArgs d = dense_args(x_obj, w_obj, op);
    const OptionalArray b = bias_input(b_obj, d.OC, op);
    auto y = new_float_array({d.N, d.OC}, op, "y");
    const float *X = d.x.data(), *W = d.w.data(), *B = b.ptr;
    float* Y = y.mutable_data();
    {
        py::gil_scoped_release release;
        dense_forward(Y, X, W, B, d.N, d.C, d.OC, act, a);
    }
    return y;
}

py::tuple dense_backward_b(py::handle dy_obj, py::handle x_obj, py::handle w_obj, py::handle y_obj,
                           py::handle activation, py::object alpha, py::handle use_bias_obj, py::handle need_dx_obj,
                           py::handle need_dw_obj) {
    const char* op = "dense_backward";
    const bool use_bias = flag_arg(use_bias_obj, op, "use_bias");
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool need_dw = flag_arg(need_dw_obj, op, "need_dw");
    const Act act = parse_activation(activation, op);
    const float a = activation_alpha(act, alpha, op);
    DenseArgs d = dense_args(x_obj, w_obj, op);
    FloatArray dy = float_input(dy_obj, op, "dy"), y = float_input(y_obj, op, "y");
    for (auto [arr, name] : {std::pair<FloatArray*, const char*>{&dy, "dy"}, {&y, "y"}}) {
        require_ndim(*arr, 2, op, name, "(N, OC)");
        if (arr->shape(0) != d.N || arr->shape(1) != d.OC)
            fail_value(std::string(op) + ": " + name + " must be (N, OC) = " + shape_str({d.N, d.OC}) +
                       " to match x and w. Received: " + name + ".shape=" + shape_str(*arr));
    }
    LayerGrads g = layer_grads({d.N, d.C}, {d.C, d.OC}, d.OC, need_dx, use_bias, /*zeroed=*/false, op, need_dw);
    // dz: dy ⊙ act'(y), the kernel's scratch; a fresh buffer so dy is never modified.
    py::array_t<float> dz;
    float* DZ = nullptr;
    if (act != Act::Linear) {
        dz = new_float_array({d.N, d.OC}, op, "dz");
        DZ = dz.mutable_data();
    }
    const float *DY = dy.data(), *Y = y.data(), *X = d.x.data(), *W = d.w.data();
    {
        py::gil_scoped_release release;
        dense_backward(g.dx_ptr, g.dw_ptr, g.db_ptr, DZ, DY, Y, X, W, d.N, d.C, d.OC, act, a);
    }
    return g.as_tuple();
}

}  // namespace

void register_dense(py::module_& m) {
    m.def("activation_forward", &activation_forward_b, py::arg("x"), py::arg("activation"),
          py::arg("alpha") = py::none(), "y = activation(x); softmax over the last axis.");
    m.def("activation_backward", &activation_backward_b, py::arg("dy"), py::arg("y"), py::arg("activation"),
          py::arg("alpha") = py::none(), "dx = dy * activation'(x), computed from the forward output y.");
    m.def("activation_backward_input", &activation_backward_input_b, py::arg("dy"), py::arg("x"),
          py::arg("activation"), py::arg("alpha") = py::none(),
          "dx = dy * activation'(x) from the forward INPUT x, for gelu, silu, mish and hard_silu.");
    m.def("dense_forward", &dense_forward_b, py::arg("x"), py::arg("w"), py::arg("b") = py::none(),
          py::arg("activation") = "linear", py::arg("alpha") = py::none(),
          "y = activation(x @ w + b) with the bias and activation fused into the GEMM's epilogue.");
    m.def("dense_backward", &dense_backward_b, py::arg("dy"), py::arg("x"), py::arg("w"), py::arg("y"),
          py::arg("activation") = "linear", py::arg("alpha") = py::none(), py::kw_only(),
          py::arg("use_bias") = true, py::arg("need_dx") = true, py::arg("need_dw") = true,
          "(dx, dw, db) of y = activation(x @ w + b); dx is None unless need_dx, dw None unless need_dw, db None "
          "unless use_bias.");
}

}  // namespace fastnn::bind
