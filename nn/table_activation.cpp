// DAPA and PWL activations; see table_activation.h.
#include "nn/table_activation.h"

#include <cstdint>

#include "autograd/ops.h"

namespace dapa {

TableActivation::TableActivation(std::string name, const PiecewiseLinear& table)
    : name_(std::move(name)), segments_(table.segments()), mode_(table.mode) {
  set_table(table);
}

TableActivation::TableActivation(std::string name, int segments, DerivativeMode mode)
    : name_(std::move(name)), segments_(segments), mode_(mode) {}

void TableActivation::set_table(const PiecewiseLinear& table) {
  table_ = table;
  kernel_ = std::make_shared<const TableKernel>(table_);
}

void TableActivation::fit() {
  set_table(fit_dapa(distribution_, segments_, Target::GeluErf, mode_));
}

Tensor TableActivation::apply(const Tensor& x) {
  if (calibrating()) {
    distribution_.add(x);
    return gelu(x);
  }
  return table_forward(*kernel_, x);
}

Tensor TableActivation::backward(const Tensor& x, const Tensor& gy) {
  return calibrating() ? gelu_backward(x, gy) : table_backward(*kernel_, x, gy);
}

ValueAndDerivative TableActivation::apply_with_derivative(const Tensor& x) {
  // Called by backward passes (the inputs were recorded by the forward already).
  return calibrating() ? gelu_value_and_derivative(x) : table_value_and_derivative(*kernel_, x);
}

Var TableActivation::forward(const Var& x) {
  if (calibrating()) {
    distribution_.add(x.value());
    return gelu(x);
  }
  std::shared_ptr<const TableKernel> k = kernel_;
  if (k->mode == DerivativeMode::Slope) {
    // Backward needs only each element's segment: one byte instead of the float input.
    auto index = std::make_shared<std::vector<uint8_t>>();
    Tensor y = table_forward(*k, x.value(), index.get());
    return record("dapa", y, {x}, [k, index](const Tensor& gy, const Needs&) -> Grads {
      return {table_backward_from_index(*k, *index, gy)};
    });
  }
  Tensor xv = x.value();
  return record(
      "dapa", table_forward(*k, xv), {x},
      [k, xv](const Tensor& gy, const Needs&) -> Grads { return {table_backward(*k, xv, gy)}; });
}

}  // namespace dapa
