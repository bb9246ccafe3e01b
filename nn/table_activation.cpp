// DAPA and PWL activations; see table_activation.h.
#include "nn/table_activation.h"

#include <cstdint>
#include <cstdlib>
#include <sstream>

#include "autograd/ops.h"

namespace dapa {

TableSpec parse_table_spec(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream ss(name);
  for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
  auto bad = [&]() {
    return std::invalid_argument("activation '" + name + "': expected " + kTableActivationNames +
                                 " with N from 1 to 256 (pwl: to 254, as its two constant tails "
                                 "are segments too)");
  };
  if (parts.size() < 2 || (parts[0] != "dapa" && parts[0] != "pwl") || name.back() == ':')
    throw bad();
  TableSpec spec;
  spec.dapa = parts[0] == "dapa";
  char* end = nullptr;
  long n = std::strtol(parts[1].c_str(), &end, 10);
  // The fused kernel holds 256 segments; PWL adds a tail segment at each end.
  if (parts[1].empty() || *end != '\0' || n < 1 || n > (spec.dapa ? 256 : 254)) throw bad();
  spec.segments = static_cast<int>(n);
  size_t i = 2;
  if (i < parts.size() && spec.dapa && (parts[i] == "slope" || parts[i] == "fitted"))
    spec.mode = parse_mode(parts[i++]);
  if (i < parts.size() && spec.dapa && parts[i] == "refined") spec.refined = true, ++i;
  if (i < parts.size() && parts[i] == "fixed") spec.fixed = true, ++i;
  if (i != parts.size()) throw bad();
  return spec;
}

TableActivation::TableActivation(std::string name, const TableSpec& spec)
    : name_(std::move(name)), spec_(spec) {
  if (!spec_.dapa) {
    table_ = fit_pwl(spec_.segments, Target::GeluErf, -4.0, 4.0, spec_.mode);
    kernel_ = std::make_shared<const TableKernel>(table_);
  }
}

void TableActivation::start_recording() {
  distribution_ = Distribution();
  recording_ = true;
}

void TableActivation::fit_from(const Distribution& d, const QuantizeOptions& q) {
  PiecewiseLinear t = table_;
  if (spec_.dapa) {
    t = fit_dapa(d, spec_.segments, Target::GeluErf, spec_.mode);
    if (spec_.refined) t = refine_breakpoints(t, d);
  }
  set_table(t, nullptr, &d, q);
  recording_ = false;
}

void TableActivation::set_table(const PiecewiseLinear& table, const FixedTable* fixed,
                                const Distribution* d, const QuantizeOptions& options) {
  PiecewiseLinear t = table;
  t.mode = spec_.mode;
  std::shared_ptr<const FixedKernel> f;
  if (spec_.fixed) {
    FixedTable q = fixed ? *fixed : quantize_table(t, d ? *d : Distribution(), options);
    q.mode = spec_.mode;
    q.validate();
    f = std::make_shared<const FixedKernel>(q);
    // The dequantised words as a float table: the index backward's slopes.
    PiecewiseLinear dq = t;
    for (size_t j = 0; j < dq.breakpoints.size(); ++j)
      dq.breakpoints[j] = from_fixed(q.breakpoints[j], q.frac_x);
    for (int k = 0; k < q.segments(); ++k) dq.slope[k] = from_fixed(q.slope[k], q.frac_slope);
    kernel_ = std::make_shared<const TableKernel>(dq);
  } else {
    kernel_ = std::make_shared<const TableKernel>(t);
  }
  table_ = t;
  fixed_ = f;
}

Tensor TableActivation::apply(const Tensor& x) {
  if (recording()) distribution_.add(x);
  if (calibrating()) return gelu(x);
  return fixed_ ? fixed_forward(*fixed_, x) : table_forward(*kernel_, x);
}

namespace {
// gy * table'(x), by the float table or the fixed one's derivative words.
Tensor table_gradient(const TableKernel& k, const FixedKernel* f, const Tensor& x,
                      const Tensor& gy) {
  return f ? mul(gy, fixed_value_and_derivative(*f, x).derivative) : table_backward(k, x, gy);
}
}  // namespace

Tensor TableActivation::backward(const Tensor& x, const Tensor& gy) {
  return calibrating() ? gelu_backward(x, gy) : table_gradient(*kernel_, fixed_.get(), x, gy);
}

ValueAndDerivative TableActivation::apply_with_derivative(const Tensor& x) {
  // Called by backward passes (the inputs were recorded by the forward already).
  if (calibrating()) return gelu_value_and_derivative(x);
  return fixed_ ? fixed_value_and_derivative(*fixed_, x) : table_value_and_derivative(*kernel_, x);
}

Var TableActivation::forward(const Var& x) {
  if (recording()) distribution_.add(x.value());
  if (calibrating()) return gelu(x);
  std::shared_ptr<const TableKernel> k = kernel_;
  std::shared_ptr<const FixedKernel> f = fixed_;
  if (spec_.mode == DerivativeMode::Slope) {
    // Backward needs only each element's segment: one byte instead of the float input.
    auto index = std::make_shared<std::vector<uint8_t>>();
    Tensor y =
        f ? fixed_forward(*f, x.value(), index.get()) : table_forward(*k, x.value(), index.get());
    return record("dapa", y, {x}, [k, index](const Tensor& gy, const Needs&) -> Grads {
      return {table_backward_from_index(*k, *index, gy)};
    });
  }
  Tensor xv = x.value();
  Tensor y = f ? fixed_forward(*f, xv) : table_forward(*k, xv);
  return record("dapa", y, {x}, [k, f, xv](const Tensor& gy, const Needs&) -> Grads {
    return {table_gradient(*k, f.get(), xv, gy)};
  });
}

}  // namespace dapa
