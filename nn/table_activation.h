// DAPA and PWL in the activation slot: `--act dapa:N[:slope|:fitted][:refined][:fixed]` and
// `--act pwl:N[:fixed]`, each with an optional `:FUNCTION`, the registered function it
// approximates (core/functions.h; GELU by default). A DAPA activation starts out
// calibrating: it computes the exact function and records what enters it into its
// distribution until fit() turns that into its table. PWL's table is fixed at
// construction; its fixed-point form still needs the distribution to choose its Q
// formats. With a table, the value is the fused kernel (the float one, or the integer
// reference of the hardware unit for `:fixed`) and the derivative the table's (slope
// mode: each segment's slope; fitted mode: the fitted derivative lines).
#pragma once

#include <memory>
#include <string>

#include "dapa/fixed_point.h"
#include "dapa/kernel.h"
#include "nn/activation.h"

namespace dapa {

struct TableSpec {
  bool dapa = true;                                              // false: PWL
  const ElementwiseFunction* function = &find_function("gelu");  // what the table approximates
  int segments = 16;
  DerivativeMode mode = DerivativeMode::Slope;
  bool refined = false;  // breakpoints moved from the quantiles to lower the DWMSE
  bool fixed = false;
  // The exp of an attention softmax (`--softmax`): its table is bounded to the scores'
  // domain [lo, 0] and checked as dapa/softmax_table.h says, and its kernels floor the
  // values at 0 (a softmax counts negative table values as 0); PWL is fitted on that
  // domain too, so it also calibrates first.
  bool softmax = false;
};

class TableActivation : public Activation {
 public:
  TableActivation(std::string name, const TableSpec& spec);

  std::string name() const override { return name_; }
  // Records x while calibrating or recording (see below).
  Tensor value(const Tensor& x) override;
  ValueAndDerivative value_and_derivative(const Tensor& x) override;
  // For fused kernels: the table on raw runs (the exact function while calibrating), and
  // what enters it, shown while recording.
  std::shared_ptr<const RowFunction> rows() override;
  bool recording() const override { return calibrating() || recording_; }
  void observe(const Tensor& x) override;

  const TableSpec& spec() const { return spec_; }
  int segments() const { return spec_.segments; }
  // Segments of its table: N for DAPA, N + 2 for PWL (its two constant tails).
  int table_segments() const { return spec_.dapa ? spec_.segments : spec_.segments + 2; }
  bool calibrating() const { return !kernel_ || (spec_.fixed && !fixed_); }

  // Record what enters from now on (into an emptied distribution), also with a table:
  // what --dapa-refit-every fits from.
  void start_recording();
  // The table from a distribution (DAPA: fitted; PWL: kept) and, for `:fixed`, its
  // 16-bit form with formats chosen on it. Recording stops.
  void fit_from(const Distribution& d, const QuantizeOptions& q = {});
  void fit(const QuantizeOptions& q = {}) { fit_from(distribution_, q); }
  // A table from elsewhere (a file, a shared fit); the mode follows the spec. For
  // `:fixed` without a fixed table, one is quantised on `d` (throws if d is empty).
  // Recording stops: every site of a shared table stops with the site fitted. Throws
  // std::invalid_argument if the table approximates another function.
  void set_table(const PiecewiseLinear& table, const FixedTable* fixed,
                 const Distribution* d = nullptr, const QuantizeOptions& q = {});
  const PiecewiseLinear& table() const { return table_; }
  const FixedTable* fixed_table() const { return fixed_ ? &fixed_->table : nullptr; }
  const Distribution& distribution() const { return distribution_; }
  // What was recorded since the last take (the distribution, emptied; recording goes
  // on), and a distribution to fit from (pooled from parts of a batch, or from ranks).
  Distribution take_recorded();
  void set_recorded(Distribution d) { distribution_ = std::move(d); }

 private:
  std::string name_;
  TableSpec spec_;
  PiecewiseLinear table_;
  // Shared with backward closures. For `:fixed`, kernel_ holds the dequantised table, so
  // that the index backward multiplies by exactly the unit's slope words.
  std::shared_ptr<const TableKernel> kernel_;
  std::shared_ptr<const FixedKernel> fixed_;
  Distribution distribution_;
  bool recording_ = false;
};

// The names parse_table_spec takes, for help texts and errors.
inline constexpr const char* kTableActivationNames =
    "dapa:N[:slope|:fitted][:refined][:fixed][:FUNCTION] or pwl:N[:fixed][:FUNCTION]";
inline constexpr const char* kSoftmaxNames =
    "exact, dapa:N[:slope|:fitted][:refined][:fixed] or pwl:N[:fixed]";

// One of kTableActivationNames, N from 1 to 256 (pwl: 254), the options in any order,
// each at most once, FUNCTION a registered function; throws std::invalid_argument saying
// what was expected. `softmax`: a --softmax table (kSoftmaxNames but exact), for exp.
TableSpec parse_table_spec(const std::string& name, bool softmax = false);

}  // namespace dapa
