// bind_optim.cpp — the fused optimizer updates. Each op takes equal-length lists of arrays: the
// parameters and the optimizer's state slots (float32, C-contiguous, writeable, each of its
// parameter's shape: updated in place) and the gradients (read-only, converted when needed).
// Every list entry is checked before any pointer is used; a message names the op, the list and
// the index ("adam_update: vs[2] must have shape (10,). Received: vs[2].shape=(5,)").

#include <algorithm>
#include <cmath>
#include <sstream>
#include <utility>

#include "checks.h"

namespace fastnn::bind {

namespace {

std::vector<int64_t> dims_of(const py::array& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

// The checked lists of one update call: pointers for the kernel plus the arrays that own them.
struct UpdateArgs {
    explicit UpdateArgs(const char* op_name) : op(op_name) {}
    const char* op;
    size_t count = 0;
    std::vector<std::vector<int64_t>> shapes;  // params[i].shape
    std::vector<index_t> sizes;
    std::vector<FloatArray> grad_arrays;       // keeps converted gradients alive
    // keeps the params and state arrays alive: a gradient's conversion (its __array__) runs user
    // code after they are checked, which may drop the caller's last reference to one of them
    std::vector<py::array_t<float>> inout_arrays;
    std::vector<const float*> grads;
    std::vector<std::vector<float*>> inout;    // params first, then each state list
    std::vector<NamedSpan> written, read;       // for the aliasing check

    float* const* slot(size_t k) const { return inout[k].data(); }
};

py::sequence as_list(py::handle obj, const char* op, const char* arg) {
    if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj))
        fail_type(std::string(op) + ": " + arg + " must be a list of arrays (one per parameter). Received: " +
                  py::str(py::type::of(obj)).cast<std::string>());
    return py::reinterpret_borrow<py::sequence>(obj);
}

std::string item(const char* arg, size_t i) { return std::string(arg) + "[" + std::to_string(i) + "]"; }

void add_params(UpdateArgs& a, py::handle params_obj) {
    py::sequence params = as_list(params_obj, a.op, "params");
    a.count = (size_t)params.size();
    a.inout.emplace_back();
    for (size_t i = 0; i < a.count; i++) {
        py::object p = params[i];  // (owned: a sequence subclass may build its items on the fly)
        const std::string name = item("params", i);
        std::vector<int64_t> dims;
        if (py::isinstance<py::array>(p)) dims = dims_of(py::reinterpret_borrow<py::array>(p));
        auto arr = float_inout(p, a.op, name.c_str(), dims);
        a.shapes.push_back(dims);
        a.sizes.push_back((index_t)arr.size());
        a.inout.back().push_back(arr.mutable_data());
        a.written.push_back({byte_span(arr), name});
        a.inout_arrays.push_back(std::move(arr));
    }
}

void require_length(const UpdateArgs& a, const py::sequence& s, const char* arg) {
    if ((size_t)s.size() != a.count)
        fail_value(std::string(a.op) + ": " + arg + " must have one entry per parameter (len(params)=" +
                   std::to_string(a.count) + "). Received: len(" + arg + ")=" + std::to_string(s.size()));
}

void add_grads(UpdateArgs& a, py::handle grads_obj) {
    py::sequence grads = as_list(grads_obj, a.op, "grads");
    require_length(a, grads, "grads");
    for (size_t i = 0; i < a.count; i++) {
        const std::string name = item("grads", i);
        FloatArray g = float_input(grads[i], a.op, name.c_str());
        if (dims_of(g) != a.shapes[i])
            fail_value(std::string(a.op) + ": " + name + " must have params[" + std::to_string(i) + "]'s shape " +
                       shape_str(a.shapes[i]) + ". Received: " + name + ".shape=" + shape_str(g));
        a.grads.push_back(g.data());
        a.read.push_back({byte_span(g), name});
        a.grad_arrays.push_back(std::move(g));
    }
}

// A state list written in place; `required` is false when the configuration does not use it
// (then None is accepted and nullptr pointers are passed).
void add_state(UpdateArgs& a, py::handle obj, const char* arg, bool required, const char* why) {
    a.inout.emplace_back();
    if (!required) return;
    if (obj.is_none())
        fail_value(std::string(a.op) + ": " + arg + " is required " + why + ". Received: " + arg + "=None");
    py::sequence s = as_list(obj, a.op, arg);
    require_length(a, s, arg);
    for (size_t i = 0; i < a.count; i++) {
        const std::string name = item(arg, i);
        auto arr = float_inout(s[i], a.op, name.c_str(), a.shapes[i]);
        a.inout.back().push_back(arr.mutable_data());
        a.written.push_back({byte_span(arr), name});
        a.inout_arrays.push_back(std::move(arr));
    }
}

// In-place lists sharing memory would race between threads and corrupt the updates; a gradient
// overlapping a written slot would be read after it changed.
void require_distinct(UpdateArgs& a) { require_disjoint(a.op, a.written, a.read); }

std::string num_str(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

float finite_arg(double v, const char* op, const char* arg) {
    if (!std::isfinite(v))
        fail_value(std::string(op) + ": " + arg + " must be a finite number. Received: " + arg + "=" + num_str(v));
    return (float)v;
}

// A hyper-parameter in [0, 1] (or [0, 1) when hi_open).
float unit_arg(double v, bool hi_open, const char* op, const char* arg) {
    if (!(v >= 0.0 && (hi_open ? v < 1.0 : v <= 1.0)))
        fail_value(std::string(op) + ": " + arg + " must be in [0, 1" + (hi_open ? ")" : "]") + ". Received: " + arg +
                   "=" + num_str(v));
    // the kernels compute in float32, where a value within 2**-25 of 1 is 1 (Adam's 1 - beta_1**step would be 0)
    if (hi_open && !((float)v < 1.0f))
        fail_value(std::string(op) + ": " + arg + " must be in [0, 1), also in float32 (it rounds to 1). Received: " +
                   arg + "=" + py::repr(py::float_(v)).cast<std::string>());
    return (float)v;
}

float epsilon_arg(double v, const char* op) {
    if (!(v >= 0.0) || !std::isfinite(v))
        fail_value(std::string(op) + ": epsilon must be a finite number >= 0. Received: epsilon=" + num_str(v));
    return (float)v;
}

void sgd_update_b(py::handle params, py::handle grads, py::handle velocities, py::handle learning_rate_obj,
                  py::handle momentum_obj, py::handle nesterov_obj) {
    UpdateArgs a("sgd_update");
    const double learning_rate = number_arg(learning_rate_obj, a.op, "learning_rate");
    const double momentum = number_arg(momentum_obj, a.op, "momentum");
    const bool nesterov = flag_arg(nesterov_obj, a.op, "nesterov");
    const float lr = finite_arg(learning_rate, a.op, "learning_rate");
    const float mom = unit_arg(momentum, false, a.op, "momentum");
    add_params(a, params);
    add_grads(a, grads);
    add_state(a, velocities, "velocities", mom > 0.0f, "when momentum > 0");
    require_distinct(a);
    py::gil_scoped_release release;
    sgd_update(a.slot(0), mom > 0.0f ? a.slot(1) : nullptr, a.grads.data(), a.sizes.data(), (index_t)a.count, lr,
               mom, nesterov);
}

void adagrad_update_b(py::handle params, py::handle grads, py::handle accumulators, py::handle learning_rate_obj,
                      py::handle epsilon_obj) {
    UpdateArgs a("adagrad_update");
    const double learning_rate = number_arg(learning_rate_obj, a.op, "learning_rate");
    const double epsilon = number_arg(epsilon_obj, a.op, "epsilon");
    const float lr = finite_arg(learning_rate, a.op, "learning_rate");
    const float eps = epsilon_arg(epsilon, a.op);
    add_params(a, params);
    add_grads(a, grads);
    add_state(a, accumulators, "accumulators", true, "");
    require_distinct(a);
    py::gil_scoped_release release;
    adagrad_update(a.slot(0), a.slot(1), a.grads.data(), a.sizes.data(), (index_t)a.count, lr, eps);
}

void rmsprop_update_b(py::handle params, py::handle grads, py::handle velocities, py::handle momentums,
                      py::handle average_grads, py::handle learning_rate_obj, py::handle rho_obj,
                      py::handle momentum_obj, py::handle epsilon_obj, py::handle centered_obj) {
    UpdateArgs a("rmsprop_update");
    const double learning_rate = number_arg(learning_rate_obj, a.op, "learning_rate");
    const double rho = number_arg(rho_obj, a.op, "rho");
    const double momentum = number_arg(momentum_obj, a.op, "momentum");
    const double epsilon = number_arg(epsilon_obj, a.op, "epsilon");
    const bool centered = flag_arg(centered_obj, a.op, "centered");
    const float lr = finite_arg(learning_rate, a.op, "learning_rate");
    const float r = unit_arg(rho, false, a.op, "rho");
    const float mom = unit_arg(momentum, false, a.op, "momentum");
    const float eps = epsilon_arg(epsilon, a.op);
    add_params(a, params);
    add_grads(a, grads);
    add_state(a, velocities, "velocities", true, "");
    add_state(a, momentums, "momentums", mom > 0.0f, "when momentum > 0");
    add_state(a, average_grads, "average_grads", centered, "when centered=True");
    require_distinct(a);
    py::gil_scoped_release release;
    rmsprop_update(a.slot(0), a.slot(1), mom > 0.0f ? a.slot(2) : nullptr, centered ? a.slot(3) : nullptr,
                   a.grads.data(), a.sizes.data(), (index_t)a.count, lr, r, mom, eps, centered);
}

// The 1-based step count of the bias-corrected updates: an int (a float step is a bug), >= 1.
int64_t step_arg(py::handle step_obj, const char* op) {
    const int64_t step = int_arg(step_obj, op, "step");
    if (step < 1)
        fail_value(std::string(op) + ": step must be >= 1 (Keras's iterations + 1). Received: step=" +
                   std::to_string(step));
    return step;
}

void adam_update_b(py::handle params, py::handle grads, py::handle ms, py::handle vs, py::handle learning_rate_obj,
                   py::handle step_obj, py::handle beta_1_obj, py::handle beta_2_obj, py::handle epsilon_obj,
                   py::handle amsgrad_obj, py::handle v_hats) {
    UpdateArgs a("adam_update");
    const double learning_rate = number_arg(learning_rate_obj, a.op, "learning_rate");
    // step: the 1-based step count (past 2**63 - 1 as good as infinite)
    const int64_t step = step_arg(step_obj, a.op);
    const double beta_1 = number_arg(beta_1_obj, a.op, "beta_1");
    const double beta_2 = number_arg(beta_2_obj, a.op, "beta_2");
    const double epsilon = number_arg(epsilon_obj, a.op, "epsilon");
    const bool amsgrad = flag_arg(amsgrad_obj, a.op, "amsgrad");
    const float lr = finite_arg(learning_rate, a.op, "learning_rate");
    const float b1 = unit_arg(beta_1, true, a.op, "beta_1");
    const float b2 = unit_arg(beta_2, false, a.op, "beta_2");
    const float eps = epsilon_arg(epsilon, a.op);
    add_params(a, params);
    add_grads(a, grads);
    add_state(a, ms, "ms", true, "");
    add_state(a, vs, "vs", true, "");
    add_state(a, v_hats, "v_hats", amsgrad, "when amsgrad=True");
    require_distinct(a);
    py::gil_scoped_release release;
    adam_update(a.slot(0), a.slot(1), a.slot(2), amsgrad ? a.slot(3) : nullptr, a.grads.data(), a.sizes.data(),
                (index_t)a.count, lr, step, b1, b2, eps, amsgrad);
}

void adadelta_update_b(py::handle params, py::handle grads, py::handle accumulated_grads,
                       py::handle accumulated_deltas, py::handle learning_rate_obj, py::handle rho_obj,
                       py::handle epsilon_obj) {
    UpdateArgs a("adadelta_update");
    const float lr = finite_arg(number_arg(learning_rate_obj, a.op, "learning_rate"), a.op, "learning_rate");
    const float rho = unit_arg(number_arg(rho_obj, a.op, "rho"), false, a.op, "rho");
    const float eps = epsilon_arg(number_arg(epsilon_obj, a.op, "epsilon"), a.op);
    add_params(a, params);
    add_grads(a, grads);
    add_state(a, accumulated_grads, "accumulated_grads", true, "");
    add_state(a, accumulated_deltas, "accumulated_deltas", true, "");
    require_distinct(a);
    py::gil_scoped_release release;
    adadelta_update(a.slot(0), a.slot(1), a.slot(2), a.grads.data(), a.sizes.data(), (index_t)a.count, lr, rho, eps);
}

void adamax_update_b(py::handle params, py::handle grads, py::handle ms, py::handle us, py::handle learning_rate_obj,
                     py::handle step_obj, py::handle beta_1_obj, py::handle beta_2_obj, py::handle epsilon_obj) {
    UpdateArgs a("adamax_update");
    const float lr = finite_arg(number_arg(learning_rate_obj, a.op, "learning_rate"), a.op, "learning_rate");
    const int64_t step = step_arg(step_obj, a.op);
    const float b1 = unit_arg(number_arg(beta_1_obj, a.op, "beta_1"), true, a.op, "beta_1");
    const float b2 = unit_arg(number_arg(beta_2_obj, a.op, "beta_2"), false, a.op, "beta_2");
    const float eps = epsilon_arg(number_arg(epsilon_obj, a.op, "epsilon"), a.op);
    add_params(a, params);
    add_grads(a, grads);
    add_state(a, ms, "ms", true, "");
    add_state(a, us, "us", true, "");
    require_distinct(a);
    py::gil_scoped_release release;
    adamax_update(a.slot(0), a.slot(1), a.slot(2), a.grads.data(), a.sizes.data(), (index_t)a.count, lr, step, b1,
                  b2, eps);
}

void nadam_update_b(py::handle params, py::handle grads, py::handle ms, py::handle vs, py::handle learning_rate_obj,
                    py::handle step_obj, py::handle u_product_obj, py::handle beta_1_obj, py::handle beta_2_obj,
                    py::handle epsilon_obj) {
    UpdateArgs a("nadam_update");
    const float lr = finite_arg(number_arg(learning_rate_obj, a.op, "learning_rate"), a.op, "learning_rate");
    const int64_t step = step_arg(step_obj, a.op);
    const double u_product = number_arg(u_product_obj, a.op, "u_product");
    // a product of factors beta_1·(1 - 0.5·0.96^s) in [0, 1)
    if (!(u_product >= 0.0 && u_product < 1.0))
        fail_value(std::string(a.op) + ": u_product must be in [0, 1) (a product of beta_1·(1 - 0.5·0.96^s)). "
                   "Received: u_product=" + num_str(u_product));
    const float b1 = unit_arg(number_arg(beta_1_obj, a.op, "beta_1"), true, a.op, "beta_1");
    const float b2 = unit_arg(number_arg(beta_2_obj, a.op, "beta_2"), true, a.op, "beta_2");
    const float eps = epsilon_arg(number_arg(epsilon_obj, a.op, "epsilon"), a.op);
    add_params(a, params);
    add_grads(a, grads);
    add_state(a, ms, "ms", true, "");
    add_state(a, vs, "vs", true, "");
    require_distinct(a);
    py::gil_scoped_release release;
    nadam_update(a.slot(0), a.slot(1), a.slot(2), a.grads.data(), a.sizes.data(), (index_t)a.count, lr, step,
                 u_product, b1, b2, eps);
}

void lion_update_b(py::handle params, py::handle grads, py::handle ms, py::handle learning_rate_obj,
                   py::handle beta_1_obj, py::handle beta_2_obj) {
    UpdateArgs a("lion_update");
    const float lr = finite_arg(number_arg(learning_rate_obj, a.op, "learning_rate"), a.op, "learning_rate");
    const float b1 = unit_arg(number_arg(beta_1_obj, a.op, "beta_1"), false, a.op, "beta_1");
    const float b2 = unit_arg(number_arg(beta_2_obj, a.op, "beta_2"), false, a.op, "beta_2");
    add_params(a, params);
    add_grads(a, grads);
    add_state(a, ms, "ms", true, "");
    require_distinct(a);
    py::gil_scoped_release release;
    lion_update(a.slot(0), a.slot(1), a.grads.data(), a.sizes.data(), (index_t)a.count, lr, b1, b2);
}

}  // namespace

void register_optim(py::module_& m) {
    m.def("sgd_update", &sgd_update_b, py::arg("params"), py::arg("grads"), py::arg("velocities") = py::none(),
          py::kw_only(), py::arg("learning_rate"), py::arg("momentum") = 0.0, py::arg("nesterov") = false,
          "Keras SGD step over lists of arrays; params and velocities updated in place.");
    m.def("adagrad_update", &adagrad_update_b, py::arg("params"), py::arg("grads"), py::arg("accumulators"),
          py::kw_only(), py::arg("learning_rate"), py::arg("epsilon") = 1e-7,
          "Keras Adagrad step over lists of arrays; params and accumulators updated in place.");
    m.def("rmsprop_update", &rmsprop_update_b, py::arg("params"), py::arg("grads"), py::arg("velocities"),
          py::arg("momentums") = py::none(), py::arg("average_grads") = py::none(), py::kw_only(),
          py::arg("learning_rate"), py::arg("rho") = 0.9, py::arg("momentum") = 0.0, py::arg("epsilon") = 1e-7,
          py::arg("centered") = false, "Keras RMSprop step over lists of arrays; params and state updated in place.");
    m.def("adam_update", &adam_update_b, py::arg("params"), py::arg("grads"), py::arg("ms"), py::arg("vs"),
          py::kw_only(), py::arg("learning_rate"), py::arg("step"), py::arg("beta_1") = 0.9,
          py::arg("beta_2") = 0.999, py::arg("epsilon") = 1e-7, py::arg("amsgrad") = false,
          py::arg("v_hats") = py::none(),
          "Keras Adam step (step = 1-based count) over lists of arrays; params and state updated in place.");
    m.def("adadelta_update", &adadelta_update_b, py::arg("params"), py::arg("grads"), py::arg("accumulated_grads"),
          py::arg("accumulated_deltas"), py::kw_only(), py::arg("learning_rate"), py::arg("rho") = 0.95,
          py::arg("epsilon") = 1e-7, "Keras Adadelta step over lists of arrays; params and state updated in place.");
    m.def("adamax_update", &adamax_update_b, py::arg("params"), py::arg("grads"), py::arg("ms"), py::arg("us"),
          py::kw_only(), py::arg("learning_rate"), py::arg("step"), py::arg("beta_1") = 0.9,
          py::arg("beta_2") = 0.999, py::arg("epsilon") = 1e-7,
          "Keras Adamax step (step = 1-based count) over lists of arrays; params and state updated in place.");
    m.def("nadam_update", &nadam_update_b, py::arg("params"), py::arg("grads"), py::arg("ms"), py::arg("vs"),
          py::kw_only(), py::arg("learning_rate"), py::arg("step"), py::arg("u_product"), py::arg("beta_1") = 0.9,
          py::arg("beta_2") = 0.999, py::arg("epsilon") = 1e-7,
          "Keras Nadam step (step = 1-based count, u_product the momentum-cache product) over lists of arrays; "
          "params and state updated in place.");
    m.def("lion_update", &lion_update_b, py::arg("params"), py::arg("grads"), py::arg("ms"), py::kw_only(),
          py::arg("learning_rate"), py::arg("beta_1") = 0.9, py::arg("beta_2") = 0.99,
          "Keras Lion step over lists of arrays; params and state updated in place.");
}

}  // namespace fastnn::bind
