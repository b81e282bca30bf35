// bind_norm.cpp — batch normalisation (axis -1), layer normalisation (last axis), group normalisation
// (channels last) and inverted dropout.

#include <cmath>
#include <limits>
#include <sstream>

#include "checks.h"

namespace fastnn::bind {

namespace {

std::vector<int64_t> dims_of(const py::array& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

std::string num_str(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// x (N, ..., C) viewed as (rows, C).
void rows_channels(const py::array& x, const char* op, const char* arg, int64_t* rows, int64_t* C) {
    if (x.ndim() < 2)
        fail_value(std::string(op) + ": " + arg + " must be (N, ..., C) with at least 2 dimensions (channels last). "
                   "Received: " + arg + ".shape=" + shape_str(x));
    *C = x.shape(x.ndim() - 1);
    *rows = 1;
    for (int d = 0; d + 1 < x.ndim(); d++) *rows *= x.shape(d);
}

// A read-only (C,) vector.
FloatArray channel_vector(py::handle obj, int64_t C, const char* op, const char* arg) {
    FloatArray v = float_input(obj, op, arg);
    if (v.ndim() != 1 || v.shape(0) != C)
        fail_value(std::string(op) + ": " + arg + " must be (C,) with C=" + std::to_string(C) + ". Received: " + arg +
                   ".shape=" + shape_str(v));
    return v;
}

// An optional (C,) vector (gamma, beta: None for scale/center False): `data` null when not given.
struct OptionalVector {
    FloatArray arr;
    bool given = false;
    const float* data = nullptr;
};

OptionalVector optional_vector(py::handle obj, int64_t C, const char* op, const char* arg) {
    OptionalVector v;
    if (!obj.is_none()) {
        v.arr = channel_vector(obj, C, op, arg);
        v.given = true;
        v.data = v.arr.data();
    }
    return v;
}

// A backward's dy: x's shape.
FloatArray dy_like(py::handle dy_obj, const py::array& x, const char* op) {
    FloatArray dy = float_input(dy_obj, op, "dy");
    if (dims_of(dy) != dims_of(x))
        fail_value(std::string(op) + ": dy must have x's shape " + shape_str(x) + ". Received: dy.shape=" +
                   shape_str(dy));
    return dy;
}

float epsilon_arg(double v, const char* op) {
    if (!(v >= 0.0) || !std::isfinite(v))
        fail_value(std::string(op) + ": epsilon must be a finite number >= 0. Received: epsilon=" + num_str(v));
    return (float)v;
}

// The outputs of a normalisation backward: dx (x's shape) when need_dx, dgamma (C,) with a gamma,
// dbeta (C,) when center, each None otherwise; the parameter gradients zeroed (the kernels add).
struct NormGrads {
    py::object dx = py::none(), dgamma = py::none(), dbeta = py::none();
    float *DX = nullptr, *DG = nullptr, *DB = nullptr;

    NormGrads(const py::array& x, int64_t C, bool need_dx, bool has_gamma, bool center, const char* op) {
        if (need_dx) {
            auto a = new_float_array(dims_of(x), op, "dx");
            DX = a.mutable_data();
            dx = a;
        }
        if (has_gamma) DG = zeroed_vector(C, op, "dgamma", &dgamma);
        if (center) DB = zeroed_vector(C, op, "dbeta", &dbeta);
    }
    static float* zeroed_vector(int64_t C, const char* op, const char* arg, py::object* out) {
        auto a = new_float_array({C}, op, arg);
        float* p = a.mutable_data();
        std::fill(p, p + C, 0.0f);
        *out = a;
        return p;
    }
    py::tuple tuple() const { return py::make_tuple(dx, dgamma, dbeta); }
};

py::tuple batchnorm_forward_b(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj, py::handle mm_obj,
                              py::handle mv_obj, py::handle training_obj, py::handle momentum_obj,
                              py::handle epsilon_obj) {
    const char* op = "batchnorm_forward";
    const bool training = flag_arg(training_obj, op, "training");
    const double momentum = number_arg(momentum_obj, op, "momentum");
    const double epsilon = number_arg(epsilon_obj, op, "epsilon");
    FloatArray x = float_input(x_obj, op, "x");
    int64_t N, C;
    rows_channels(x, op, "x", &N, &C);
    if (training && N == 0)
        fail_value(std::string(op) + ": training needs a non-empty batch to compute statistics. Received: x.shape=" +
                   shape_str(x));
    if (!(momentum >= 0.0 && momentum <= 1.0))
        fail_value(std::string(op) + ": momentum must be in [0, 1]. Received: momentum=" + num_str(momentum));
    const float eps = epsilon_arg(epsilon, op);
    const OptionalVector gamma = optional_vector(gamma_obj, C, op, "gamma");
    const OptionalVector beta = optional_vector(beta_obj, C, op, "beta");
    auto mm = float_inout(mm_obj, op, "moving_mean", {C});
    auto mv = float_inout(mv_obj, op, "moving_var", {C});
    std::vector<NamedSpan> read = {{byte_span(x), "x"}};
    if (gamma.given) read.push_back({byte_span(gamma.arr), "gamma"});
    if (beta.given) read.push_back({byte_span(beta.arr), "beta"});
    require_disjoint(op, {{byte_span(mm), "moving_mean"}, {byte_span(mv), "moving_var"}}, read);
    auto y = new_float_array(dims_of(x), op, "y");
    auto mean = new_float_array({C}, op, "mean");
    auto inv_std = new_float_array({C}, op, "inv_std");
    const float *X = x.data(), *G = gamma.data, *B = beta.data;
    float *Y = y.mutable_data(), *M = mean.mutable_data(), *IS = inv_std.mutable_data();
    float *MM = mm.mutable_data(), *MV = mv.mutable_data();
    {
        py::gil_scoped_release release;
        batchnorm_forward(Y, M, IS, MM, MV, X, G, B, N, C, training, (float)momentum, eps);
    }
    return py::make_tuple(y, mean, inv_std);
}

py::tuple batchnorm_backward_b(py::handle dy_obj, py::handle x_obj, py::handle gamma_obj, py::handle mean_obj,
                               py::handle inv_std_obj, py::handle training_obj, py::handle need_dx_obj,
                               py::handle center_obj) {
    const char* op = "batchnorm_backward";
    const bool training = flag_arg(training_obj, op, "training");
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool center = flag_arg(center_obj, op, "center");
    FloatArray x = float_input(x_obj, op, "x");
    int64_t N, C;
    rows_channels(x, op, "x", &N, &C);
    FloatArray dy = dy_like(dy_obj, x, op);
    const OptionalVector gamma = optional_vector(gamma_obj, C, op, "gamma");
    FloatArray mean = channel_vector(mean_obj, C, op, "mean");
    FloatArray inv_std = channel_vector(inv_std_obj, C, op, "inv_std");
    const NormGrads grads(x, C, need_dx, gamma.given, center, op);
    float *DX = grads.DX, *DG = grads.DG, *DB = grads.DB;
    const float *DY = dy.data(), *X = x.data(), *G = gamma.data, *M = mean.data(), *IS = inv_std.data();
    {
        py::gil_scoped_release release;
        batchnorm_backward(DX, DG, DB, DY, X, G, M, IS, N, C, training);
    }
    return grads.tuple();
}

// x (..., C) viewed as (rows, C), C >= 1; `row_dims` gets the leading dimensions (the statistics' shape).
void rows_features(const py::array& x, const char* op, int64_t* rows, int64_t* C, std::vector<int64_t>* row_dims) {
    if (x.ndim() < 1 || x.shape(x.ndim() - 1) == 0)
        fail_value(std::string(op) + ": x must be (..., C) with C >= 1 values to normalise over its last axis. "
                   "Received: x.shape=" + shape_str(x));
    *C = x.shape(x.ndim() - 1);
    row_dims->assign(x.shape(), x.shape() + x.ndim() - 1);
    *rows = 1;
    for (int64_t d : *row_dims) *rows *= d;
}

// mean or inv_std from a forward, of shape `dims` (`what` says which: layernorm's are x's leading
// dimensions, groupnorm's (N, groups)).
FloatArray row_statistic(py::handle obj, const std::vector<int64_t>& dims, const char* op, const char* arg,
                         const char* what = "x's shape without its last axis") {
    FloatArray v = float_input(obj, op, arg);
    if (dims_of(v) != dims)
        fail_value(std::string(op) + ": " + arg + " must have " + what + ", " + shape_str(dims) + ". Received: " + arg +
                   ".shape=" + shape_str(v));
    return v;
}

py::tuple layernorm_forward_b(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj, py::handle epsilon_obj) {
    const char* op = "layernorm_forward";
    const double epsilon = number_arg(epsilon_obj, op, "epsilon");
    FloatArray x = float_input(x_obj, op, "x");
    int64_t R, C;
    std::vector<int64_t> row_dims;
    rows_features(x, op, &R, &C, &row_dims);
    const float eps = epsilon_arg(epsilon, op);
    const OptionalVector gamma = optional_vector(gamma_obj, C, op, "gamma");
    const OptionalVector beta = optional_vector(beta_obj, C, op, "beta");
    auto y = new_float_array(dims_of(x), op, "y");
    auto mean = new_float_array(row_dims, op, "mean");
    auto inv_std = new_float_array(row_dims, op, "inv_std");
    const float *X = x.data(), *G = gamma.data, *B = beta.data;
    float *Y = y.mutable_data(), *M = mean.mutable_data(), *IS = inv_std.mutable_data();
    {
        py::gil_scoped_release release;
        layernorm_forward(Y, M, IS, X, G, B, R, C, eps);
    }
    return py::make_tuple(y, mean, inv_std);
}

py::tuple layernorm_backward_b(py::handle dy_obj, py::handle x_obj, py::handle gamma_obj, py::handle mean_obj,
                               py::handle inv_std_obj, py::handle need_dx_obj, py::handle center_obj) {
    const char* op = "layernorm_backward";
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool center = flag_arg(center_obj, op, "center");
    FloatArray x = float_input(x_obj, op, "x");
    int64_t R, C;
    std::vector<int64_t> row_dims;
    rows_features(x, op, &R, &C, &row_dims);
    FloatArray dy = dy_like(dy_obj, x, op);
    const OptionalVector gamma = optional_vector(gamma_obj, C, op, "gamma");
    FloatArray mean = row_statistic(mean_obj, row_dims, op, "mean");
    FloatArray inv_std = row_statistic(inv_std_obj, row_dims, op, "inv_std");
    const NormGrads grads(x, C, need_dx, gamma.given, center, op);
    float *DX = grads.DX, *DG = grads.DG, *DB = grads.DB;
    const float *DY = dy.data(), *X = x.data(), *G = gamma.data, *M = mean.data(), *IS = inv_std.data();
    {
        py::gil_scoped_release release;
        layernorm_backward(DX, DG, DB, DY, X, G, M, IS, R, C);
    }
    return grads.tuple();
}

// x (N, ..., C) seen as (N, P, C) for group normalisation in G groups: G >= 1 dividing C, P >= 1
// (a sample needs positions for its statistics) unless N = 0.
struct GroupShape {
    int64_t N = 0, P = 1, C = 0, G = 0;
    GroupShape(const py::array& x, py::handle groups_obj, const char* op) {
        G = int_arg(groups_obj, op, "groups");
        if (x.ndim() < 2)
            fail_value(std::string(op) + ": x must be (N, ..., C) with at least 2 dimensions (channels last). "
                       "Received: x.shape=" + shape_str(x));
        N = x.shape(0);
        C = x.shape(x.ndim() - 1);
        for (int d = 1; d + 1 < x.ndim(); d++) P *= x.shape(d);
        if (G < 1 || C % G != 0)
            fail_value(std::string(op) + ": groups must be a positive divisor of the channels (x.shape[-1]=" +
                       std::to_string(C) + "). Received: groups=" + std::to_string(G));
        if (N > 0 && P == 0)
            fail_value(std::string(op) + ": each sample needs at least one position to normalise over. "
                       "Received: x.shape=" + shape_str(x));
    }
};

py::tuple groupnorm_forward_b(py::handle x_obj, py::handle gamma_obj, py::handle beta_obj, py::handle groups_obj,
                              py::handle epsilon_obj) {
    const char* op = "groupnorm_forward";
    const double epsilon = number_arg(epsilon_obj, op, "epsilon");
    FloatArray x = float_input(x_obj, op, "x");
    const GroupShape s(x, groups_obj, op);
    const float eps = epsilon_arg(epsilon, op);
    const OptionalVector gamma = optional_vector(gamma_obj, s.C, op, "gamma");
    const OptionalVector beta = optional_vector(beta_obj, s.C, op, "beta");
    auto y = new_float_array(dims_of(x), op, "y");
    auto mean = new_float_array({s.N, s.G}, op, "mean");
    auto inv_std = new_float_array({s.N, s.G}, op, "inv_std");
    const float *X = x.data(), *G = gamma.data, *B = beta.data;
    float *Y = y.mutable_data(), *M = mean.mutable_data(), *IS = inv_std.mutable_data();
    {
        py::gil_scoped_release release;
        groupnorm_forward(Y, M, IS, X, G, B, s.N, s.P, s.C, s.G, eps);
    }
    return py::make_tuple(y, mean, inv_std);
}

py::tuple groupnorm_backward_b(py::handle dy_obj, py::handle x_obj, py::handle gamma_obj, py::handle mean_obj,
                               py::handle inv_std_obj, py::handle groups_obj, py::handle need_dx_obj,
                               py::handle center_obj) {
    const char* op = "groupnorm_backward";
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool center = flag_arg(center_obj, op, "center");
    FloatArray x = float_input(x_obj, op, "x");
    const GroupShape s(x, groups_obj, op);
    FloatArray dy = dy_like(dy_obj, x, op);
    const OptionalVector gamma = optional_vector(gamma_obj, s.C, op, "gamma");
    const std::vector<int64_t> stats = {s.N, s.G};
    FloatArray mean = row_statistic(mean_obj, stats, op, "mean", "the shape (N, groups)");
    FloatArray inv_std = row_statistic(inv_std_obj, stats, op, "inv_std", "the shape (N, groups)");
    const NormGrads grads(x, s.C, need_dx, gamma.given, center, op);
    float *DX = grads.DX, *DG = grads.DG, *DB = grads.DB;
    const float *DY = dy.data(), *X = x.data(), *G = gamma.data, *M = mean.data(), *IS = inv_std.data();
    {
        py::gil_scoped_release release;
        groupnorm_backward(DX, DG, DB, DY, X, G, M, IS, s.N, s.P, s.C, s.G);
    }
    return grads.tuple();
}

double dropout_rate(double rate, const char* op) {
    if (!(rate >= 0.0 && rate < 1.0))
        fail_value(std::string(op) + ": rate must be in [0, 1). Received: rate=" + num_str(rate));
    return rate;
}

// seed (already an exact int, from int_object) must be in [0, 2^64).
uint64_t dropout_seed(const py::int_& seed, const char* op) {
    if (seed < py::int_(0) || seed > py::int_(std::numeric_limits<uint64_t>::max()))
        fail_value(std::string(op) + ": seed must be an int in [0, 2**64). Received: seed=" +
                   py::repr(seed).cast<std::string>());
    return seed.cast<uint64_t>();
}

py::tuple dropout_forward_b(py::handle x_obj, py::handle rate_obj, py::handle seed_obj) {
    const char* op = "dropout_forward";
    double rate = number_arg(rate_obj, op, "rate");
    const py::int_ seed_int = int_object(seed_obj, op, "seed");
    FloatArray x = float_input(x_obj, op, "x");
    rate = dropout_rate(rate, op);
    const uint64_t seed = dropout_seed(seed_int, op);
    auto y = new_float_array(dims_of(x), op, "y");
    std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
    py::array_t<uint8_t> mask(shape);
    const float* X = x.data();
    float* Y = y.mutable_data();
    uint8_t* MK = mask.mutable_data();
    const index_t count = (index_t)x.size();
    {
        py::gil_scoped_release release;
        dropout_forward(Y, MK, X, count, seed, rate);
    }
    return py::make_tuple(y, mask);
}

py::array_t<float> dropout_backward_b(py::handle dy_obj, py::handle mask_obj, py::handle rate_obj) {
    const char* op = "dropout_backward";
    double rate = number_arg(rate_obj, op, "rate");
    FloatArray dy = float_input(dy_obj, op, "dy");
    rate = dropout_rate(rate, op);
    py::array m = py::array::ensure(mask_obj);
    if (!m) fail_not_array(mask_obj, std::string(op) + ": mask must be the uint8 (or bool) mask from dropout_forward");
    if (!(m.dtype().kind() == 'b' || (m.dtype().kind() == 'u' && m.dtype().itemsize() == 1)))
        fail_type(std::string(op) + ": mask must be the uint8 (or bool) mask from dropout_forward. Received: "
                  "mask.dtype=" + py::str(m.dtype()).cast<std::string>());
    if (dims_of(m) != dims_of(dy))
        fail_value(std::string(op) + ": mask must have dy's shape " + shape_str(dy) + ". Received: mask.shape=" +
                   shape_str(m));
    // the constructor raises a failed conversion (MemoryError); ::ensure would return a null array
    const py::array_t<uint8_t, py::array::c_style | py::array::forcecast> mask(m);
    auto dx = new_float_array(dims_of(dy), op, "dx");
    const float* DY = dy.data();
    const uint8_t* MK = mask.data();
    float* DX = dx.mutable_data();
    const index_t count = (index_t)dy.size();
    {
        py::gil_scoped_release release;
        dropout_backward(DX, MK, DY, count, rate);
    }
    return dx;
}

}  // namespace

void register_norm(py::module_& m) {
    m.def("batchnorm_forward", &batchnorm_forward_b, py::arg("x"), py::arg("gamma"), py::arg("beta"),
          py::arg("moving_mean"), py::arg("moving_var"), py::kw_only(), py::arg("training"),
          py::arg("momentum") = 0.99, py::arg("epsilon") = 1e-3,
          "(y, mean, inv_std) of batch normalisation over all axes but the last; moving stats updated when training.");
    m.def("batchnorm_backward", &batchnorm_backward_b, py::arg("dy"), py::arg("x"), py::arg("gamma"), py::arg("mean"),
          py::arg("inv_std"), py::kw_only(), py::arg("training") = true, py::arg("need_dx") = true,
          py::arg("center") = true,
          "(dx, dgamma, dbeta) of batchnorm_forward; dgamma None without gamma, dbeta None unless center.");
    m.def("layernorm_forward", &layernorm_forward_b, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::kw_only(),
          py::arg("epsilon") = 1e-3, "(y, mean, inv_std) of layer normalisation over the last axis.");
    m.def("layernorm_backward", &layernorm_backward_b, py::arg("dy"), py::arg("x"), py::arg("gamma"), py::arg("mean"),
          py::arg("inv_std"), py::kw_only(), py::arg("need_dx") = true, py::arg("center") = true,
          "(dx, dgamma, dbeta) of layernorm_forward; dgamma None without gamma, dbeta None unless center.");
    m.def("groupnorm_forward", &groupnorm_forward_b, py::arg("x"), py::arg("gamma"), py::arg("beta"), py::kw_only(),
          py::arg("groups"), py::arg("epsilon") = 1e-3,
          "(y, mean, inv_std) of group normalisation, channels last; mean and inv_std (N, groups).");
    m.def("groupnorm_backward", &groupnorm_backward_b, py::arg("dy"), py::arg("x"), py::arg("gamma"), py::arg("mean"),
          py::arg("inv_std"), py::kw_only(), py::arg("groups"), py::arg("need_dx") = true, py::arg("center") = true,
          "(dx, dgamma, dbeta) of groupnorm_forward; dgamma None without gamma, dbeta None unless center.");
    m.def("dropout_forward", &dropout_forward_b, py::arg("x"), py::arg("rate"), py::arg("seed"),
          "(y, mask): inverted dropout; the uint8 mask depends only on (seed, shape).");
    m.def("dropout_backward", &dropout_backward_b, py::arg("dy"), py::arg("mask"), py::arg("rate"),
          "dx = dy * mask / (1 - rate).");
}

}  // namespace fastnn::bind
