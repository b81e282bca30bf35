// checks.h — the binding boundary's argument checks. Every array is checked for dtype, ndim,
// each dimension, contiguity and size overflow BEFORE any pointer is touched; a failure raises
// ValueError/TypeError naming the op, the argument, what was expected and what was received:
//   "dense_forward: w must be (C, OC) with C=784. Received: w.shape=(28, 10)"
// Read-only inputs are converted to float32 C-contiguous like NumPy would (a copy only when
// needed); arrays a kernel writes in place must already be float32, C-contiguous and writeable,
// since writing into a converted copy would silently lose the update.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "fastnn.h"

namespace fastnn::bind {

namespace py = pybind11;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::string shape_str(const py::array& a);
std::string shape_str(const std::vector<int64_t>& dims);

[[noreturn]] void fail_value(const std::string& msg);
[[noreturn]] void fail_type(const std::string& msg);

// TypeError "<expected>. Received: <type of obj> (<NumPy's reason>)" for an object py::array::ensure could not
// convert (a ragged list, an __array__ that raises: ensure drops NumPy's error, so it is converted again
// for the reason); a MemoryError propagates as it is. `expected` names the op and the argument.
[[noreturn]] void fail_not_array(py::handle obj, const std::string& expected);
// A read-only float input: numeric dtypes (bool, int, float) are converted, others rejected.
FloatArray float_input(py::handle obj, const char* op, const char* arg);
// An optional read-only float array: ptr is nullptr for None; arr keeps the data alive.
struct OptionalArray {
    FloatArray arr;
    const float* ptr = nullptr;
};
// A layer's bias: None, or (OC,) float (converted like float_input).
OptionalArray bias_input(py::handle obj, int64_t OC, const char* op, const char* oc_name = "OC");
// An array written in place: must be float32, C-contiguous, writeable, of exactly `dims`.
py::array_t<float> float_inout(py::handle obj, const char* op, const char* arg,
                               const std::vector<int64_t>& dims);

// An integer-like object (int, NumPy integer: anything with __index__) as int64, clamped to
// [INT64_MIN, INT64_MAX] (2**64 reads as INT64_MAX), so the caller's range check reports it in
// its own words instead of a cast error naming no op.
int64_t saturated_index(py::handle item);

// The bytes an array's elements occupy, [lo, hi) (null for an empty array), strides of any sign.
struct ByteSpan {
    const char* lo;
    const char* hi;
};
ByteSpan byte_span(const py::array& a);
// Whether the memory spans of two arrays overlap (a conservative test, like np.may_share_memory).
bool shares_memory(const py::array& x, const py::array& y);
// ValueError naming both arguments when two `written` arrays overlap, or a `read` one overlaps a
// written one: an in-place kernel would read what it already overwrote, or two threads write one
// element (views of one buffer count, not just the same array).
struct NamedSpan {
    ByteSpan span;
    std::string name;
};
void require_disjoint(const char* op, const std::vector<NamedSpan>& written, const std::vector<NamedSpan>& read = {});

void require_ndim(const py::array& a, int ndim, const char* op, const char* arg, const char* layout);
// Require a.shape[axis] == value; `what` names the dimension, e.g. "C" or "the inner dimension".
void require_dim(const py::array& a, int axis, int64_t value, const char* op, const char* arg,
                 const char* layout, const char* what);

// Product of dims as an element count, raising ValueError if it (in bytes) would overflow.
int64_t checked_numel(const std::vector<int64_t>& dims, const char* op, const char* arg);

// The arrays an op returns (outputs.cpp): uninitialised, C-contiguous; big ones reuse the blocks of
// freed outputs of the same size. output_cache_usage(): (blocks, bytes) held for reuse;
// clear_output_cache() frees them.
using IndexArray = py::array_t<int32_t, py::array::c_style | py::array::forcecast>;
py::array_t<float> new_float_array(const std::vector<int64_t>& dims, const char* op, const char* arg);
IndexArray new_index_array(const std::vector<int64_t>& dims, const char* op, const char* arg);
std::pair<size_t, size_t> output_cache_usage();
void clear_output_cache();

// The gradients a weighted layer's backward returns: dw, dx only when need_dx, db only when
// use_bias; dw and db zeroed when `zeroed` (for kernels that accumulate into them), else left
// for the kernel to overwrite. as_tuple() gives Python's (dx, dw, db) with None for the ones not
// asked for.
struct LayerGrads {
    py::object dx_obj = py::none(), dw_obj = py::none(), db_obj = py::none();
    float *dw_ptr = nullptr, *dx_ptr = nullptr, *db_ptr = nullptr;
    py::tuple as_tuple() const { return py::make_tuple(dx_obj, dw_obj, db_obj); }
};
// need_dw false (a frozen layer): no dw (None); the kernels skip its product.
LayerGrads layer_grads(const std::vector<int64_t>& x_dims, const std::vector<int64_t>& w_dims, int64_t OC,
                       bool need_dx, bool use_bias, bool zeroed, const char* op, bool need_dw = true);

// A name argument (an activation, loss or padding) as text; TypeError unless it is a str (the
// reason names are taken as py::handle: pybind11's std::string would also accept bytes).
std::string name_arg(py::handle obj, const char* op, const char* arg);
// A flag argument (use_bias, need_dx, go_backwards, ...) as a C++ bool: True/False, numpy.bool_, or an
// integer (Python or NumPy) equal to 0 or 1; TypeError otherwise, as the NumPy backend's check_flag
// (the reason flags are taken as py::handle: pybind11's bool would take None, 2.5 or 7 silently).
bool flag_arg(py::handle obj, const char* op, const char* arg);
// A real-number argument (gemm's alpha, a learning rate, momentum, epsilon, dropout's rate, ...) as a
// double: a Python int or float, or a NumPy integer or floating scalar. Anything else (bool, numpy.bool_,
// str, None, complex, a list, an array, even 0-d) is a TypeError
// "<op>: <arg> must be a number (int or float). Received: <arg>=<repr>", and an int too large for a
// double (10**400) a ValueError, as the NumPy backend's check_number. The reason numbers are taken as
// py::handle: pybind11's double refuses a str or None only with a generic error naming no argument,
// and takes True, 0-d arrays or Decimal. NaN and inf pass; the op's own range check decides.
double number_arg(py::handle obj, const char* op, const char* arg);
// An integer argument (dropout's seed, Adam's step): a Python int or NumPy integer scalar (anything with
// __index__ but a bool, numpy.bool_ or an array, even 0-d); TypeError
// "<op>: <arg> must be an int. Received: <arg>=<repr>" otherwise, as the NumPy backend's check_int.
// int_arg gives the value clamped to int64 like saturated_index (the caller's range check reports it);
// int_object the exact Python int, for ranges past int64 such as a uint64 seed.
int64_t int_arg(py::handle obj, const char* op, const char* arg);
// Whether obj is such an integer scalar (a Python int or NumPy integer; never a bool, numpy.bool_ or an
// array).
bool is_int_scalar(py::handle obj);
py::int_ int_object(py::handle obj, const char* op, const char* arg);
// The activation named by obj (argument `arg` of op); ValueError for an unknown name.
// One whose derivative needs its input (gelu, silu, mish, hard_silu) only with input_derivative: the
// fused kernels differentiate from the output, and refuse them.
Act parse_activation(py::handle obj, const char* op, const char* arg = "activation", bool input_derivative = false);
// The name parse_activation reads as `act`.
const char* activation_name(Act act);
// The activation's hyper-parameter: negative_slope for leaky_relu (default 0.2), alpha for elu
// (default 1.0); None takes the default, anything else must pass number_arg. Checked (>= 0, > 0) since
// backward relies on its sign.
float activation_alpha(Act act, const py::object& alpha, const char* op);
Loss parse_loss(py::handle obj, const char* op);

// Integer class labels for a sparse loss: shape (N,) or (N, 1), integer dtype or integral floats,
// each in [0, C).
std::vector<int64_t> class_labels(py::handle obj, int64_t N, int64_t C, const char* op, const char* arg);

}  // namespace fastnn::bind
