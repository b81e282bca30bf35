// checks.cpp — the argument checks of the binding boundary (checks.h).

#include "checks.h"

#include <pybind11/gil_safe_call_once.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace fastnn::bind {

std::string shape_str(const std::vector<int64_t>& dims) {
    std::ostringstream s;
    s << "(";
    for (size_t i = 0; i < dims.size(); i++) s << (i ? ", " : "") << dims[i];
    if (dims.size() == 1) s << ",";
    s << ")";
    return s.str();
}

std::string shape_str(const py::array& a) {
    std::vector<int64_t> dims(a.shape(), a.shape() + a.ndim());
    return shape_str(dims);
}

void fail_value(const std::string& msg) { throw py::value_error(msg); }
void fail_type(const std::string& msg) { throw py::type_error(msg); }

static std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

void fail_not_array(py::handle obj, const std::string& expected) {
    std::string why;
    try {
        py::module_::import("numpy").attr("asarray")(obj);
    } catch (py::error_already_set& e) {
        if (e.matches(PyExc_MemoryError)) throw;
        why = " (" + py::str(e.type().attr("__name__")).cast<std::string>() + ": " +
              py::str(e.value()).cast<std::string>() + ")";
    }
    fail_type(expected + ". Received: " + py::str(py::type::of(obj)).cast<std::string>() + why);
}

FloatArray float_input(py::handle obj, const char* op, const char* arg) {
    if (obj.is_none()) fail_type(std::string(op) + ": " + arg + " must be an array. Received: None");
    py::array a = py::array::ensure(obj);
    if (!a) fail_not_array(obj, std::string(op) + ": " + arg + " must be array-like");
    const char kind = a.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
        fail_type(std::string(op) + ": " + arg + " must hold real numbers (float32 preferred). Received: " +
                  arg + ".dtype=" + dtype_str(a));
    // FloatArray(object), not FloatArray::ensure: a conversion that fails (a MemoryError copying a
    // huge broadcast view) must raise, where ensure clears the error and returns a null array
    return FloatArray(a);
}

py::array_t<float> float_inout(py::handle obj, const char* op, const char* arg,
                               const std::vector<int64_t>& dims) {
    if (!py::isinstance<py::array>(obj))
        fail_type(std::string(op) + ": " + arg + " is written in place and must be a float32 ndarray. Received: " +
                  py::str(py::type::of(obj)).cast<std::string>());
    py::array a = py::reinterpret_borrow<py::array>(obj);
    // (equal, not the same object: a float32 dtype carrying metadata is one; byte-swapped '>f4' is not)
    if (!a.dtype().equal(py::dtype::of<float>()))
        fail_type(std::string(op) + ": " + arg + " is written in place and must be float32. Received: " + arg +
                  ".dtype=" + dtype_str(a));
    if (!(a.flags() & py::array::c_style))
        fail_value(std::string(op) + ": " + arg + " is written in place and must be C-contiguous. Received: a " +
                   "non-contiguous or Fortran-order view of shape " + shape_str(a) +
                   " (pass np.ascontiguousarray(...) and use the returned array)");
    if (!a.writeable()) fail_value(std::string(op) + ": " + arg + " is written in place but is read-only");
    std::vector<int64_t> have(a.shape(), a.shape() + a.ndim());
    if (have != dims)
        fail_value(std::string(op) + ": " + arg + " must have shape " + shape_str(dims) + ". Received: " + arg +
                   ".shape=" + shape_str(a));
    auto arr = py::array_t<float>::ensure(a);
    if (!arr || arr.data() != a.data())  // (a converted copy would take the update and drop it)
        fail_type(std::string(op) + ": " + arg + " is written in place and must be a float32 ndarray. Received: " +
                  arg + ".dtype=" + dtype_str(a) + ", which converts only to a copy");
    return arr;
}

int64_t saturated_index(py::handle item) {
    py::object v = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
    if (!v) throw py::error_already_set();
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(v.ptr(), &overflow);
    if (overflow) return overflow > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    return value;
}

ByteSpan byte_span(const py::array& a) {
    if (a.size() == 0) return {nullptr, nullptr};
    const char* base = static_cast<const char*>(a.data());
    ptrdiff_t low = 0, high = 0;  // strides of either sign
    for (py::ssize_t d = 0; d < a.ndim(); d++) {
        const ptrdiff_t extent = (a.shape(d) - 1) * a.strides(d);
        (extent < 0 ? low : high) += extent;
    }
    return {base + low, base + high + a.itemsize()};
}

bool shares_memory(const py::array& x, const py::array& y) {
    const ByteSpan a = byte_span(x), b = byte_span(y);
    return a.lo && b.lo && a.lo < b.hi && b.lo < a.hi;
}

void require_disjoint(const char* op, const std::vector<NamedSpan>& written, const std::vector<NamedSpan>& read) {
    // sorted by start, each written span against the furthest end before it: O(n log n)
    std::vector<std::pair<NamedSpan, bool>> all;  // (span, is written)
    for (const NamedSpan& w : written)
        if (w.span.lo) all.emplace_back(w, true);
    for (const NamedSpan& r : read)
        if (r.span.lo) all.emplace_back(r, false);
    std::stable_sort(all.begin(), all.end(),  // stable: ties name the written one first, as the reference does
                     [](const auto& a, const auto& b) { return a.first.span.lo < b.first.span.lo; });
    const std::pair<NamedSpan, bool>* reach_w = nullptr;  // the written span reaching furthest so far
    const std::pair<NamedSpan, bool>* reach_any = nullptr;  // any span reaching furthest so far
    for (const auto& cur : all) {
        // a written span overlaps anything before it; a read span overlaps only written ones
        const auto* other = cur.second ? reach_any : reach_w;
        if (other && cur.first.span.lo < other->first.span.hi)
            fail_value(std::string(op) + ": " + other->first.name + " and " + cur.first.name +
                       " share memory, and " + (other->second && cur.second ? "both are" : "one is") +
                       " written in place: every parameter and state needs its own buffer");
        if (cur.second && (!reach_w || cur.first.span.hi > reach_w->first.span.hi)) reach_w = &cur;
        if (!reach_any || cur.first.span.hi > reach_any->first.span.hi) reach_any = &cur;
    }
}

void require_ndim(const py::array& a, int ndim, const char* op, const char* arg, const char* layout) {
    if (a.ndim() != ndim)
        fail_value(std::string(op) + ": " + arg + " must be " + std::to_string(ndim) + "-D " + layout +
                   ". Received: " + arg + ".shape=" + shape_str(a));
}

void require_dim(const py::array& a, int axis, int64_t value, const char* op, const char* arg,
                 const char* layout, const char* what) {
    if (a.shape(axis) != value)
        fail_value(std::string(op) + ": " + arg + " must be " + layout + " with " + what + "=" +
                   std::to_string(value) + ". Received: " + arg + ".shape=" + shape_str(a));
}

int64_t checked_numel(const std::vector<int64_t>& dims, const char* op, const char* arg) {
    // Sizes are limited so that the byte count of a float array fits a signed 64-bit offset.
    const int64_t limit = std::numeric_limits<int64_t>::max() / (int64_t)sizeof(float);
    int64_t n = 1;
    for (int64_t d : dims) {
        if (d < 0) fail_value(std::string(op) + ": " + arg + " would have a negative dimension " + shape_str(dims));
        if (d != 0 && n > limit / d)
            fail_value(std::string(op) + ": " + arg + " of shape " + shape_str(dims) +
                       " is too large: its size overflows a 64-bit byte count");
        n *= d;
    }
    for (int64_t d : dims)
        if (d == 0) return 0;
    return n;
}

OptionalArray bias_input(py::handle obj, int64_t OC, const char* op, const char* oc_name) {
    OptionalArray b;
    if (obj.is_none()) return b;
    b.arr = float_input(obj, op, "b");
    const std::string layout = std::string("(") + oc_name + ",)";
    require_ndim(b.arr, 1, op, "b", layout.c_str());
    require_dim(b.arr, 0, OC, op, "b", layout.c_str(), oc_name);
    b.ptr = b.arr.data();
    return b;
}

LayerGrads layer_grads(const std::vector<int64_t>& x_dims, const std::vector<int64_t>& w_dims, int64_t OC,
                       bool need_dx, bool use_bias, bool zeroed, const char* op, bool need_dw) {
    LayerGrads g;
    if (need_dw) {
        auto dw = new_float_array(w_dims, op, "dw");
        g.dw_ptr = dw.mutable_data();
        if (zeroed) std::fill(g.dw_ptr, g.dw_ptr + dw.size(), 0.0f);
        g.dw_obj = dw;
    }
    if (need_dx) {
        auto dx = new_float_array(x_dims, op, "dx");
        g.dx_ptr = dx.mutable_data();
        g.dx_obj = dx;
    }
    if (use_bias) {
        auto db = new_float_array({OC}, op, "db");
        g.db_ptr = db.mutable_data();
        if (zeroed) std::fill(g.db_ptr, g.db_ptr + OC, 0.0f);
        g.db_obj = db;
    }
    return g;
}

namespace {
const std::pair<const char*, Act> kActivations[] = {
    {"linear", Act::Linear},        {"relu", Act::Relu},         {"leaky_relu", Act::LeakyRelu},
    {"elu", Act::Elu},              {"selu", Act::Selu},         {"softplus", Act::Softplus},
    {"sigmoid", Act::Sigmoid},      {"tanh", Act::Tanh},         {"softmax", Act::Softmax},
    {"hard_sigmoid", Act::HardSigmoid}, {"relu6", Act::Relu6},     {"softsign", Act::Softsign},
    {"exponential", Act::Exponential},  {"celu", Act::Celu},         {"hard_tanh", Act::HardTanh},
    {"gelu", Act::Gelu},                {"silu", Act::Silu},         {"mish", Act::Mish},
    {"hard_silu", Act::HardSilu},
};
}  // namespace

// TypeError "<op>: <arg> must be <expected>. Received: <arg>=<repr>", the message of every argument-type check.
[[noreturn]] static void fail_arg_type(py::handle obj, const char* op, const char* arg, const char* expected) {
    fail_type(std::string(op) + ": " + arg + " must be " + expected + ". Received: " + arg + "=" +
              py::repr(obj).cast<std::string>());
}

std::string name_arg(py::handle obj, const char* op, const char* arg) {
    if (!py::isinstance<py::str>(obj)) fail_arg_type(obj, op, arg, "a str");
    return obj.cast<std::string>();
}

// NumPy types, looked up once and never released: pybind11's GIL-safe call-once, since a plain static
// py::object would be destroyed after the interpreter has finalised, and its first initialisation
// could deadlock with another thread waiting for it while holding the GIL.
static const py::object& numpy_bool_type() {
    PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> storage;
    return storage.call_once_and_store_result([] { return py::module_::import("numpy").attr("bool_"); })
        .get_stored();
}

// (numpy.integer, numpy.floating): the NumPy scalars a number argument takes.
static const py::object& numpy_real_types() {
    PYBIND11_CONSTINIT static py::gil_safe_call_once_and_store<py::object> storage;
    return storage
        .call_once_and_store_result([] {
            const py::module_ numpy = py::module_::import("numpy");
            return py::object(py::make_tuple(numpy.attr("integer"), numpy.attr("floating")));
        })
        .get_stored();
}

// An integer scalar: a Python int or NumPy integer (anything with __index__), never a bool or
// numpy.bool_ (refused by type, not by its lack of __index__, which NumPy 1.x still had) and never
// an array, whose __index__ would take a 0-d integer array.
bool is_int_scalar(py::handle obj) {
    return !PyBool_Check(obj.ptr()) && !py::isinstance(obj, numpy_bool_type()) && !py::isinstance<py::array>(obj) &&
           PyIndex_Check(obj.ptr());
}

bool flag_arg(py::handle obj, const char* op, const char* arg) {
    if (PyBool_Check(obj.ptr()) || py::isinstance(obj, numpy_bool_type())) return PyObject_IsTrue(obj.ptr()) == 1;
    if (is_int_scalar(obj)) {  // an integer equal to 0 or 1
        const int64_t value = saturated_index(obj);
        if (value == 0 || value == 1) return value == 1;
    }
    fail_arg_type(obj, op, arg, "a bool (True or False)");
}

double number_arg(py::handle obj, const char* op, const char* arg) {
    // bool is an int to Python, never a number here; np.float64 is a float, other NumPy scalars are
    // recognised by type, so arrays (even 0-d) are refused like lists
    const bool real = !PyBool_Check(obj.ptr()) && (PyFloat_Check(obj.ptr()) || PyLong_Check(obj.ptr()) ||
                                                   py::isinstance(obj, numpy_real_types()));
    if (!real) fail_arg_type(obj, op, arg, "a number (int or float)");
    const double v = PyFloat_AsDouble(obj.ptr());
    if (v == -1.0 && PyErr_Occurred()) {  // an int past the largest double
        PyErr_Clear();
        fail_value(std::string(op) + ": " + arg + " is too large for a float. Received: " + arg + "=" +
                   py::repr(obj).cast<std::string>());
    }
    return v;
}

py::int_ int_object(py::handle obj, const char* op, const char* arg) {
    if (!is_int_scalar(obj)) fail_arg_type(obj, op, arg, "an int");
    PyObject* index = PyNumber_Index(obj.ptr());
    if (!index) throw py::error_already_set();  // an __index__ that raised
    return py::reinterpret_steal<py::int_>(index);
}

int64_t int_arg(py::handle obj, const char* op, const char* arg) { return saturated_index(int_object(obj, op, arg)); }

Act parse_activation(py::handle obj, const char* op, const char* arg, bool input_derivative) {
    const std::string name = name_arg(obj, op, arg);
    for (const auto& [key, act] : kActivations)
        if (name == key) {
            if (derivative_needs_input(act) && !input_derivative)
                fail_value(std::string(op) + ": " + arg + "='" + key + "' is not fused into this kernel: its "
                           "derivative needs its input. Run the kernel with 'linear', then activation_forward, and "
                           "differentiate with activation_backward_input");
            return act;
        }
    std::string known;
    for (const auto& [key, act] : kActivations) known += std::string(known.empty() ? "" : ", ") + "'" + key + "'";
    fail_value(std::string(op) + ": unknown " + arg + ". Expected one of " + known + ". Received: " + arg + "=" +
               py::repr(obj).cast<std::string>());
}

const char* activation_name(Act act) {
    for (const auto& [key, a] : kActivations)
        if (a == act) return key;
    return "?";
}

float activation_alpha(Act act, const py::object& alpha, const char* op) {
    // checked whatever the activation, as the NumPy reference does: a typo'd alpha is never ignored
    const double given = alpha.is_none() ? 0.0 : number_arg(alpha, op, "alpha");
    // a finite double past float32's range would turn into inf in the kernel
    auto finite32 = [](double v) { return std::isfinite(v) && std::fabs(v) <= std::numeric_limits<float>::max(); };
    if (act == Act::LeakyRelu) {
        const double v = alpha.is_none() ? 0.2 : given;
        if (!(v >= 0.0) || !finite32(v))
            fail_value(std::string(op) + ": leaky_relu needs a finite float32 negative_slope >= 0. Received: alpha=" +
                       py::repr(py::float_(v)).cast<std::string>());
        return (float)v;
    }
    if (act == Act::Elu || act == Act::Celu) {
        const double v = alpha.is_none() ? 1.0 : given;
        if (!(v > 0.0) || !finite32(v))
            fail_value(std::string(op) + ": " + activation_name(act) + " needs a finite float32 alpha > 0. Received: "
                       "alpha=" + py::repr(py::float_(v)).cast<std::string>());
        return (float)v;
    }
    if (act == Act::Gelu) {  // alpha: Keras's `approximate`, 0 (erf) or 1 (tanh)
        if (!(given == 0.0 || given == 1.0))
            fail_value(std::string(op) + ": gelu takes alpha 0 (exact) or 1 (the tanh approximation). Received: "
                       "alpha=" + py::repr(alpha).cast<std::string>());
        return (float)given;
    }
    return 0.0f;
}

Loss parse_loss(py::handle obj, const char* op) {
    const std::string name = name_arg(obj, op, "loss");
    static const std::pair<const char*, Loss> table[] = {
        {"mean_squared_error", Loss::MeanSquaredError},
        {"mse", Loss::MeanSquaredError},
        {"mean_absolute_error", Loss::MeanAbsoluteError},
        {"mae", Loss::MeanAbsoluteError},
        {"binary_crossentropy", Loss::BinaryCrossentropy},
        {"categorical_crossentropy", Loss::CategoricalCrossentropy},
        {"sparse_categorical_crossentropy", Loss::SparseCategoricalCrossentropy},
    };
    for (const auto& [key, loss] : table)
        if (name == key) return loss;
    std::string known;
    for (const auto& [key, loss] : table) known += std::string(known.empty() ? "" : ", ") + "'" + key + "'";
    fail_value(std::string(op) + ": unknown loss. Expected one of " + known + ". Received: loss=" + py::repr(obj).cast<std::string>());
}

std::vector<int64_t> class_labels(py::handle obj, int64_t N, int64_t C, const char* op, const char* arg) {
    py::array a = py::array::ensure(obj);
    if (!a) fail_not_array(obj, std::string(op) + ": " + arg + " must be an array of class indices");
    const char kind = a.dtype().kind();
    if (kind != 'i' && kind != 'u' && kind != 'f')
        fail_type(std::string(op) + ": " + arg + " must hold integer class indices. Received: " + arg +
                  ".dtype=" + dtype_str(a));
    const bool column = a.ndim() == 2 && a.shape(1) == 1;
    if (!(a.ndim() == 1 || column) || a.shape(0) != N)
        fail_value(std::string(op) + ": " + arg + " must be (N,) or (N, 1) integer labels with N=" + std::to_string(N) +
                   ". Received: " + arg + ".shape=" + shape_str(a));
    // the constructor raises a failed conversion (MemoryError); ::ensure would return a null array
    const py::array_t<double, py::array::c_style | py::array::forcecast> as_double(a);
    const double* v = as_double.data();
    std::vector<int64_t> labels((size_t)N);
    for (int64_t i = 0; i < N; i++) {
        const double x = v[i];
        if (!(x >= 0.0 && x < (double)C) || x != std::floor(x)) {
            std::ostringstream s;
            s << op << ": " << arg << " must be integer class indices in [0, " << C << "). Received: " << arg << "["
              << i << "]=" << x;
            fail_value(s.str());
        }
        labels[(size_t)i] = (int64_t)x;
    }
    return labels;
}

}  // namespace fastnn::bind
