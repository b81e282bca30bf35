// bind_conv.cpp — convolution and pooling, 1-D/2-D/3-D (conv1d_*, conv2d_*, conv3d_*,
// conv*d_transpose_*, maxpool*d_*, avgpool*d_*, global_*pool_*). Each op is registered once per
// spatial rank from one function; the geometry (Keras's output sizes and 'same' padding) is
// computed and checked here, so the kernels only ever see a valid ConvShape / PoolShape.

#include <cstring>
#include <algorithm>
#include <cctype>
#include <climits>
#include <limits>

#include "checks.h"

namespace fastnn::bind {

namespace {

std::vector<int64_t> dims_of(const py::array& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

// The layouts of each spatial rank, for messages.
struct Layouts {
    const char *x, *w, *y, *axes;
};
Layouts layouts(int nd) {
    if (nd == 1) return {"(N, L, C)", "(K, C, OC)", "(N, OL, OC)", "(L,)"};
    if (nd == 2) return {"(N, H, W, C)", "(KH, KW, C, OC)", "(N, OH, OW, OC)", "(H, W)"};
    return {"(N, D, H, W, C)", "(KD, KH, KW, C, OC)", "(N, OD, OH, OW, OC)", "(D, H, W)"};
}

std::string ints_str(const std::vector<int64_t>& v) { return shape_str(v); }

// An integer-like Python object (int, NumPy integer, 0-d integer array; never bool, numpy.bool_ or
// float); read with saturated_index.
bool is_integer(py::handle item) {
    if (py::isinstance<py::array>(item)) {
        const py::array a = py::reinterpret_borrow<py::array>(item);
        return a.ndim() == 0 && (a.dtype().kind() == 'i' || a.dtype().kind() == 'u');
    }
    return is_int_scalar(item);
}

// A sequence of geometry ints, as the NumPy reference takes them: a list, a tuple or a NumPy array of
// at least one dimension. Not any Python sequence: bytes would read b"\x02" as 2, and a 0-d array
// has no length.
bool is_int_sequence(py::handle obj) {
    return py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj) ||
           (py::isinstance<py::array>(obj) && py::reinterpret_borrow<py::array>(obj).ndim() > 0);
}

// An int or a sequence of nd ints (Keras accepts both), each >= least (1, or 0 for output_padding).
constexpr int64_t kMaxGeometry = (int64_t(1) << 31) - 1;

std::vector<int64_t> geometry_ints(py::handle obj, int nd, const char* op, const char* arg, int64_t least) {
    std::vector<int64_t> v;
    auto as_int = [&](py::handle item) -> int64_t {
        if (!is_integer(item))
            fail_type(std::string(op) + ": " + arg + " must be an int or a tuple of " + std::to_string(nd) +
                      " ints. Received: " + arg + "=" + py::repr(obj).cast<std::string>());
        return saturated_index(item);
    };
    if (is_integer(obj)) {
        v.assign((size_t)nd, as_int(obj));
    } else if (is_int_sequence(obj)) {
        py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
        if ((int)seq.size() != nd)
            fail_value(std::string(op) + ": " + arg + " must be an int or a tuple of " + std::to_string(nd) +
                       " ints. Received: " + arg + "=" + py::repr(obj).cast<std::string>());
        for (auto item : seq) v.push_back(as_int(item));
    } else {
        fail_type(std::string(op) + ": " + arg + " must be an int or a tuple of " + std::to_string(nd) +
                  " ints. Received: " + arg + "=" + py::repr(obj).cast<std::string>());
    }
    // Below 2**31: then every geometry product (dilation × kernel extent, output index × stride)
    // fits int64 with room to spare; larger values describe no real layer.
    for (int64_t d : v)
        if (d < least || d > kMaxGeometry)
            fail_value(std::string(op) + ": " + arg + " must be " + (least > 0 ? "positive" : "non-negative") +
                       " and below 2**31. Received: " + arg + "=" + py::repr(obj).cast<std::string>());
    return v;
}

std::vector<int64_t> positive_ints(py::handle obj, int nd, const char* op, const char* arg) {
    return geometry_ints(obj, nd, op, arg, 1);
}

enum class Padding { Valid, Same, Causal };

Padding parse_padding(py::handle obj, int nd, bool causal_ok, const char* op, const char* arg = "padding") {
    std::string p = name_arg(obj, op, arg);
    std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return (char)std::tolower(c); });
    if (p == "valid") return Padding::Valid;
    if (p == "same") return Padding::Same;
    if (p == "causal" && causal_ok && nd == 1) return Padding::Causal;
    fail_value(std::string(op) + ": " + arg + " must be " +
               (causal_ok && nd == 1 ? "'valid', 'same' or 'causal'" : "'valid' or 'same'") + ". Received: " + arg +
               "=" + py::repr(obj).cast<std::string>());
}

// Keras's output size and the padding before one axis; out <= 0 is reported by the caller.
void axis_geometry(int64_t in, int64_t k, int64_t stride, int64_t dil, Padding pad, int64_t* out, int64_t* before) {
    const int64_t ke = dil * (k - 1) + 1;  // the dilated kernel's extent
    if (pad == Padding::Valid) {
        *before = 0;
        *out = in >= ke ? (in - ke) / stride + 1 : 0;
    } else if (pad == Padding::Same) {
        *out = (in + stride - 1) / stride;
        *before = std::max<int64_t>((*out - 1) * stride + ke - in, 0) / 2;
    } else {  // causal: left-pad by ke - 1, then 'valid'
        *before = ke - 1;
        *out = (in - 1) / stride + 1;
    }
}

// x must be (N, spatial..., C) with every dimension positive.
void require_nonempty(const py::array& x, const char* op, const char* arg, const char* layout) {
    if (x.shape(0) == 0)
        fail_value(std::string(op) + ": the batch is empty. Expected " + arg + " of shape " + layout +
                   " with N >= 1. Received: " + arg + ".shape=" + shape_str(x));
    for (int a = 1; a < x.ndim(); a++)
        if (x.shape(a) == 0)
            fail_value(std::string(op) + ": " + arg + " has a zero-size dimension; expected " + layout +
                       " with every size >= 1. Received: " + arg + ".shape=" + shape_str(x));
}

// ---------------------------------------------------------------------------------------------
// Convolution and transposed convolution. A transposed convolution is described by the
// convolution it is the adjoint of (fastnn.h), whose input has the transposed output's shape.
// Its output sizes are Keras's (deconv_output_length); the placement of 'same' is Keras 3's rule
// for JAX, which equals TensorFlow's wherever TensorFlow accepts the shapes (and also covers
// output_padding with even kernels).

// Depthwise: w (kernel..., C, M), every channel convolved on its own M times, y's channels c·M + m.
enum class ConvKind { Conv, Transpose, Depthwise };

Layouts conv_layouts(int nd, ConvKind kind) {
    if (kind == ConvKind::Conv) return layouts(nd);
    if (kind == ConvKind::Depthwise) {
        if (nd == 1) return {"(N, L, C)", "(K, C, M)", "(N, OL, C*M)", "(L,)"};
        if (nd == 2) return {"(N, H, W, C)", "(KH, KW, C, M)", "(N, OH, OW, C*M)", "(H, W)"};
        return {"(N, D, H, W, C)", "(KD, KH, KW, C, M)", "(N, OD, OH, OW, C*M)", "(D, H, W)"};
    }
    if (nd == 1) return {"(N, L, C)", "(K, OC, C)", "(N, OL, OC)", "(L,)"};
    if (nd == 2) return {"(N, H, W, C)", "(KH, KW, OC, C)", "(N, OH, OW, OC)", "(H, W)"};
    return {"(N, D, H, W, C)", "(KD, KH, KW, OC, C)", "(N, OD, OH, OW, OC)", "(D, H, W)"};
}

// One axis of a transposed convolution: its output size and the padding BEFORE it of the matching
// convolution (input position i, tap t land on output i·stride - before + t·dilation). op < 0: no
// output_padding.
void transpose_axis_geometry(int64_t in, int64_t k, int64_t stride, int64_t dil, Padding pad, int64_t op,
                             int64_t* out, int64_t* before) {
    const int64_t ke = dil * (k - 1) + 1;
    if (op < 0)
        *out = pad == Padding::Valid ? in * stride + std::max<int64_t>(ke - stride, 0) : in * stride;
    else
        *out = (in - 1) * stride + ke - 2 * (pad == Padding::Same ? ke / 2 : 0) + op;
    if (pad == Padding::Valid) {
        *before = 0;
    } else {
        const int64_t pad_len = op < 0 ? stride + ke - 2 : ke + ke % 2 - 2 + op;
        *before = ke - 1 - std::min(pad_len / 2 + pad_len % 2, ke - 1);
    }
}

struct ConvArgs {
    FloatArray x, w;
    ConvShape s;  // for a transposed convolution, its convolution's: s.in = y's spatial dims, s.out = x's
    std::vector<int64_t> y_dims;
    int64_t bias_len;  // the output channels
};

ConvArgs conv_args(int nd, py::handle x_obj, py::handle w_obj, py::handle strides_obj, py::handle padding,
                   py::handle dilation_obj, const char* op, ConvKind kind = ConvKind::Conv,
                   py::handle output_padding_obj = py::none()) {
    const bool transpose = kind == ConvKind::Transpose;
    const Layouts L = conv_layouts(nd, kind);
    ConvArgs a{float_input(x_obj, op, "x"), float_input(w_obj, op, "w"), ConvShape{}, {}, 0};
    require_ndim(a.x, nd + 2, op, "x", L.x);
    require_ndim(a.w, nd + 2, op, "w", L.w);
    require_nonempty(a.x, op, "x", L.x);
    const std::vector<int64_t> strides = positive_ints(strides_obj, nd, op, "strides");
    const std::vector<int64_t> dilation = positive_ints(dilation_obj, nd, op, "dilation_rate");
    const Padding pad = parse_padding(padding, nd, !transpose, op);
    const bool has_op = transpose && !output_padding_obj.is_none();
    const std::vector<int64_t> out_pad =
        has_op ? geometry_ints(output_padding_obj, nd, op, "output_padding", 0) : std::vector<int64_t>((size_t)nd, -1);
    const int64_t C = a.x.shape(nd + 1);
    const int c_axis = transpose ? nd + 1 : nd, oc_axis = transpose ? nd : nd + 1;  // w's channel axes
    for (int i = 0; i < nd; i++)
        if (a.w.shape(i) < 1)
            fail_value(std::string(op) + ": kernel sizes must be positive; w must be " + L.w +
                       ". Received: w.shape=" + shape_str(a.w));
    require_dim(a.w, c_axis, C, op, "w", L.w, "C");
    if (a.w.shape(oc_axis) < 1)
        fail_value(std::string(op) + (kind == ConvKind::Depthwise ? ": the depth multiplier M" : ": the number of filters OC") +
                   " must be positive; w must be " + L.w + ". Received: w.shape=" + shape_str(a.w));
    const bool strided = std::any_of(strides.begin(), strides.end(), [](int64_t v) { return v > 1; });
    const bool dilated = std::any_of(dilation.begin(), dilation.end(), [](int64_t v) { return v > 1; });
    if (strided && dilated)
        fail_value(std::string(op) + ": strides > 1 are not supported together with dilation_rate > 1. Received: "
                   "strides=" + ints_str(strides) + ", dilation_rate=" + ints_str(dilation));
    for (int i = 0; i < nd; i++)
        if (has_op && out_pad[(size_t)i] >= strides[(size_t)i])
            fail_value(std::string(op) + ": output_padding must be lower than the stride along each axis. Received: "
                       "output_padding=" + py::repr(output_padding_obj).cast<std::string>() +
                       ", strides=" + ints_str(strides));

    ConvShape& s = a.s;
    s.N = a.x.shape(0);
    a.bias_len = kind == ConvKind::Depthwise ? C * a.w.shape(oc_axis) : a.w.shape(oc_axis);  // <= w's size
    s.C = transpose ? a.bias_len : C;  // the convolution's input channels
    s.OC = transpose ? C : a.bias_len;
    a.y_dims = {s.N};
    bool empty = false;
    for (int i = 0; i < nd; i++) {
        const int slot = 3 - nd + i;  // 1-D and 2-D fill the trailing axes
        const int64_t in = a.x.shape(1 + i);
        s.k[slot] = a.w.shape(i);
        s.stride[slot] = strides[(size_t)i];
        s.dilation[slot] = dilation[(size_t)i];
        int64_t out;
        if (!transpose) {
            s.in[slot] = in;
            axis_geometry(in, s.k[slot], s.stride[slot], s.dilation[slot], pad, &out, &s.pad[slot]);
            s.out[slot] = out;
        } else {
            // in·stride must not overflow int64: stride is below 2**31
            if (in > kMaxGeometry)
                fail_value(std::string(op) + ": x is too large along a spatial axis for a transposed convolution. "
                           "Received: x.shape=" + shape_str(a.x));
            s.out[slot] = in;
            transpose_axis_geometry(in, s.k[slot], s.stride[slot], s.dilation[slot], pad, out_pad[(size_t)i], &out,
                                    &s.pad[slot]);
            s.in[slot] = out;
        }
        empty = empty || out <= 0;
        a.y_dims.push_back(out);
    }
    a.y_dims.push_back(a.bias_len);
    if (empty)
        fail_value(std::string(op) + ": Computed output size would be zero or negative. Received: x.shape=" +
                   shape_str(a.x) + ", w.shape=" + shape_str(a.w) + ", strides=" + ints_str(strides) +
                   ", padding=" + py::repr(padding).cast<std::string>() +
                   (transpose ? ", output_padding=" + py::repr(output_padding_obj).cast<std::string>() : "") +
                   ", dilation_rate=" + ints_str(dilation));
    checked_numel(a.y_dims, op, "y");
    // The kernels pad each image to hold every (dilated) window, and the input gradient pads dz by
    // the kernel's reach: a reach in the billions (a huge dilation_rate with 'same' padding) would
    // ask for exabytes, or overflow the size, where a clear error belongs
    long double padded = (long double)std::max(s.C, s.OC);
    std::string dims;
    for (int slot = 3 - nd; slot < 3; slot++) {
        const long double reach = (long double)(s.out[slot] - 1) * s.stride[slot] +
                                  (long double)(s.k[slot] - 1) * s.dilation[slot] + 1;
        const long double extent = std::max((long double)s.in[slot] + 2 * (long double)s.pad[slot], reach) + reach;
        padded *= extent;
        dims += (dims.empty() ? "" : ", ") + std::to_string((long long)std::min(extent, (long double)9e18L));
    }
    if (padded > (long double)(int64_t(1) << 40))
        fail_value(std::string(op) + ": the kernel's reach (dilation_rate=" + ints_str(dilation) + ", w.shape=" +
                   shape_str(a.w) + ", padding=" + py::repr(padding).cast<std::string>() + ") needs each image padded "
                   "to about (" + dims + ") pixels: more than 2**40 values, too large to compute");
    return a;
}

py::array_t<float> conv_forward_b(int nd, const char* op, py::handle x_obj, py::handle w_obj, py::handle b_obj,
                                  py::handle strides, py::handle padding, py::handle dilation,
                                  py::handle activation, py::object alpha, ConvKind kind = ConvKind::Conv,
                                  py::handle output_padding = py::none()) {
    const Act act = parse_activation(activation, op);
    const float al = activation_alpha(act, alpha, op);
    ConvArgs a = conv_args(nd, x_obj, w_obj, strides, padding, dilation, op, kind, output_padding);
    const OptionalArray b = bias_input(b_obj, a.bias_len, op, kind == ConvKind::Depthwise ? "C*M" : "OC");
    auto y = new_float_array(a.y_dims, op, "y");
    const float *X = a.x.data(), *W = a.w.data(), *B = b.ptr;
    float* Y = y.mutable_data();
    {
        py::gil_scoped_release release;
        if (kind == ConvKind::Conv)
            conv_forward(Y, X, W, B, a.s, act, al);
        else if (kind == ConvKind::Depthwise)
            depthwise_conv_forward(Y, X, W, B, a.s, act, al);
        else
            conv_transpose_forward(Y, X, W, B, a.s, act, al);
    }
    return y;
}

py::tuple conv_backward_b(int nd, const char* op, py::handle dy_obj, py::handle x_obj, py::handle w_obj,
                          py::handle y_obj, py::handle strides, py::handle padding, py::handle dilation,
                          py::handle activation, py::object alpha, py::handle use_bias_obj, py::handle need_dx_obj,
                          py::handle need_dw_obj, ConvKind kind = ConvKind::Conv,
                          py::handle output_padding = py::none()) {
    const bool use_bias = flag_arg(use_bias_obj, op, "use_bias");
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool need_dw = flag_arg(need_dw_obj, op, "need_dw");
    const Act act = parse_activation(activation, op);
    const float al = activation_alpha(act, alpha, op);
    ConvArgs a = conv_args(nd, x_obj, w_obj, strides, padding, dilation, op, kind, output_padding);
    const Layouts L = conv_layouts(nd, kind);
    FloatArray dy = float_input(dy_obj, op, "dy"), y;
    const bool has_y = !y_obj.is_none();
    if (has_y) y = float_input(y_obj, op, "y");
    if (!has_y && act != Act::Linear)
        fail_value(std::string(op) + ": y (the forward output) is needed for activation='" +
                   activation_name(act) + "'. Received: y=None");
    const char* geometry = kind != ConvKind::Transpose ? "x, w, strides, padding and dilation_rate"
                                                  : "x, w, strides, padding, output_padding and dilation_rate";
    for (auto [arr, name] : {std::pair<FloatArray*, const char*>{&dy, "dy"}, {&y, "y"}}) {
        if (arr == &y && !has_y) continue;
        if (dims_of(*arr) != a.y_dims)
            fail_value(std::string(op) + ": " + name + " must be " + L.y + " = " + shape_str(a.y_dims) +
                       " to match " + geometry + ". Received: " + name + ".shape=" + shape_str(*arr));
    }
    LayerGrads g = layer_grads(dims_of(a.x), dims_of(a.w), a.bias_len, need_dx, use_bias, /*zeroed=*/true, op,
                               need_dw);
    const float *DY = dy.data(), *Y = has_y ? y.data() : nullptr, *X = a.x.data(), *W = a.w.data();
    {
        py::gil_scoped_release release;
        if (kind == ConvKind::Conv)
            conv_backward(g.dx_ptr, g.dw_ptr, g.db_ptr, DY, Y, X, W, a.s, act, al);
        else if (kind == ConvKind::Depthwise)
            depthwise_conv_backward(g.dx_ptr, g.dw_ptr, g.db_ptr, DY, Y, X, W, a.s, act, al);
        else
            conv_transpose_backward(g.dx_ptr, g.dw_ptr, g.db_ptr, DY, Y, X, W, a.s, act, al);
    }
    return g.as_tuple();
}

// ---------------------------------------------------------------------------------------------
// Pooling

// The pooling geometry for an input of shape x_dims (N, spatial..., C).
PoolShape pool_shape(int nd, const std::vector<int64_t>& x_dims, py::handle pool_obj, py::handle strides_obj,
                     py::handle padding, const char* op, std::vector<int64_t>* y_dims,
                     const char* strides_name = "strides", const char* padding_name = "padding") {
    const std::vector<int64_t> k = positive_ints(pool_obj, nd, op, "pool_size");
    const std::vector<int64_t> st = strides_obj.is_none() ? k : positive_ints(strides_obj, nd, op, strides_name);
    const Padding pad = parse_padding(padding, nd, false, op, padding_name);
    PoolShape s;
    s.N = x_dims[0];
    s.C = x_dims[(size_t)nd + 1];
    *y_dims = {s.N};
    bool empty = false;
    for (int i = 0; i < nd; i++) {
        const int slot = 3 - nd + i;
        s.in[slot] = x_dims[(size_t)i + 1];
        s.k[slot] = k[(size_t)i];
        s.stride[slot] = st[(size_t)i];
        axis_geometry(s.in[slot], s.k[slot], s.stride[slot], 1, pad, &s.out[slot], &s.pad[slot]);
        empty = empty || s.out[slot] <= 0;
        y_dims->push_back(s.out[slot]);
    }
    y_dims->push_back(s.C);
    if (empty)
        fail_value(std::string(op) + ": Computed output size would be zero or negative. Received: input shape " +
                   shape_str(x_dims) + ", pool_size=" + ints_str(k) + ", " + strides_name + "=" + ints_str(st) + ", " +
                   padding_name + "=" + py::repr(padding).cast<std::string>());
    const int64_t S = s.in[0] * s.in[1] * s.in[2];
    if (S > INT32_MAX)
        fail_value(std::string(op) + ": the input has " + std::to_string(S) +
                   " spatial positions per image, more than an int32 argmax can index");
    return s;
}

// x_shape given to a backward op: a list or tuple of nd + 2 positive ints (as the NumPy reference; a
// bytes object would be a sequence of ints too).
std::vector<int64_t> shape_arg(py::handle obj, int ndim, const char* layout, const char* op) {
    std::vector<int64_t> v;
    if (!py::isinstance<py::list>(obj) && !py::isinstance<py::tuple>(obj))
        fail_type(std::string(op) + ": x_shape must be a tuple of ints " + layout + ". Received: x_shape=" +
                  py::repr(obj).cast<std::string>());
    for (auto item : py::reinterpret_borrow<py::sequence>(obj)) {
        if (!is_integer(item))
            fail_type(std::string(op) + ": x_shape must be a tuple of ints " + layout + ". Received: x_shape=" +
                      py::repr(obj).cast<std::string>());
        v.push_back(saturated_index(item));
        if (v.back() == std::numeric_limits<int64_t>::max() || v.back() == std::numeric_limits<int64_t>::min())
            fail_value(std::string(op) + ": x_shape's sizes must be below 2**63. Received: x_shape=" +
                       py::repr(obj).cast<std::string>());
    }
    if ((int)v.size() != ndim)
        fail_value(std::string(op) + ": x_shape must be " + std::to_string(ndim) + "-D " + layout +
                   ". Received: x_shape=" + shape_str(v));
    if (v[0] < 1)
        fail_value(std::string(op) + ": the batch is empty. Expected x_shape " + layout +
                   " with N >= 1. Received: x_shape=" + shape_str(v));
    for (int64_t d : v)
        if (d < 1)
            fail_value(std::string(op) + ": x_shape has a zero-size or negative dimension; expected " + layout +
                       " with every size >= 1. Received: x_shape=" + shape_str(v));
    checked_numel(v, op, "dx");
    return v;
}

void require_shape(const py::array& a, const std::vector<int64_t>& dims, const char* op, const char* arg,
                   const char* layout, const char* why) {
    if (dims_of(a) != dims)
        fail_value(std::string(op) + ": " + arg + " must be " + layout + " = " + shape_str(dims) + " " + why +
                   ". Received: " + arg + ".shape=" + shape_str(a));
}


// argmax from a max-pool forward: integer dtype, the shape of dy, every value in [0, S).
IndexArray argmax_arg(py::handle obj, const std::vector<int64_t>& dims, int64_t S, const char* layout,
                      const char* op) {
    py::array a = py::array::ensure(obj);
    if (!a) fail_not_array(obj, std::string(op) + ": argmax must be the integer array returned by the forward op");
    if (a.dtype().kind() != 'i' && a.dtype().kind() != 'u')
        fail_type(std::string(op) + ": argmax must be the integer array returned by the forward op. Received: "
                  "argmax.dtype=" + py::str(a.dtype()).cast<std::string>());
    require_shape(a, dims, op, "argmax", layout, "(the shape of dy)");
    auto outside = [&](const std::string& index, const std::string& value) {
        fail_value(std::string(op) + ": argmax holds a position outside the input (expected 0 <= argmax < " +
                   std::to_string(S) + "). Received: argmax.flat[" + index + "]=" + value);
    };
    // The kernels write dx at these positions, so they check and use a private copy: another Python
    // thread could rewrite the caller's array while the GIL is released (a check of the caller's
    // array, then a use of it, would write out of bounds). int32 C-contiguous (what the forward
    // returns) is copied as it is; anything else is range-checked in its own dtype first
    // (converting first would wrap 2**32 + 1 to 1), converted, and checked again.
    IndexArray idx;
    if (!py::isinstance<py::array_t<int32_t, py::array::c_style>>(a)) {
        py::object bad = py::module_::import("numpy").attr("flatnonzero")(
            a.attr("__lt__")(0).attr("__or__")(a.attr("__ge__")(S)));
        if (py::len(bad) > 0) {
            py::object i = bad.attr("__getitem__")(0);
            outside(py::str(i).cast<std::string>(), py::str(a.attr("reshape")(-1).attr("__getitem__")(i)).cast<std::string>());
        }
        idx = IndexArray(a);  // (a converted copy; raises if the conversion fails)
        if (idx.ptr() == a.ptr()) idx = IndexArray(a.attr("copy")());
    } else {
        idx = new_index_array(dims, op, "argmax");
        std::memcpy(idx.mutable_data(), py::reinterpret_borrow<IndexArray>(a).data(), sizeof(int32_t) * (size_t)idx.size());
    }
    // a vectorised min/max first; the slow search for the culprit only when there is one
    const int32_t* p = idx.data();
    const py::ssize_t n = idx.size();
    int32_t lo = 0, hi = 0;
    {
        py::gil_scoped_release release;
        index_range(p, n, &lo, &hi);
    }
    if (lo < 0 || hi >= S)
        for (py::ssize_t i = 0; i < n; i++)
            if (p[i] < 0 || p[i] >= S) outside(std::to_string(i), std::to_string(p[i]));
    return idx;
}

py::tuple maxpool_forward_b(int nd, const char* op, py::handle x_obj, py::handle pool, py::handle strides,
                            py::handle padding) {
    const Layouts L = layouts(nd);
    FloatArray x = float_input(x_obj, op, "x");
    require_ndim(x, nd + 2, op, "x", L.x);
    require_nonempty(x, op, "x", L.x);
    std::vector<int64_t> y_dims;
    const PoolShape s = pool_shape(nd, dims_of(x), pool, strides, padding, op, &y_dims);
    auto y = new_float_array(y_dims, op, "y");
    IndexArray argmax = new_index_array(y_dims, op, "argmax");
    const float* X = x.data();
    float* Y = y.mutable_data();
    int32_t* A = argmax.mutable_data();
    {
        py::gil_scoped_release release;
        maxpool_forward(Y, A, X, s);
    }
    return py::make_tuple(y, argmax);
}

py::array_t<float> maxpool_backward_b(int nd, const char* op, py::handle dy_obj, py::handle argmax_obj,
                                      py::handle x_shape) {
    const Layouts L = layouts(nd);
    const std::vector<int64_t> xd = shape_arg(x_shape, nd + 2, L.x, op);
    FloatArray dy = float_input(dy_obj, op, "dy");
    require_ndim(dy, nd + 2, op, "dy", L.x);
    if (dy.shape(0) != xd[0] || dy.shape(nd + 1) != xd[(size_t)nd + 1])
        fail_value(std::string(op) + ": dy must have x's batch size N=" + std::to_string(xd[0]) + " and channels C=" +
                   std::to_string(xd[(size_t)nd + 1]) + ". Received: dy.shape=" + shape_str(dy) +
                   ", x_shape=" + shape_str(xd));
    int64_t S = 1, O = 1;
    for (int i = 1; i <= nd; i++) {
        S *= xd[(size_t)i];
        O *= dy.shape(i);
    }
    IndexArray argmax = argmax_arg(argmax_obj, dims_of(dy), S, L.x, op);
    auto dx = new_float_array(xd, op, "dx");
    const float* DY = dy.data();
    const int32_t* A = argmax.data();
    float* DX = dx.mutable_data();
    const int64_t N = xd[0], C = xd[(size_t)nd + 1];
    {
        py::gil_scoped_release release;
        maxpool_backward(DX, DY, A, N, S, O, C);
    }
    return dx;
}

py::array_t<float> avgpool_forward_b(int nd, const char* op, py::handle x_obj, py::handle pool, py::handle strides,
                                     py::handle padding) {
    const Layouts L = layouts(nd);
    FloatArray x = float_input(x_obj, op, "x");
    require_ndim(x, nd + 2, op, "x", L.x);
    require_nonempty(x, op, "x", L.x);
    std::vector<int64_t> y_dims;
    const PoolShape s = pool_shape(nd, dims_of(x), pool, strides, padding, op, &y_dims);
    auto y = new_float_array(y_dims, op, "y");
    const float* X = x.data();
    float* Y = y.mutable_data();
    {
        py::gil_scoped_release release;
        avgpool_forward(Y, X, s);
    }
    return y;
}

py::array_t<float> avgpool_backward_b(int nd, const char* op, py::handle dy_obj, py::handle x_shape, py::handle pool,
                                      py::handle strides, py::handle padding) {
    const Layouts L = layouts(nd);
    const std::vector<int64_t> xd = shape_arg(x_shape, nd + 2, L.x, op);
    std::vector<int64_t> y_dims;
    const PoolShape s = pool_shape(nd, xd, pool, strides, padding, op, &y_dims);
    FloatArray dy = float_input(dy_obj, op, "dy");
    require_shape(dy, y_dims, op, "dy", L.y, "to match x_shape, pool_size, strides and padding");
    auto dx = new_float_array(xd, op, "dx");
    const float* DY = dy.data();
    float* DX = dx.mutable_data();
    {
        py::gil_scoped_release release;
        avgpool_backward(DX, DY, s);
    }
    return dx;
}

// Global pooling: x (N, spatial..., C) with at least one spatial axis, seen as (N, S, C).
void global_dims(const std::vector<int64_t>& xd, int64_t* N, int64_t* S, int64_t* C) {
    *N = xd.front();
    *C = xd.back();
    *S = 1;
    for (size_t i = 1; i + 1 < xd.size(); i++) *S *= xd[i];
}

FloatArray global_input(py::handle x_obj, const char* op) {
    FloatArray x = float_input(x_obj, op, "x");
    if (x.ndim() < 3 || x.ndim() > 5)
        fail_value(std::string(op) + ": x must be (N, L, C), (N, H, W, C) or (N, D, H, W, C). Received: x.shape=" +
                   shape_str(x));
    require_nonempty(x, op, "x", "(N, spatial..., C)");
    return x;
}

std::vector<int64_t> global_shape_arg(py::handle x_shape, const char* op) {
    if (py::isinstance<py::list>(x_shape) || py::isinstance<py::tuple>(x_shape)) {
        const size_t n = py::len(x_shape);
        if (n >= 3 && n <= 5) return shape_arg(x_shape, (int)n, "(N, spatial..., C)", op);
    }
    fail_value(std::string(op) + ": x_shape must be (N, L, C), (N, H, W, C) or (N, D, H, W, C). Received: x_shape=" +
               py::repr(x_shape).cast<std::string>());
}

// ---------------------------------------------------------------------------------------------
// Convolution + activation + max pooling, fused

Act fused_activation(py::handle activation, const char* op) {
    const Act act = parse_activation(activation, op);
    if (act == Act::Softmax)
        fail_value(std::string(op) + ": the fused convolution + max pooling needs an elementwise activation. "
                   "Received: activation='softmax' (use conv*_forward and maxpool*_forward instead)");
    return act;
}

py::tuple conv_maxpool_forward_b(int nd, const char* op, py::handle x_obj, py::handle w_obj, py::handle b_obj,
                                 py::handle strides, py::handle padding, py::handle dilation,
                                 py::handle activation, py::object alpha, py::handle pool, py::handle pool_strides,
                                 py::handle pool_padding) {
    const Act act = fused_activation(activation, op);
    const float al = activation_alpha(act, alpha, op);
    ConvArgs a = conv_args(nd, x_obj, w_obj, strides, padding, dilation, op);
    const OptionalArray b = bias_input(b_obj, a.s.OC, op);
    std::vector<int64_t> p_dims;
    const PoolShape ps = pool_shape(nd, a.y_dims, pool, pool_strides, pool_padding, op, &p_dims, "pool_strides",
                                    "pool_padding");
    auto y = new_float_array(p_dims, op, "y");
    IndexArray argmax = new_index_array(p_dims, op, "argmax");
    const float *X = a.x.data(), *W = a.w.data(), *B = b.ptr;
    float* Y = y.mutable_data();
    int32_t* A = argmax.mutable_data();
    {
        py::gil_scoped_release release;
        conv_maxpool_forward(Y, A, X, W, B, a.s, ps, act, al);
    }
    return py::make_tuple(y, argmax);
}

py::tuple conv_maxpool_backward_b(int nd, const char* op, py::handle dy_obj, py::handle argmax_obj, py::handle y_obj,
                                  py::handle x_obj, py::handle w_obj, py::handle strides, py::handle padding,
                                  py::handle dilation, py::handle activation, py::object alpha,
                                  py::handle pool, py::handle pool_strides, py::handle pool_padding,
                                  py::handle use_bias_obj, py::handle need_dx_obj, py::handle need_dw_obj) {
    const bool use_bias = flag_arg(use_bias_obj, op, "use_bias");
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool need_dw = flag_arg(need_dw_obj, op, "need_dw");
    const Act act = fused_activation(activation, op);
    const float al = activation_alpha(act, alpha, op);
    ConvArgs a = conv_args(nd, x_obj, w_obj, strides, padding, dilation, op);
    std::vector<int64_t> p_dims;
    const PoolShape ps = pool_shape(nd, a.y_dims, pool, pool_strides, pool_padding, op, &p_dims, "pool_strides",
                                    "pool_padding");
    const Layouts L = layouts(nd);
    FloatArray dy = float_input(dy_obj, op, "dy"), y = float_input(y_obj, op, "y");
    require_shape(dy, p_dims, op, "dy", L.y, "(the pooled output's shape)");
    require_shape(y, p_dims, op, "y", L.y, "(the pooled output's shape)");
    const int64_t P = a.s.out[0] * a.s.out[1] * a.s.out[2];
    IndexArray argmax = argmax_arg(argmax_obj, p_dims, P, L.y, op);
    int64_t stray;
    {
        py::gil_scoped_release release;
        stray = argmax_outside_windows(argmax.data(), ps);
    }
    if (stray >= 0)
        fail_value(std::string(op) + ": argmax.flat[" + std::to_string(stray) + "]=" +
                   std::to_string(argmax.data()[stray]) + " is not a position in its output's pooling window; "
                   "pass the argmax the forward op returned for these x, w and pool arguments");
    LayerGrads g = layer_grads(dims_of(a.x), dims_of(a.w), a.s.OC, need_dx, use_bias, /*zeroed=*/true, op, need_dw);
    const float *DY = dy.data(), *Y = y.data(), *X = a.x.data(), *W = a.w.data();
    const int32_t* A = argmax.data();
    {
        py::gil_scoped_release release;
        conv_maxpool_backward(g.dx_ptr, g.dw_ptr, g.db_ptr, DY, A, Y, X, W, a.s, ps, act, al);
    }
    return g.as_tuple();
}

py::array_t<float> global_avgpool_forward_b(py::handle x_obj) {
    const char* op = "global_avgpool_forward";
    FloatArray x = global_input(x_obj, op);
    int64_t N, S, C;
    global_dims(dims_of(x), &N, &S, &C);
    auto y = new_float_array({N, C}, op, "y");
    const float* X = x.data();
    float* Y = y.mutable_data();
    {
        py::gil_scoped_release release;
        global_avgpool_forward(Y, X, N, S, C);
    }
    return y;
}

py::array_t<float> global_avgpool_backward_b(py::handle dy_obj, py::handle x_shape) {
    const char* op = "global_avgpool_backward";
    const std::vector<int64_t> xd = global_shape_arg(x_shape, op);
    int64_t N, S, C;
    global_dims(xd, &N, &S, &C);
    FloatArray dy = float_input(dy_obj, op, "dy");
    require_shape(dy, {N, C}, op, "dy", "(N, C)", "to match x_shape");
    auto dx = new_float_array(xd, op, "dx");
    const float* DY = dy.data();
    float* DX = dx.mutable_data();
    {
        py::gil_scoped_release release;
        global_avgpool_backward(DX, DY, N, S, C);
    }
    return dx;
}

py::tuple global_maxpool_forward_b(py::handle x_obj) {
    const char* op = "global_maxpool_forward";
    FloatArray x = global_input(x_obj, op);
    int64_t N, S, C;
    global_dims(dims_of(x), &N, &S, &C);
    if (S > INT32_MAX)
        fail_value(std::string(op) + ": the input has " + std::to_string(S) +
                   " spatial positions per image, more than an int32 argmax can index");
    auto y = new_float_array({N, C}, op, "y");
    IndexArray argmax = new_index_array({N, C}, op, "argmax");
    const float* X = x.data();
    float* Y = y.mutable_data();
    int32_t* A = argmax.mutable_data();
    {
        py::gil_scoped_release release;
        global_maxpool_forward(Y, A, X, N, S, C);
    }
    return py::make_tuple(y, argmax);
}

py::array_t<float> global_maxpool_backward_b(py::handle dy_obj, py::handle argmax_obj, py::handle x_shape) {
    const char* op = "global_maxpool_backward";
    const std::vector<int64_t> xd = global_shape_arg(x_shape, op);
    int64_t N, S, C;
    global_dims(xd, &N, &S, &C);
    FloatArray dy = float_input(dy_obj, op, "dy");
    require_shape(dy, {N, C}, op, "dy", "(N, C)", "to match x_shape");
    IndexArray argmax = argmax_arg(argmax_obj, {N, C}, S, "(N, C)", op);
    auto dx = new_float_array(xd, op, "dx");
    const float* DY = dy.data();
    const int32_t* A = argmax.data();
    float* DX = dx.mutable_data();
    {
        py::gil_scoped_release release;
        maxpool_backward(DX, DY, A, N, S, 1, C);
    }
    return dx;
}

}  // namespace

// Keras's default for strides/dilation_rate: 1 for 1-D, (1, 1) or (1, 1, 1) otherwise.
static py::object unit_default(int nd) {
    if (nd == 1) return py::int_(1);
    py::tuple ones(nd);
    for (int i = 0; i < nd; i++) ones[(size_t)i] = py::int_(1);
    return ones;
}

void register_conv(py::module_& m) {
    static const char* fwd[] = {"conv1d_forward", "conv2d_forward", "conv3d_forward"};
    static const char* bwd[] = {"conv1d_backward", "conv2d_backward", "conv3d_backward"};
    static const char* mpf[] = {"maxpool1d_forward", "maxpool2d_forward", "maxpool3d_forward"};
    static const char* mpb[] = {"maxpool1d_backward", "maxpool2d_backward", "maxpool3d_backward"};
    static const char* apf[] = {"avgpool1d_forward", "avgpool2d_forward", "avgpool3d_forward"};
    static const char* apb[] = {"avgpool1d_backward", "avgpool2d_backward", "avgpool3d_backward"};
    for (int nd = 1; nd <= 3; nd++) {
        const char *f = fwd[nd - 1], *b = bwd[nd - 1];
        const py::object ones = unit_default(nd);
        m.def(
            f,
            [nd, f](py::handle x, py::handle w, py::handle bias, py::handle strides, py::handle padding,
                    py::handle dilation_rate, py::handle activation, py::object alpha) {
                return conv_forward_b(nd, f, x, w, bias, strides, padding, dilation_rate, activation, alpha);
            },
            py::arg("x"), py::arg("w"), py::arg("b") = py::none(), py::kw_only(), py::arg("strides") = ones,
            py::arg("padding") = "valid", py::arg("dilation_rate") = ones, py::arg("activation") = "linear",
            py::arg("alpha") = py::none(),
            "y = activation(conv(x, w) + b), channels-last, Keras's output sizes and 'same' padding.");
        m.def(
            b,
            [nd, b](py::handle dy, py::handle x, py::handle w, py::handle y, py::handle strides,
                    py::handle padding, py::handle dilation_rate, py::handle activation,
                    py::object alpha, py::handle use_bias, py::handle need_dx, py::handle need_dw) {
                return conv_backward_b(nd, b, dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                                       use_bias, need_dx, need_dw);
            },
            py::arg("dy"), py::arg("x"), py::arg("w"), py::arg("y") = py::none(), py::kw_only(),
            py::arg("strides") = ones, py::arg("padding") = "valid", py::arg("dilation_rate") = ones,
            py::arg("activation") = "linear", py::arg("alpha") = py::none(), py::arg("use_bias") = true,
            py::arg("need_dx") = true, py::arg("need_dw") = true,
            "(dx, dw, db) of the convolution; dx None unless need_dx, dw None unless need_dw, db None unless use_bias.");
        const char *mf = mpf[nd - 1], *mb = mpb[nd - 1], *af = apf[nd - 1], *ab = apb[nd - 1];
        m.def(
            mf,
            [nd, mf](py::handle x, py::handle pool_size, py::handle strides, py::handle padding) {
                return maxpool_forward_b(nd, mf, x, pool_size, strides, padding);
            },
            py::arg("x"), py::kw_only(), py::arg("pool_size"), py::arg("strides") = py::none(),
            py::arg("padding") = "valid",
            "(y, argmax): max pooling; argmax (int32, y's shape) is the flat spatial index of each first maximum.");
        m.def(
            mb,
            [nd, mb](py::handle dy, py::handle argmax, py::handle x_shape) {
                return maxpool_backward_b(nd, mb, dy, argmax, x_shape);
            },
            py::arg("dy"), py::arg("argmax"), py::arg("x_shape"),
            "dx of max pooling: each dy routed to its window's first maximum.");
        m.def(
            af,
            [nd, af](py::handle x, py::handle pool_size, py::handle strides, py::handle padding) {
                return avgpool_forward_b(nd, af, x, pool_size, strides, padding);
            },
            py::arg("x"), py::kw_only(), py::arg("pool_size"), py::arg("strides") = py::none(),
            py::arg("padding") = "valid", "Average pooling over each window's real elements.");
        m.def(
            ab,
            [nd, ab](py::handle dy, py::handle x_shape, py::handle pool_size, py::handle strides,
                     py::handle padding) {
                return avgpool_backward_b(nd, ab, dy, x_shape, pool_size, strides, padding);
            },
            py::arg("dy"), py::arg("x_shape"), py::kw_only(), py::arg("pool_size"), py::arg("strides") = py::none(),
            py::arg("padding") = "valid", "dx of average pooling.");
    }
    static const char* ctf[] = {"conv1d_transpose_forward", "conv2d_transpose_forward", "conv3d_transpose_forward"};
    static const char* ctb[] = {"conv1d_transpose_backward", "conv2d_transpose_backward", "conv3d_transpose_backward"};
    for (int nd = 1; nd <= 3; nd++) {
        const char *f = ctf[nd - 1], *b = ctb[nd - 1];
        const py::object ones = unit_default(nd);
        m.def(
            f,
            [nd, f](py::handle x, py::handle w, py::handle bias, py::handle strides, py::handle padding,
                    py::handle output_padding, py::handle dilation_rate, py::handle activation, py::object alpha) {
                return conv_forward_b(nd, f, x, w, bias, strides, padding, dilation_rate, activation, alpha,
                                      ConvKind::Transpose, output_padding);
            },
            py::arg("x"), py::arg("w"), py::arg("b") = py::none(), py::kw_only(), py::arg("strides") = ones,
            py::arg("padding") = "valid", py::arg("output_padding") = py::none(), py::arg("dilation_rate") = ones,
            py::arg("activation") = "linear", py::arg("alpha") = py::none(),
            "y = activation(conv_transpose(x, w) + b), w (kernel..., OC, C) as Keras's Conv*DTranspose.");
        m.def(
            b,
            [nd, b](py::handle dy, py::handle x, py::handle w, py::handle y, py::handle strides, py::handle padding,
                    py::handle output_padding, py::handle dilation_rate, py::handle activation, py::object alpha,
                    py::handle use_bias, py::handle need_dx, py::handle need_dw) {
                return conv_backward_b(nd, b, dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                                       use_bias, need_dx, need_dw, ConvKind::Transpose, output_padding);
            },
            py::arg("dy"), py::arg("x"), py::arg("w"), py::arg("y") = py::none(), py::kw_only(),
            py::arg("strides") = ones, py::arg("padding") = "valid", py::arg("output_padding") = py::none(),
            py::arg("dilation_rate") = ones, py::arg("activation") = "linear", py::arg("alpha") = py::none(),
            py::arg("use_bias") = true, py::arg("need_dx") = true, py::arg("need_dw") = true,
            "(dx, dw, db) of the transposed convolution; None for each of dx, dw, db not asked for.");
    }
    static const char* dwf[] = {"depthwise_conv1d_forward", "depthwise_conv2d_forward", "depthwise_conv3d_forward"};
    static const char* dwb[] = {"depthwise_conv1d_backward", "depthwise_conv2d_backward", "depthwise_conv3d_backward"};
    for (int nd = 1; nd <= 3; nd++) {
        const char *f = dwf[nd - 1], *b = dwb[nd - 1];
        const py::object ones = unit_default(nd);
        m.def(
            f,
            [nd, f](py::handle x, py::handle w, py::handle bias, py::handle strides, py::handle padding,
                    py::handle dilation_rate, py::handle activation, py::object alpha) {
                return conv_forward_b(nd, f, x, w, bias, strides, padding, dilation_rate, activation, alpha,
                                      ConvKind::Depthwise);
            },
            py::arg("x"), py::arg("w"), py::arg("b") = py::none(), py::kw_only(), py::arg("strides") = ones,
            py::arg("padding") = "valid", py::arg("dilation_rate") = ones, py::arg("activation") = "linear",
            py::arg("alpha") = py::none(),
            "y = activation(depthwise_conv(x, w) + b), w (kernel..., C, M) as Keras's DepthwiseConv*D; y has C*M "
            "channels, c*M + m.");
        m.def(
            b,
            [nd, b](py::handle dy, py::handle x, py::handle w, py::handle y, py::handle strides,
                    py::handle padding, py::handle dilation_rate, py::handle activation,
                    py::object alpha, py::handle use_bias, py::handle need_dx, py::handle need_dw) {
                return conv_backward_b(nd, b, dy, x, w, y, strides, padding, dilation_rate, activation, alpha,
                                       use_bias, need_dx, need_dw, ConvKind::Depthwise);
            },
            py::arg("dy"), py::arg("x"), py::arg("w"), py::arg("y") = py::none(), py::kw_only(),
            py::arg("strides") = ones, py::arg("padding") = "valid", py::arg("dilation_rate") = ones,
            py::arg("activation") = "linear", py::arg("alpha") = py::none(), py::arg("use_bias") = true,
            py::arg("need_dx") = true, py::arg("need_dw") = true,
            "(dx, dw, db) of the depthwise convolution; None for each of dx, dw, db not asked for.");
    }
    static const char* cmf[] = {"conv1d_maxpool_forward", "conv2d_maxpool_forward", "conv3d_maxpool_forward"};
    static const char* cmb[] = {"conv1d_maxpool_backward", "conv2d_maxpool_backward", "conv3d_maxpool_backward"};
    for (int nd = 1; nd <= 3; nd++) {
        const char *f = cmf[nd - 1], *b = cmb[nd - 1];
        const py::object ones = unit_default(nd);
        m.def(
            f,
            [nd, f](py::handle x, py::handle w, py::handle bias, py::handle strides, py::handle padding,
                    py::handle dilation_rate, py::handle activation, py::object alpha, py::handle pool_size,
                    py::handle pool_strides, py::handle pool_padding) {
                return conv_maxpool_forward_b(nd, f, x, w, bias, strides, padding, dilation_rate, activation, alpha,
                                              pool_size, pool_strides, pool_padding);
            },
            py::arg("x"), py::arg("w"), py::arg("b") = py::none(), py::kw_only(), py::arg("strides") = ones,
            py::arg("padding") = "valid", py::arg("dilation_rate") = ones, py::arg("activation") = "linear",
            py::arg("alpha") = py::none(), py::arg("pool_size"), py::arg("pool_strides") = py::none(),
            py::arg("pool_padding") = "valid",
            "(y, argmax) = max pooling of activation(conv(x, w) + b), the convolution's output never stored whole.");
        m.def(
            b,
            [nd, b](py::handle dy, py::handle argmax, py::handle y, py::handle x, py::handle w, py::handle strides,
                    py::handle padding, py::handle dilation_rate, py::handle activation,
                    py::object alpha, py::handle pool_size, py::handle pool_strides, py::handle pool_padding,
                    py::handle use_bias, py::handle need_dx, py::handle need_dw) {
                return conv_maxpool_backward_b(nd, b, dy, argmax, y, x, w, strides, padding, dilation_rate,
                                               activation, alpha, pool_size, pool_strides, pool_padding, use_bias,
                                               need_dx, need_dw);
            },
            py::arg("dy"), py::arg("argmax"), py::arg("y"), py::arg("x"), py::arg("w"), py::kw_only(),
            py::arg("strides") = ones, py::arg("padding") = "valid", py::arg("dilation_rate") = ones,
            py::arg("activation") = "linear", py::arg("alpha") = py::none(), py::arg("pool_size"),
            py::arg("pool_strides") = py::none(), py::arg("pool_padding") = "valid", py::arg("use_bias") = true,
            py::arg("need_dx") = true, py::arg("need_dw") = true,
            "(dx, dw, db) of the fused convolution + max pooling, from the pooled dy, argmax, y.");
    }
    m.def("_select_conv_algorithm", [](const std::string& name) { return conv_select_algorithm(name.c_str()); },
          py::arg("name"), "Force 'im2col', 'implicit' or 'implicit-{flipped,scatter,dcol}' (the last also pick the input "
          "gradient) convolution ('auto' restores the default); False if unknown.");
    m.def("conv_algorithm", []() { return std::string(conv_algorithm()); },
          "The convolution algorithm setting: 'auto', 'im2col', 'implicit' or 'implicit-{flipped,scatter,dcol}'.");
    m.def("global_avgpool_forward", &global_avgpool_forward_b, py::arg("x"),
          "y (N, C): the mean over all spatial positions of x (N, spatial..., C).");
    m.def("global_avgpool_backward", &global_avgpool_backward_b, py::arg("dy"), py::arg("x_shape"),
          "dx of global average pooling.");
    m.def("global_maxpool_forward", &global_maxpool_forward_b, py::arg("x"),
          "(y, argmax) (N, C): the max over all spatial positions and the flat index of its first occurrence.");
    m.def("global_maxpool_backward", &global_maxpool_backward_b, py::arg("dy"), py::arg("argmax"), py::arg("x_shape"),
          "dx of global max pooling.");
}

}  // namespace fastnn::bind
