// bind_rnn.cpp — SimpleRNN, LSTM and GRU sequence kernels, forward and backward through time.
// Every shape is checked here, before any kernel runs: x (N, T, C) with N, T >= 1; u (OC, G·OC)
// fixes OC; w (C, G·OC); the bias, initial states, upstream gradients and the cache must match.

#include <algorithm>
#include <cmath>

#include "checks.h"

namespace fastnn::bind {

namespace {

std::vector<int64_t> dims_of(const py::array& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

// An activation of a recurrent cell: elementwise only, with Keras's default hyper-parameter.
struct CellAct {
    Act act;
    float alpha;
};

CellAct cell_activation(py::handle name, const char* op, const char* arg) {
    const Act act = parse_activation(name, op, arg);
    if (act == Act::Softmax)
        fail_value(std::string(op) + ": " + arg + " must be elementwise; softmax is not supported in a recurrent cell. "
                   "Received: " + arg + "='softmax'");
    return {act, activation_alpha(act, py::none(), op)};
}

struct RnnArgs {
    FloatArray x, w, u;
    int64_t N = 0, T = 0, C = 0, OC = 0;
};

// x (N, T, C), w (C, G·OC), u (OC, G·OC).
RnnArgs rnn_args(py::handle x_obj, py::handle w_obj, py::handle u_obj, int64_t G, const char* op) {
    RnnArgs a;
    a.x = float_input(x_obj, op, "x");
    a.w = float_input(w_obj, op, "w");
    a.u = float_input(u_obj, op, "u");
    require_ndim(a.x, 3, op, "x", "(N, T, C)");
    a.N = a.x.shape(0);
    a.T = a.x.shape(1);
    a.C = a.x.shape(2);
    if (a.T == 0)
        fail_value(std::string(op) + ": x must hold at least one time step (T >= 1). Received: x.shape=" + shape_str(a.x));
    if (a.N == 0)
        fail_value(std::string(op) + ": the batch is empty (N = 0). Received: x.shape=" + shape_str(a.x));
    const std::string g = std::to_string(G);
    require_ndim(a.u, 2, op, "u", ("(OC, " + g + "*OC)").c_str());
    a.OC = a.u.shape(0);
    if (a.OC == 0 || a.u.shape(1) != G * a.OC)
        fail_value(std::string(op) + ": u must be (OC, " + g + "*OC) with OC >= 1 (the recurrent kernel). Received: u.shape=" +
                   shape_str(a.u));
    require_ndim(a.w, 2, op, "w", ("(C, " + g + "*OC)").c_str());
    if (a.w.shape(0) != a.C || a.w.shape(1) != G * a.OC)
        fail_value(std::string(op) + ": w must be (C, " + g + "*OC) = " + shape_str({a.C, G * a.OC}) +
                   " to match x and u. Received: w.shape=" + shape_str(a.w));
    return a;
}

// An optional read-only array of exactly `dims`; nullptr when None.
OptionalArray optional_array(py::handle obj, const std::vector<int64_t>& dims, const char* op, const char* arg,
                             const char* layout) {
    OptionalArray o;
    if (obj.is_none()) return o;
    o.arr = float_input(obj, op, arg);
    if (dims_of(o.arr) != dims)
        fail_value(std::string(op) + ": " + arg + " must be " + layout + " = " + shape_str(dims) + ". Received: " + arg +
                   ".shape=" + shape_str(o.arr));
    o.ptr = o.arr.data();
    return o;
}

OptionalArray bias_array(py::handle obj, const std::vector<int64_t>& dims, const char* op) {
    OptionalArray o;
    if (obj.is_none()) return o;
    o.arr = float_input(obj, op, "b");
    if (dims_of(o.arr) != dims)
        fail_value(std::string(op) + ": b must have shape " + shape_str(dims) + ". Received: b.shape=" + shape_str(o.arr));
    o.ptr = o.arr.data();
    return o;
}

// The cache opens with a header recording how the forward pass ran, so a backward handed another
// forward's cache (a different N and T of the same size, another cell, activation, direction,
// reset mode, recurrent mask or step mask given or not) is refused instead of returning wrong
// gradients. Small integers as floats, the same in the NumPy reference (fastnn/reference/rnn.py):
//   [tag, cell, N, T, C, OC, activation, recurrent activation (-1: none), go_backwards,
//    reset_after, recurrent mask given, step mask given (2: the rows sorted by it), the step
//    mask's fingerprint in two 16-bit halves, 0 ...]
// 16 values keep the kernel's part 64-byte aligned.
constexpr int64_t kCacheHeader = 16;
constexpr float kCacheTag = 8191.0f;

struct CacheMeta {
    RnnCell cell;
    Act act, ract;  // ract: the cell's own act for SimpleRNN (it has none; written as -1)
    bool go_backwards, reset_after, masked;
    int step_masked;  // 0: no step mask, 1: given, 2: given and the kernels sort the rows by it
    uint32_t fingerprint;  // of the step mask: a backward must run with its forward's
};

std::vector<float> cache_header(const CacheMeta& m, const RnnArgs& a) {
    std::vector<float> h((size_t)kCacheHeader, 0.0f);
    const float fields[] = {kCacheTag, (float)m.cell, (float)a.N, (float)a.T, (float)a.C, (float)a.OC, (float)m.act,
                            m.cell == RnnCell::SimpleRNN ? -1.0f : (float)m.ract, (float)m.go_backwards,
                            (float)(m.cell == RnnCell::GRU && m.reset_after), (float)m.masked,
                            (float)m.step_masked, (float)(m.fingerprint & 0xFFFFu), (float)(m.fingerprint >> 16)};
    std::copy(std::begin(fields), std::end(fields), h.begin());
    return h;
}

// The cache's size (header included), with every factor checked against overflow first.
int64_t cache_size(RnnCell cell, const RnnArgs& a, const char* op) {
    checked_numel({a.T + 1, a.N, a.OC + 1 + a.C}, op, "cache");
    checked_numel({a.T + 1, a.N, 6 * a.OC}, op, "cache");
    return kCacheHeader + rnn_cache_size(cell, a.N, a.T, a.C, a.OC);
}

FloatArray cache_array(py::handle obj, const CacheMeta& m, const RnnArgs& a, const char* op) {
    const int64_t want = cache_size(m.cell, a, op);
    FloatArray c = float_input(obj, op, "cache");
    if (c.size() != want)
        fail_value(std::string(op) + ": cache must be the forward pass's cache of " + std::to_string(want) +
                   " values for N=" + std::to_string(a.N) + ", T=" + std::to_string(a.T) + ", C=" + std::to_string(a.C) +
                   ", OC=" + std::to_string(a.OC) +
                   ". Received: cache.size=" + std::to_string(c.size()));
    const std::vector<float> here = cache_header(m, a);
    const float* there = c.data();
    if (there[0] != kCacheTag)
        fail_value(std::string(op) + ": cache is not a recurrent forward pass's cache (its header is missing)");
    static const char* const names[] = {"", "cell", "N", "T", "C", "OC", "activation", "recurrent_activation",
                                        "go_backwards", "reset_after", "recurrent_mask", "mask"};
    // (a damaged cache may hold any float: none is converted to an integer out of range, undefined behaviour)
    auto describe = [&](int i, float v) -> std::string {
        if (i == 1) return v == 0.0f ? "simple_rnn" : v == 1.0f ? "lstm" : v == 2.0f ? "gru" : "?";
        if (i == 6 || i == 7) {
            if (v < 0.0f) return "none";
            const bool small = v < 64.0f && v == std::floor(v);  // false for NaN
            return "'" + std::string(small ? activation_name((Act)(int)v) : "?") + "'";
        }
        if (i == 11 && v == 2.0f) return "given (rows sorted by it: the C++ kernels' cache)";
        if (i >= 10) return v != 0.0f ? "given" : "None";
        if (i >= 8) return v != 0.0f ? "True" : "False";
        return std::fabs(v) < 9.2e18f ? std::to_string((int64_t)v) : py::repr(py::float_(v)).cast<std::string>();
    };
    for (int i = 1; i <= 11; i++)
        if (there[i] != here[(size_t)i])
            fail_value(std::string(op) + ": cache comes from a different forward pass: " + names[i] + " was " +
                       describe(i, there[i]) + " there, " + describe(i, here[(size_t)i]) +
                       " here (a backward must get its own forward's cache and arguments)");
    if (there[12] != here[12] || there[13] != here[13])
        fail_value(std::string(op) + ": mask is not the one the forward pass ran with (a backward must get its own "
                   "forward's mask)");
    return c;
}

// Recurrent dropout's mask: (N, OC), finite and >= 0 (the layer's inverted-dropout scales), or None.
// Recurrent dropout's mask: (N, OC), or (3, N, OC) for a GRU (one per gate z, r, h).
OptionalArray recurrent_mask(py::handle obj, const RnnArgs& a, const char* op, bool per_gate = false) {
    OptionalArray m = per_gate ? optional_array(obj, {3, a.N, a.OC}, op, "recurrent_mask", "(3, N, OC)")
                               : optional_array(obj, {a.N, a.OC}, op, "recurrent_mask", "(N, OC)");
    if (m.ptr) {
        const float* p = m.ptr;
        const int64_t count = (per_gate ? 3 : 1) * a.N * a.OC;
        for (int64_t i = 0; i < count; i++)
            if (!(p[i] >= 0.0f) || std::isinf(p[i]))
                fail_value(std::string(op) + ": recurrent_mask must hold finite values >= 0 (0 drops a unit, 1/(1 - rate) "
                           "keeps it). Received: recurrent_mask.flat[" + std::to_string(i) + "]=" + std::to_string(p[i]));
    }
    return m;
}

// Keras's time-step mask: (N, T), boolean (or integer: nonzero keeps the step), or None.
struct StepMaskArg {
    py::array_t<uint8_t> arr;
    const uint8_t* ptr = nullptr;
    int mode = 0;  // the cache header's: 0 none, 1 given, 2 given and sorting the rows
    uint32_t fingerprint = 0;  // sum of fmix32(i + 1) over the kept flat indices i, mod 2^32
};

// MurmurHash3's 32-bit finalizer: a sum of a linear function of the indices would give kept steps
// {0, 3} and {1, 2} one fingerprint, so a backward with the wrong mask would pass the check.
inline uint32_t fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

StepMaskArg step_mask(py::handle obj, const RnnArgs& a, bool go_backwards, const char* op) {
    StepMaskArg m;
    if (obj.is_none()) return m;
    py::array arr = py::array::ensure(obj);
    if (!arr)
        fail_type(std::string(op) + ": mask must be a boolean array of shape (N, T) (True keeps a time step). "
                  "Received: an object of type " + py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
    const char kind = arr.dtype().kind();
    if (kind != 'b' && kind != 'i' && kind != 'u')
        fail_type(std::string(op) + ": mask must be a boolean array of shape (N, T) (True keeps a time step). "
                  "Received: dtype=" + py::str(arr.dtype()).cast<std::string>());
    if (dims_of(arr) != std::vector<int64_t>{a.N, a.T})
        fail_value(std::string(op) + ": mask must be (N, T) = " + shape_str({a.N, a.T}) + " to match x. Received: "
                   "mask.shape=" + shape_str(arr));
    if (kind != 'b') arr = arr.attr("astype")("bool");  // nonzero keeps the step (a cast to uint8 would wrap)
    m.arr = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(arr);
    m.ptr = m.arr.data();
    m.mode = rnn_sorts_rows(m.ptr, a.N, a.T, go_backwards) ? 2 : 1;
    for (int64_t i = 0; i < a.N * a.T; i++)
        if (m.ptr[i]) m.fingerprint += fmix32((uint32_t)(i + 1));
    return m;
}

py::array_t<float> zeros(const std::vector<int64_t>& dims, const char* op, const char* arg) {
    auto a = new_float_array(dims, op, arg);
    std::fill(a.mutable_data(), a.mutable_data() + a.size(), 0.0f);
    return a;
}

// The forward outputs: h_seq (or None), h_last, the cache.
struct ForwardOut {
    py::object h_seq = py::none();
    float* h_seq_ptr = nullptr;
    py::array_t<float> h_last, cache;
    float* kernel_cache = nullptr;  // the kernel's part, past the header
};

ForwardOut forward_out(const CacheMeta& m, const RnnArgs& a, bool return_sequences, const char* op) {
    ForwardOut o;
    if (return_sequences) {
        auto hs = new_float_array({a.N, a.T, a.OC}, op, "h_seq");
        o.h_seq_ptr = hs.mutable_data();
        o.h_seq = hs;
    }
    o.h_last = new_float_array({a.N, a.OC}, op, "h_last");
    o.cache = new_float_array({cache_size(m.cell, a, op)}, op, "cache");
    const std::vector<float> header = cache_header(m, a);
    std::copy(header.begin(), header.end(), o.cache.mutable_data());
    o.kernel_cache = o.cache.mutable_data() + kCacheHeader;
    return o;
}

// The backward outputs: dx (or None), dw, du (or None: need_dw False, a frozen layer), db (or
// None), dh0.
struct BackwardOut {
    py::object dx = py::none(), dw = py::none(), du = py::none(), db = py::none();
    float *dx_ptr = nullptr, *dw_ptr = nullptr, *du_ptr = nullptr, *db_ptr = nullptr;
    py::array_t<float> dh0;
};

BackwardOut backward_out(const RnnArgs& a, int64_t G, const std::vector<int64_t>& b_dims, bool use_bias, bool need_dx,
                         bool need_dw, const char* op) {
    BackwardOut o;
    if (need_dx) {
        auto dx = new_float_array({a.N, a.T, a.C}, op, "dx");
        o.dx_ptr = dx.mutable_data();
        o.dx = dx;
    }
    if (need_dw) {
        auto dw = zeros({a.C, G * a.OC}, op, "dw");
        auto du = zeros({a.OC, G * a.OC}, op, "du");
        o.dw_ptr = dw.mutable_data();
        o.du_ptr = du.mutable_data();
        o.dw = dw;
        o.du = du;
    }
    if (use_bias && need_dw) {
        auto db = zeros(b_dims, op, "db");
        o.db_ptr = db.mutable_data();
        o.db = db;
    }
    o.dh0 = new_float_array({a.N, a.OC}, op, "dh0");
    return o;
}

// ---- SimpleRNN ---------------------------------------------------------------------------------

py::tuple simple_rnn_forward_b(py::handle x_obj, py::handle w_obj, py::handle u_obj, py::handle b_obj,
                               py::handle h0_obj, py::handle activation, py::handle go_backwards_obj,
                               py::handle return_sequences_obj, py::handle mask_obj,
                         py::handle step_mask_obj) {
    const char* op = "simple_rnn_forward";
    const bool go_backwards = flag_arg(go_backwards_obj, op, "go_backwards");
    const bool return_sequences = flag_arg(return_sequences_obj, op, "return_sequences");
    const CellAct f = cell_activation(activation, op, "activation");
    RnnArgs a = rnn_args(x_obj, w_obj, u_obj, 1, op);
    OptionalArray b = bias_array(b_obj, {a.OC}, op);
    OptionalArray h0 = optional_array(h0_obj, {a.N, a.OC}, op, "h0", "(N, OC)");
    OptionalArray mask = recurrent_mask(mask_obj, a, op);
    StepMaskArg steps = step_mask(step_mask_obj, a, go_backwards, op);
    ForwardOut o = forward_out({RnnCell::SimpleRNN, f.act, f.act, go_backwards, false,
                                 mask.ptr != nullptr, steps.mode, steps.fingerprint}, a,
                                return_sequences, op);
    const float *X = a.x.data(), *W = a.w.data(), *U = a.u.data();
    float *HL = o.h_last.mutable_data(), *CA = o.kernel_cache;
    {
        py::gil_scoped_release release;
        simple_rnn_forward(o.h_seq_ptr, HL, CA, X, W, U, b.ptr, h0.ptr, a.N, a.T, a.C, a.OC, f.act, f.alpha,
                           go_backwards, mask.ptr, steps.ptr);
    }
    return py::make_tuple(o.h_seq, o.h_last, o.cache);
}

py::tuple simple_rnn_backward_b(py::handle dh_seq_obj, py::handle dh_last_obj, py::handle x_obj, py::handle w_obj,
                                py::handle u_obj, py::handle cache_obj, py::handle activation,
                                py::handle go_backwards_obj, py::handle use_bias_obj, py::handle need_dx_obj,
                                py::handle need_dw_obj, py::handle mask_obj, py::handle step_mask_obj) {
    const char* op = "simple_rnn_backward";
    const bool go_backwards = flag_arg(go_backwards_obj, op, "go_backwards");
    const bool use_bias = flag_arg(use_bias_obj, op, "use_bias");
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool need_dw = flag_arg(need_dw_obj, op, "need_dw");
    const CellAct f = cell_activation(activation, op, "activation");
    RnnArgs a = rnn_args(x_obj, w_obj, u_obj, 1, op);
    OptionalArray mask = recurrent_mask(mask_obj, a, op);
    StepMaskArg steps = step_mask(step_mask_obj, a, go_backwards, op);
    OptionalArray dh_seq = optional_array(dh_seq_obj, {a.N, a.T, a.OC}, op, "dh_seq", "(N, T, OC)");
    OptionalArray dh_last = optional_array(dh_last_obj, {a.N, a.OC}, op, "dh_last", "(N, OC)");
    FloatArray cache = cache_array(cache_obj, {RnnCell::SimpleRNN, f.act, f.act, go_backwards, false,
                                 mask.ptr != nullptr, steps.mode, steps.fingerprint},
                                   a, op);
    BackwardOut o = backward_out(a, 1, {a.OC}, use_bias, need_dx, need_dw, op);
    const float *W = a.w.data(), *U = a.u.data(), *CA = cache.data() + kCacheHeader;
    float *DW = o.dw_ptr, *DU = o.du_ptr, *DH0 = o.dh0.mutable_data();
    {
        py::gil_scoped_release release;
        simple_rnn_backward(o.dx_ptr, DW, DU, o.db_ptr, DH0, CA, dh_seq.ptr, dh_last.ptr, W, U, a.N, a.T, a.C, a.OC,
                            f.act, f.alpha, go_backwards, mask.ptr, steps.ptr);
    }
    return py::make_tuple(o.dx, o.dw, o.du, o.db, o.dh0);
}

// ---- LSTM --------------------------------------------------------------------------------------

py::tuple lstm_forward_b(py::handle x_obj, py::handle w_obj, py::handle u_obj, py::handle b_obj, py::handle h0_obj,
                         py::handle c0_obj, py::handle activation, py::handle recurrent_activation,
                         py::handle go_backwards_obj, py::handle return_sequences_obj, py::handle mask_obj,
                         py::handle step_mask_obj) {
    const char* op = "lstm_forward";
    const bool go_backwards = flag_arg(go_backwards_obj, op, "go_backwards");
    const bool return_sequences = flag_arg(return_sequences_obj, op, "return_sequences");
    const CellAct f = cell_activation(activation, op, "activation");
    const CellAct r = cell_activation(recurrent_activation, op, "recurrent_activation");
    RnnArgs a = rnn_args(x_obj, w_obj, u_obj, 4, op);
    OptionalArray b = bias_array(b_obj, {4 * a.OC}, op);
    OptionalArray h0 = optional_array(h0_obj, {a.N, a.OC}, op, "h0", "(N, OC)");
    OptionalArray c0 = optional_array(c0_obj, {a.N, a.OC}, op, "c0", "(N, OC)");
    OptionalArray mask = recurrent_mask(mask_obj, a, op);
    StepMaskArg steps = step_mask(step_mask_obj, a, go_backwards, op);
    ForwardOut o = forward_out({RnnCell::LSTM, f.act, r.act, go_backwards, false,
                                 mask.ptr != nullptr, steps.mode, steps.fingerprint}, a,
                                return_sequences, op);
    auto c_last = new_float_array({a.N, a.OC}, op, "c_last");
    const float *X = a.x.data(), *W = a.w.data(), *U = a.u.data();
    float *HL = o.h_last.mutable_data(), *CL = c_last.mutable_data(), *CA = o.kernel_cache;
    {
        py::gil_scoped_release release;
        lstm_forward(o.h_seq_ptr, HL, CL, CA, X, W, U, b.ptr, h0.ptr, c0.ptr, a.N, a.T, a.C, a.OC, f.act, f.alpha,
                     r.act, r.alpha, go_backwards, mask.ptr, steps.ptr);
    }
    return py::make_tuple(o.h_seq, o.h_last, c_last, o.cache);
}

py::tuple lstm_backward_b(py::handle dh_seq_obj, py::handle dh_last_obj, py::handle dc_last_obj, py::handle x_obj,
                          py::handle w_obj, py::handle u_obj, py::handle cache_obj, py::handle activation,
                          py::handle recurrent_activation, py::handle go_backwards_obj, py::handle use_bias_obj,
                          py::handle need_dx_obj, py::handle need_dw_obj, py::handle mask_obj,
                          py::handle step_mask_obj) {
    const char* op = "lstm_backward";
    const bool go_backwards = flag_arg(go_backwards_obj, op, "go_backwards");
    const bool use_bias = flag_arg(use_bias_obj, op, "use_bias");
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool need_dw = flag_arg(need_dw_obj, op, "need_dw");
    const CellAct f = cell_activation(activation, op, "activation");
    const CellAct r = cell_activation(recurrent_activation, op, "recurrent_activation");
    RnnArgs a = rnn_args(x_obj, w_obj, u_obj, 4, op);
    OptionalArray mask = recurrent_mask(mask_obj, a, op);
    StepMaskArg steps = step_mask(step_mask_obj, a, go_backwards, op);
    OptionalArray dh_seq = optional_array(dh_seq_obj, {a.N, a.T, a.OC}, op, "dh_seq", "(N, T, OC)");
    OptionalArray dh_last = optional_array(dh_last_obj, {a.N, a.OC}, op, "dh_last", "(N, OC)");
    OptionalArray dc_last = optional_array(dc_last_obj, {a.N, a.OC}, op, "dc_last", "(N, OC)");
    FloatArray cache = cache_array(cache_obj, {RnnCell::LSTM, f.act, r.act, go_backwards, false,
                                 mask.ptr != nullptr, steps.mode, steps.fingerprint}, a,
                                   op);
    BackwardOut o = backward_out(a, 4, {4 * a.OC}, use_bias, need_dx, need_dw, op);
    auto dc0 = new_float_array({a.N, a.OC}, op, "dc0");
    const float *W = a.w.data(), *U = a.u.data(), *CA = cache.data() + kCacheHeader;
    float *DW = o.dw_ptr, *DU = o.du_ptr, *DH0 = o.dh0.mutable_data(), *DC0 = dc0.mutable_data();
    {
        py::gil_scoped_release release;
        lstm_backward(o.dx_ptr, DW, DU, o.db_ptr, DH0, DC0, CA, dh_seq.ptr, dh_last.ptr, dc_last.ptr, W, U, a.N, a.T,
                      a.C, a.OC, f.act, f.alpha, r.act, r.alpha, go_backwards, mask.ptr, steps.ptr);
    }
    return py::make_tuple(o.dx, o.dw, o.du, o.db, o.dh0, dc0);
}

// ---- GRU ---------------------------------------------------------------------------------------

std::vector<int64_t> gru_bias_dims(int64_t OC, bool reset_after) {
    return reset_after ? std::vector<int64_t>{2, 3 * OC} : std::vector<int64_t>{3 * OC};
}

py::tuple gru_forward_b(py::handle x_obj, py::handle w_obj, py::handle u_obj, py::handle b_obj, py::handle h0_obj,
                        py::handle reset_after_obj, py::handle activation, py::handle recurrent_activation,
                        py::handle go_backwards_obj, py::handle return_sequences_obj, py::handle mask_obj,
                         py::handle step_mask_obj) {
    const char* op = "gru_forward";
    const bool reset_after = flag_arg(reset_after_obj, op, "reset_after");
    const bool go_backwards = flag_arg(go_backwards_obj, op, "go_backwards");
    const bool return_sequences = flag_arg(return_sequences_obj, op, "return_sequences");
    const CellAct f = cell_activation(activation, op, "activation");
    const CellAct r = cell_activation(recurrent_activation, op, "recurrent_activation");
    RnnArgs a = rnn_args(x_obj, w_obj, u_obj, 3, op);
    OptionalArray b = bias_array(b_obj, gru_bias_dims(a.OC, reset_after), op);
    OptionalArray h0 = optional_array(h0_obj, {a.N, a.OC}, op, "h0", "(N, OC)");
    OptionalArray mask = recurrent_mask(mask_obj, a, op, true);
    StepMaskArg steps = step_mask(step_mask_obj, a, go_backwards, op);
    ForwardOut o = forward_out({RnnCell::GRU, f.act, r.act, go_backwards, reset_after,
                                 mask.ptr != nullptr, steps.mode, steps.fingerprint}, a,
                                return_sequences, op);
    const float *X = a.x.data(), *W = a.w.data(), *U = a.u.data();
    float *HL = o.h_last.mutable_data(), *CA = o.kernel_cache;
    {
        py::gil_scoped_release release;
        gru_forward(o.h_seq_ptr, HL, CA, X, W, U, b.ptr, h0.ptr, a.N, a.T, a.C, a.OC, f.act, f.alpha, r.act, r.alpha,
                    reset_after, go_backwards, mask.ptr, steps.ptr);
    }
    return py::make_tuple(o.h_seq, o.h_last, o.cache);
}

py::tuple gru_backward_b(py::handle dh_seq_obj, py::handle dh_last_obj, py::handle x_obj, py::handle w_obj,
                         py::handle u_obj, py::handle cache_obj, py::handle reset_after_obj, py::handle activation,
                         py::handle recurrent_activation, py::handle go_backwards_obj, py::handle use_bias_obj,
                         py::handle need_dx_obj, py::handle need_dw_obj, py::handle mask_obj,
                          py::handle step_mask_obj) {
    const char* op = "gru_backward";
    const bool reset_after = flag_arg(reset_after_obj, op, "reset_after");
    const bool go_backwards = flag_arg(go_backwards_obj, op, "go_backwards");
    const bool use_bias = flag_arg(use_bias_obj, op, "use_bias");
    const bool need_dx = flag_arg(need_dx_obj, op, "need_dx");
    const bool need_dw = flag_arg(need_dw_obj, op, "need_dw");
    const CellAct f = cell_activation(activation, op, "activation");
    const CellAct r = cell_activation(recurrent_activation, op, "recurrent_activation");
    RnnArgs a = rnn_args(x_obj, w_obj, u_obj, 3, op);
    OptionalArray mask = recurrent_mask(mask_obj, a, op, true);
    StepMaskArg steps = step_mask(step_mask_obj, a, go_backwards, op);
    OptionalArray dh_seq = optional_array(dh_seq_obj, {a.N, a.T, a.OC}, op, "dh_seq", "(N, T, OC)");
    OptionalArray dh_last = optional_array(dh_last_obj, {a.N, a.OC}, op, "dh_last", "(N, OC)");
    FloatArray cache = cache_array(cache_obj, {RnnCell::GRU, f.act, r.act, go_backwards, reset_after,
                                 mask.ptr != nullptr, steps.mode, steps.fingerprint},
                                   a, op);
    BackwardOut o = backward_out(a, 3, gru_bias_dims(a.OC, reset_after), use_bias, need_dx, need_dw, op);
    const float *W = a.w.data(), *U = a.u.data(), *CA = cache.data() + kCacheHeader;
    float *DW = o.dw_ptr, *DU = o.du_ptr, *DH0 = o.dh0.mutable_data();
    {
        py::gil_scoped_release release;
        gru_backward(o.dx_ptr, DW, DU, o.db_ptr, DH0, CA, dh_seq.ptr, dh_last.ptr, W, U, a.N, a.T, a.C, a.OC, f.act,
                     f.alpha, r.act, r.alpha, reset_after, go_backwards, mask.ptr, steps.ptr);
    }
    return py::make_tuple(o.dx, o.dw, o.du, o.db, o.dh0);
}

// ---- One LSTM cell step over independent rows (ConvLSTM) ------------------------------------------

// c_prev (..., OC) with OC >= 1: its dims.
std::vector<int64_t> cell_state_dims(const FloatArray& c_prev, const char* op) {
    if (c_prev.ndim() == 0 || c_prev.shape(c_prev.ndim() - 1) == 0)
        fail_value(std::string(op) + ": c_prev must be (..., OC) with OC >= 1. Received: c_prev.shape=" +
                   shape_str(c_prev));
    return dims_of(c_prev);
}

// `a` must be c_prev's dims with the last one k·OC.
void require_cell_block(const FloatArray& a, const std::vector<int64_t>& state, int64_t k, const char* op,
                        const char* arg) {
    std::vector<int64_t> want = state;
    want.back() *= k;
    if (dims_of(a) != want)
        fail_value(std::string(op) + ": " + arg + " must be " + (k == 1 ? "(..., OC)" : "(..., 4*OC)") + " = " +
                   shape_str(want) + " to match c_prev " + shape_str(state) + ". Received: " + arg + ".shape=" +
                   shape_str(a));
}

py::tuple lstm_cell_forward_b(py::handle z_obj, py::handle c_prev_obj, py::handle activation,
                              py::handle recurrent_activation) {
    const char* op = "lstm_cell_forward";
    const CellAct f = cell_activation(activation, op, "activation");
    const CellAct r = cell_activation(recurrent_activation, op, "recurrent_activation");
    FloatArray z = float_input(z_obj, op, "z");
    FloatArray c_prev = float_input(c_prev_obj, op, "c_prev");
    const std::vector<int64_t> state = cell_state_dims(c_prev, op);
    require_cell_block(z, state, 4, op, "z");
    const int64_t OC = state.back(), rows = checked_numel(state, op, "c_prev") / OC;
    auto gates = new_float_array(dims_of(z), op, "gates");
    auto c = new_float_array(state, op, "c");
    auto a = new_float_array(state, op, "a");
    auto h = new_float_array(state, op, "h");
    float *G = gates.mutable_data(), *Cn = c.mutable_data(), *An = a.mutable_data(), *Hn = h.mutable_data();
    const float *Z = z.data(), *Cp = c_prev.data();
    {
        py::gil_scoped_release release;
        lstm_cell_rows_forward(G, Cn, An, Hn, Z, Cp, rows, OC, f.act, f.alpha, r.act, r.alpha);
    }
    return py::make_tuple(gates, c, a, h);
}

py::tuple lstm_cell_backward_b(py::handle dh_obj, py::handle dc_obj, py::handle gates_obj, py::handle a_obj,
                               py::handle c_prev_obj, py::handle activation, py::handle recurrent_activation) {
    const char* op = "lstm_cell_backward";
    const CellAct f = cell_activation(activation, op, "activation");
    const CellAct r = cell_activation(recurrent_activation, op, "recurrent_activation");
    FloatArray dh = float_input(dh_obj, op, "dh");
    FloatArray gates = float_input(gates_obj, op, "gates");
    FloatArray a = float_input(a_obj, op, "a");
    FloatArray c_prev = float_input(c_prev_obj, op, "c_prev");
    const std::vector<int64_t> state = cell_state_dims(c_prev, op);
    require_cell_block(dh, state, 1, op, "dh");
    OptionalArray dc;
    if (!dc_obj.is_none()) {
        dc.arr = float_input(dc_obj, op, "dc");
        require_cell_block(dc.arr, state, 1, op, "dc");
        dc.ptr = dc.arr.data();
    }
    require_cell_block(gates, state, 4, op, "gates");
    require_cell_block(a, state, 1, op, "a");
    const int64_t OC = state.back(), rows = checked_numel(state, op, "c_prev") / OC;
    auto dz = new_float_array(dims_of(gates), op, "dz");
    auto dc_prev = new_float_array(state, op, "dc_prev");
    float *DZ = dz.mutable_data(), *DC = dc_prev.mutable_data();
    const float *DH = dh.data(), *G = gates.data(), *A = a.data(), *Cp = c_prev.data();
    {
        py::gil_scoped_release release;
        lstm_cell_rows_backward(DZ, DC, DH, dc.ptr, G, A, Cp, rows, OC, f.act, f.alpha, r.act, r.alpha);
    }
    return py::make_tuple(dz, dc_prev);
}

}  // namespace

void register_rnn(py::module_& m) {
    m.def("lstm_cell_forward", &lstm_cell_forward_b, py::arg("z"), py::arg("c_prev"), py::kw_only(),
          py::arg("activation") = "tanh", py::arg("recurrent_activation") = "sigmoid",
          "(gates, c, a, h) of one LSTM step over independent rows: z (..., 4*OC) the gates' pre-activations "
          "[i f c o], c_prev (..., OC).");
    m.def("lstm_cell_backward", &lstm_cell_backward_b, py::arg("dh"), py::arg("dc"), py::arg("gates"), py::arg("a"),
          py::arg("c_prev"), py::kw_only(), py::arg("activation") = "tanh",
          py::arg("recurrent_activation") = "sigmoid",
          "(dz, dc_prev): the gradients of lstm_cell_forward from dh and dc (None: zeros) reaching h and c.");
    m.def("simple_rnn_forward", &simple_rnn_forward_b, py::arg("x"), py::arg("w"), py::arg("u"),
          py::arg("b") = py::none(), py::arg("h0") = py::none(), py::kw_only(), py::arg("activation") = "tanh",
          py::arg("go_backwards") = false, py::arg("return_sequences") = true, py::arg("recurrent_mask") = py::none(),
          py::arg("mask") = py::none(),
          "(h_seq, h_last, cache) of h_t = activation(x_t @ w + b + (h_{t-1} * recurrent_mask) @ u) over x (N, T, C).");
    m.def("simple_rnn_backward", &simple_rnn_backward_b, py::arg("dh_seq"), py::arg("dh_last"), py::arg("x"),
          py::arg("w"), py::arg("u"), py::arg("cache"), py::kw_only(), py::arg("activation") = "tanh",
          py::arg("go_backwards") = false, py::arg("use_bias") = true, py::arg("need_dx") = true,
          py::arg("need_dw") = true, py::arg("recurrent_mask") = py::none(), py::arg("mask") = py::none(),
          "(dx, dw, du, db, dh0): backpropagation through time of simple_rnn_forward (the same recurrent_mask).");
    m.def("lstm_forward", &lstm_forward_b, py::arg("x"), py::arg("w"), py::arg("u"), py::arg("b") = py::none(),
          py::arg("h0") = py::none(), py::arg("c0") = py::none(), py::kw_only(), py::arg("activation") = "tanh",
          py::arg("recurrent_activation") = "sigmoid", py::arg("go_backwards") = false,
          py::arg("return_sequences") = true, py::arg("recurrent_mask") = py::none(),
          py::arg("mask") = py::none(),
          "(h_seq, h_last, c_last, cache) of a Keras LSTM (gates i, f, c, o) over x (N, T, C); recurrent_mask "
          "(N, OC) scales h_{t-1} where it enters the recurrent product (recurrent dropout).");
    m.def("lstm_backward", &lstm_backward_b, py::arg("dh_seq"), py::arg("dh_last"), py::arg("dc_last"), py::arg("x"),
          py::arg("w"), py::arg("u"), py::arg("cache"), py::kw_only(), py::arg("activation") = "tanh",
          py::arg("recurrent_activation") = "sigmoid", py::arg("go_backwards") = false, py::arg("use_bias") = true,
          py::arg("need_dx") = true, py::arg("need_dw") = true, py::arg("recurrent_mask") = py::none(),
          py::arg("mask") = py::none(),
          "(dx, dw, du, db, dh0, dc0): backpropagation through time of lstm_forward (the same recurrent_mask).");
    m.def("gru_forward", &gru_forward_b, py::arg("x"), py::arg("w"), py::arg("u"), py::arg("b") = py::none(),
          py::arg("h0") = py::none(), py::kw_only(), py::arg("reset_after") = true, py::arg("activation") = "tanh",
          py::arg("recurrent_activation") = "sigmoid", py::arg("go_backwards") = false,
          py::arg("return_sequences") = true, py::arg("recurrent_mask") = py::none(),
          py::arg("mask") = py::none(),
          "(h_seq, h_last, cache) of a Keras GRU (gates z, r, h) over x (N, T, C); recurrent_mask (3, N, OC) "
          "scales h_{t-1} where it enters each gate's recurrent product (recurrent dropout, one mask per gate).");
    m.def("gru_backward", &gru_backward_b, py::arg("dh_seq"), py::arg("dh_last"), py::arg("x"), py::arg("w"),
          py::arg("u"), py::arg("cache"), py::kw_only(), py::arg("reset_after") = true, py::arg("activation") = "tanh",
          py::arg("recurrent_activation") = "sigmoid", py::arg("go_backwards") = false, py::arg("use_bias") = true,
          py::arg("need_dx") = true, py::arg("need_dw") = true, py::arg("recurrent_mask") = py::none(),
          py::arg("mask") = py::none(),
          "(dx, dw, du, db, dh0): backpropagation through time of gru_forward (the same recurrent_mask).");
}

}  // namespace fastnn::bind
