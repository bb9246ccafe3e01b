// DAPA and PWL in the activation slot (`--act dapa:N`, `--act pwl:N`). A DAPA activation
// starts out calibrating: it computes the exact target (GELU) and records what enters
// it into its distribution, until fit() turns that into its table. PWL's table is fixed
// at construction. With a table, forward is the fused kernel; in `slope` mode backward
// needs only the one-byte segment index saved per element.
#pragma once

#include <memory>
#include <string>

#include "dapa/kernel.h"
#include "nn/activation.h"

namespace dapa {

class TableActivation : public Activation {
 public:
  TableActivation(std::string name, const PiecewiseLinear& table);       // ready (PWL)
  TableActivation(std::string name, int segments, DerivativeMode mode);  // DAPA: calibrating

  std::string name() const override { return name_; }
  Tensor apply(const Tensor& x) override;
  Tensor backward(const Tensor& x, const Tensor& gy) override;
  ValueAndDerivative apply_with_derivative(const Tensor& x) override;
  Var forward(const Var& x) override;

  bool calibrating() const { return kernel_ == nullptr; }
  int segments() const { return segments_; }
  void fit();  // DAPA(segments) from the distribution collected so far
  void set_table(const PiecewiseLinear& table);
  const PiecewiseLinear& table() const { return table_; }
  const Distribution& distribution() const { return distribution_; }

 private:
  std::string name_;
  int segments_ = 0;
  DerivativeMode mode_ = DerivativeMode::Slope;
  PiecewiseLinear table_;
  std::shared_ptr<const TableKernel> kernel_;  // shared with backward closures
  Distribution distribution_;
};

}  // namespace dapa
