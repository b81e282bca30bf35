// module.cpp — fastnn._core: the module definition and introspection (version, threads, info).
// Each family registers its ops from its own bind_*.cpp.

#include <string>

#include "checks.h"

namespace fastnn::bind {
void register_gemm(py::module_& m);
void register_attention(py::module_& m);
void register_dense(py::module_& m);
void register_loss(py::module_& m);
void register_rnn(py::module_& m);
void register_optim(py::module_& m);
void register_norm(py::module_& m);
void register_conv(py::module_& m);
}  // namespace fastnn::bind

namespace {

std::string compiler_string() {
#if defined(__clang__)
    return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
    return "msvc " + std::to_string(_MSC_VER);
#else
    return "unknown";
#endif
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    namespace py = pybind11;
    m.doc() = "fastnn's C++ kernels (private: use fastnn.ops)";
    m.attr("__version__") = FASTNN_VERSION;
    m.attr("compiler") = compiler_string();
    m.attr("openmp") = fastnn::openmp_enabled();
    m.attr("cuda_built") = (bool)FASTNN_CUDA_BUILT;

    m.def("get_num_threads", &fastnn::num_threads, "Threads the kernels use.");
    m.def(
        "set_num_threads",
        [](py::handle n_obj) {
            // Python ints and integer NumPy scalars (operator.index), never bools or floats
            if (!fastnn::bind::is_int_scalar(n_obj))
                throw py::type_error("set_num_threads: n must be an int. Received: " +
                                     py::str(py::type::of(n_obj)).cast<std::string>());
            const py::int_ n(py::module_::import("operator").attr("index")(n_obj));
            // compared as Python ints, so 10**20 is a ValueError, not an overflowing cast
            if (!(n >= py::int_(1) && n <= py::int_(4096)))
                throw py::value_error("set_num_threads: n must be a positive thread count (1..4096). Received: n=" +
                                      py::repr(n_obj).cast<std::string>());
            fastnn::set_num_threads(n.cast<int>());
        },
        py::arg("n"), "Set the number of threads the kernels use (ignored without OpenMP).");
    m.def(
        "_output_cache",
        []() {
            const auto usage = fastnn::bind::output_cache_usage();
            return py::make_tuple(usage.first, usage.second);
        },
        "(blocks, bytes) of freed output arrays kept for reuse by outputs of the same size.");
    m.def("_clear_output_cache", &fastnn::bind::clear_output_cache, "Free the blocks _output_cache() counts.");

    fastnn::bind::register_gemm(m);
    fastnn::bind::register_attention(m);
    fastnn::bind::register_dense(m);
    fastnn::bind::register_loss(m);
    fastnn::bind::register_rnn(m);
    fastnn::bind::register_optim(m);
    fastnn::bind::register_norm(m);
    fastnn::bind::register_conv(m);
}
