// bind_loss.cpp — losses (Keras semantics) and the fused cross-entropy backward.

#include "checks.h"

namespace fastnn::bind {

namespace {

// The checked, flattened view of (y_true, y_pred[, sample_weight]) shared by the loss ops.
struct LossArgs {
    FloatArray y_pred, y_true, weight;
    std::vector<int64_t> labels;
    bool has_weight = false;  // a default-constructed array_t is an empty array, not a null handle
    int64_t N = 0, C = 0;
    const float* true_ptr() const { return labels.empty() ? y_true.data() : nullptr; }
    const int64_t* label_ptr() const { return labels.empty() ? nullptr : labels.data(); }
    const float* weight_ptr() const { return has_weight ? weight.data() : nullptr; }
};

// y_pred is (N,) or (N, C...) (flattened to (N, C)); y_true must hold the same number of values
// per sample (so (N,) targets fit an (N, 1) prediction), or be labels for the sparse loss.
LossArgs loss_args(py::handle y_true_obj, py::handle y_pred_obj, py::handle weight_obj, bool sparse,
                   const char* op, const char* pred_name) {
    LossArgs a;
    a.y_pred = float_input(y_pred_obj, op, pred_name);
    if (a.y_pred.ndim() < 1)
        fail_value(std::string(op) + ": " + pred_name + " must be (N, C) or (N,). Received: " + pred_name + ".shape=()");
    a.N = a.y_pred.shape(0);
    a.C = 1;  // values per sample: the product of the trailing dims
    for (int d = 1; d < a.y_pred.ndim(); d++) a.C *= a.y_pred.shape(d);
    if (a.N == 0)
        fail_value(std::string(op) + ": the batch is empty; a mean over zero samples is undefined. Received: " +
                   pred_name + ".shape=" + shape_str(a.y_pred));
    if (a.C == 0)
        fail_value(std::string(op) + ": " + pred_name + " has no values per sample. Received: " + pred_name +
                   ".shape=" + shape_str(a.y_pred));
    if (sparse) {
        a.labels = class_labels(y_true_obj, a.N, a.C, op, "y_true");
    } else {
        a.y_true = float_input(y_true_obj, op, "y_true");
        if (a.y_true.ndim() < 1 || a.y_true.shape(0) != a.N || a.y_true.size() != a.y_pred.size())
            fail_value(std::string(op) + ": y_true must match " + pred_name + "'s shape " + shape_str(a.y_pred) +
                       ". Received: y_true.shape=" + shape_str(a.y_true));
    }
    if (!weight_obj.is_none()) {
        a.weight = float_input(weight_obj, op, "sample_weight");
        a.has_weight = true;
        if (a.weight.ndim() != 1 || a.weight.shape(0) != a.N)
            fail_value(std::string(op) + ": sample_weight must be (N,) with N=" + std::to_string(a.N) +
                       ". Received: sample_weight.shape=" + shape_str(a.weight));
    }
    return a;
}

// The loss named by `name`; from_logits is only for the cross-entropies.
Loss parse_loss_logits(py::handle name, bool from_logits, const char* op) {
    const Loss loss = parse_loss(name, op);
    if (from_logits && (loss == Loss::MeanSquaredError || loss == Loss::MeanAbsoluteError))
        fail_value(std::string(op) + ": from_logits applies to the cross-entropies only. Received: loss=" +
                   py::repr(name).cast<std::string>());
    return loss;
}

// The categorical cross-entropies take their classes on y_pred's second axis: an (N, T, C) output
// flattened to (N, T·C) would be one distribution over T·C values (a wrong loss, silently).
void require_class_axis(const py::array& y_pred, bool categorical, const char* op, const char* pred_name) {
    if (categorical && y_pred.ndim() > 2)
        fail_value(std::string(op) + ": the categorical cross-entropies take " + pred_name + " of shape (N, C) (the "
                   "classes on the last axis); reshape a sequence output (N, T, C) to (N*T, C). Received: " +
                   pred_name + ".shape=" + shape_str(y_pred));
}

bool categorical(Loss loss) {
    return loss == Loss::CategoricalCrossentropy || loss == Loss::SparseCategoricalCrossentropy;
}

double loss_forward_b(py::handle y_true, py::handle y_pred, py::handle name, py::handle from_logits_obj,
                      py::handle sample_weight) {
    const char* op = "loss_forward";
    const bool from_logits = flag_arg(from_logits_obj, op, "from_logits");
    const Loss loss = parse_loss_logits(name, from_logits, op);
    LossArgs a = loss_args(y_true, y_pred, sample_weight, loss == Loss::SparseCategoricalCrossentropy, op, "y_pred");
    require_class_axis(a.y_pred, categorical(loss), op, "y_pred");
    py::gil_scoped_release release;
    return loss_forward(a.y_pred.data(), a.true_ptr(), a.label_ptr(), a.weight_ptr(), a.N, a.C, loss, from_logits);
}

py::array_t<float> loss_backward_b(py::handle y_true, py::handle y_pred, py::handle name, py::handle from_logits_obj,
                                   py::handle sample_weight) {
    const char* op = "loss_backward";
    const bool from_logits = flag_arg(from_logits_obj, op, "from_logits");
    const Loss loss = parse_loss_logits(name, from_logits, op);
    LossArgs a = loss_args(y_true, y_pred, sample_weight, loss == Loss::SparseCategoricalCrossentropy, op, "y_pred");
    require_class_axis(a.y_pred, categorical(loss), op, "y_pred");
    std::vector<int64_t> dims(a.y_pred.shape(), a.y_pred.shape() + a.y_pred.ndim());
    auto d = new_float_array(dims, op, "dy_pred");
    float* D = d.mutable_data();
    {
        py::gil_scoped_release release;
        loss_backward(D, a.y_pred.data(), a.true_ptr(), a.label_ptr(), a.weight_ptr(), a.N, a.C, loss, from_logits);
    }
    return d;
}

py::array_t<float> crossentropy_logits_backward_b(py::handle y_true, py::handle probs, py::handle sigmoid_obj,
                                                  py::handle sample_weight) {
    const char* op = "crossentropy_logits_backward";
    const bool sigmoid = flag_arg(sigmoid_obj, op, "sigmoid");
    // Integer labels (or a 1-D target for a multi-class softmax) select the sparse form.
    py::array t = py::array::ensure(y_true);
    py::array p = py::array::ensure(probs);
    const bool sparse = !sigmoid && t && p && p.ndim() == 2 && p.shape(1) > 1 &&
                        (t.ndim() == 1 || (t.ndim() == 2 && t.shape(1) == 1)) ;
    LossArgs a = loss_args(y_true, probs, sample_weight, sparse, op, "probs");
    require_class_axis(a.y_pred, !sigmoid, op, "probs");
    std::vector<int64_t> dims(a.y_pred.shape(), a.y_pred.shape() + a.y_pred.ndim());
    auto d = new_float_array(dims, op, "dz");
    float* D = d.mutable_data();
    {
        py::gil_scoped_release release;
        crossentropy_logits_backward(D, a.y_pred.data(), a.true_ptr(), a.label_ptr(), a.weight_ptr(), a.N, a.C,
                                     sigmoid);
    }
    return d;
}

}  // namespace

void register_loss(py::module_& m) {
    m.def("loss_forward", &loss_forward_b, py::arg("y_true"), py::arg("y_pred"), py::arg("loss"),
          py::arg("from_logits") = false, py::arg("sample_weight") = py::none(),
          "The batch loss sum_i(w_i * l_i) / N with Keras's per-sample losses and clipping.");
    m.def("loss_backward", &loss_backward_b, py::arg("y_true"), py::arg("y_pred"), py::arg("loss"),
          py::arg("from_logits") = false, py::arg("sample_weight") = py::none(),
          "d loss_forward / d y_pred.");
    m.def("crossentropy_logits_backward", &crossentropy_logits_backward_b, py::arg("y_true"), py::arg("probs"),
          py::arg("sigmoid") = false, py::arg("sample_weight") = py::none(),
          "Gradient w.r.t. the logits of softmax (or sigmoid) + cross-entropy, given the probabilities.");
}

}  // namespace fastnn::bind
