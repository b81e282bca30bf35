// module.cpp — fastnn._core: the module definition and introspection (version, threads, info).
// Each family registers its ops from its own bind_*.cpp.

#include <string>

#include "checks.h"

namespace fastnn::bind {
void register_gemm(py::module_& m);
void register_dense(py::module_& m);
void register_loss(py::module_& m);
void register_rnn(py::module_& m);
void register_optim(py::module_& m);
void register_norm(py::module_& m);
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
            if (!py::isinstance<py::int_>(n_obj) || py::isinstance<py::bool_>(n_obj))
                throw py::type_error("set_num_threads: n must be an int. Received: " +
                                     py::str(py::type::of(n_obj)).cast<std::string>());
            const long long n = n_obj.cast<long long>();
            if (n < 1 || n > 4096)
                throw py::value_error("set_num_threads: n must be a positive thread count (1..4096). Received: n=" +
                                      std::to_string(n));
            fastnn::set_num_threads((int)n);
        },
        py::arg("n"), "Set the number of threads the kernels use (ignored without OpenMP).");

    fastnn::bind::register_gemm(m);
    fastnn::bind::register_dense(m);
    fastnn::bind::register_loss(m);
    fastnn::bind::register_rnn(m);
    fastnn::bind::register_optim(m);
    fastnn::bind::register_norm(m);
}
