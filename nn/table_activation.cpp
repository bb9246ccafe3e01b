// DAPA and PWL activations; see table_activation.h.
#include "nn/table_activation.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <sstream>

#include "dapa/softmax_table.h"

namespace dapa {

TableSpec parse_table_spec(const std::string& name, bool softmax) {
  std::vector<std::string> parts;
  std::stringstream ss(name);
  for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
  auto bad = [&](const std::string& why) {
    return std::invalid_argument(
        std::string(softmax ? "softmax '" : "activation '") + name + "': " + why + "; expected " +
        (softmax ? kSoftmaxNames : kTableActivationNames) +
        " with N from 1 to 256 (pwl: to 254, as its two constant tails are segments too)" +
        (softmax ? "" : " and FUNCTION one of " + function_names()));
  };
  if (parts.size() < 2 || (parts[0] != "dapa" && parts[0] != "pwl") || name.back() == ':')
    throw bad("not of the form dapa:N or pwl:N");
  TableSpec spec;
  spec.dapa = parts[0] == "dapa";
  if (softmax) spec.function = &find_function("exp"), spec.softmax = true;
  char* end = nullptr;
  long n = std::strtol(parts[1].c_str(), &end, 10);
  // The fused kernel holds 256 segments; PWL adds a tail segment at each end.
  if (parts[1].empty() || *end != '\0' || n < 1 || n > (spec.dapa ? 256 : 254))
    throw bad("segment count '" + parts[1] + "' out of range");
  spec.segments = static_cast<int>(n);
  std::vector<std::string> seen;
  for (size_t i = 2; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    std::string kind = p;  // options of one kind exclude each other
    if (spec.dapa && (p == "slope" || p == "fitted")) {
      spec.mode = parse_mode(p), kind = "mode";
    } else if (spec.dapa && p == "refined") {
      spec.refined = true;
    } else if (p == "fixed") {
      spec.fixed = true;
    } else {
      if (softmax) throw bad("unknown option '" + p + "'");  // a softmax table is of exp
      try {
        spec.function = &find_function(p);
      } catch (const std::invalid_argument&) {
        throw bad("unknown option '" + p + "'");
      }
      kind = "function";
    }
    if (std::find(seen.begin(), seen.end(), kind) != seen.end())
      throw bad("option '" + p + "' repeats or contradicts an earlier one");
    seen.push_back(kind);
  }
  return spec;
}

TableActivation::TableActivation(std::string name, const TableSpec& spec)
    : name_(std::move(name)), spec_(spec) {
  if (!spec_.dapa && !spec_.softmax) {
    table_ = fit_pwl(spec_.segments, *spec_.function, -4.0, 4.0, spec_.mode);
    kernel_ = std::make_shared<const TableKernel>(table_);
  }
}

void TableActivation::start_recording() {
  distribution_ = Distribution();
  recording_ = true;
}

Distribution TableActivation::take_recorded() {
  Distribution d = std::move(distribution_);
  distribution_ = Distribution(d.bins());
  return d;
}

void TableActivation::fit_from(const Distribution& d, const QuantizeOptions& q) {
  PiecewiseLinear t = table_;
  if (spec_.softmax) {
    t = fit_softmax_exp(d, spec_.segments, spec_.dapa, spec_.refined, spec_.mode).table;
  } else if (spec_.dapa) {
    t = fit_dapa(d, spec_.segments, *spec_.function, spec_.mode);
    if (spec_.refined) t = refine_breakpoints(t, d);
  }
  set_table(t, nullptr, &d, q);
}

void TableActivation::set_table(const PiecewiseLinear& table, const FixedTable* fixed,
                                const Distribution* d, const QuantizeOptions& options) {
  if (table.target != spec_.function)
    throw std::invalid_argument((spec_.softmax ? "softmax '" : "activation '") + name_ +
                                "' approximates " + spec_.function->name +
                                ", but the table given approximates " + table.target->name);
  if (spec_.softmax)
    check_softmax_table(table);
  else if (table.bounded())
    throw std::invalid_argument("activation '" + name_ +
                                "' takes an unbounded table, but the table given is bounded to "
                                "a softmax's domain (a --softmax table)");
  PiecewiseLinear t = table;
  t.mode = spec_.mode;
  std::shared_ptr<const FixedKernel> f;
  if (spec_.fixed) {
    FixedTable q = fixed ? *fixed : quantize_table(t, d ? *d : Distribution(), options);
    q.mode = spec_.mode;
    set_domain_words(q, t);
    if (spec_.softmax) check_softmax_table(q);
    q.validate();
    f = std::make_shared<const FixedKernel>(q, spec_.softmax);
    // The dequantised words as a float table: the index backward's slopes.
    PiecewiseLinear dq = t;
    for (size_t j = 0; j < dq.breakpoints.size(); ++j)
      dq.breakpoints[j] = from_fixed(q.breakpoints[j], q.frac_x);
    for (int k = 0; k < q.segments(); ++k) dq.slope[k] = from_fixed(q.slope[k], q.frac_slope);
    kernel_ = std::make_shared<const TableKernel>(dq, spec_.softmax);
  } else {
    kernel_ = std::make_shared<const TableKernel>(t, spec_.softmax);
  }
  table_ = t;
  fixed_ = f;
  recording_ = false;
}

Tensor TableActivation::value(const Tensor& x) {
  observe(x);
  if (calibrating()) return apply(*spec_.function, x);
  return fixed_ ? fixed_forward(*fixed_, x) : table_forward(*kernel_, x);
}

std::shared_ptr<const RowFunction> TableActivation::rows() {
  if (calibrating()) return std::make_shared<FunctionRows>(*spec_.function);
  if (fixed_) return std::make_shared<FixedRows>(fixed_);
  return std::make_shared<TableRows>(kernel_);
}

void TableActivation::observe(const Tensor& x) {
  if (recording()) distribution_.add(x);
}

ValueAndDerivative TableActivation::value_and_derivative(const Tensor& x) {
  // Called by backward passes (the inputs were recorded by the forward already).
  if (calibrating()) return apply_with_derivative(*spec_.function, x);
  return fixed_ ? fixed_value_and_derivative(*fixed_, x) : table_value_and_derivative(*kernel_, x);
}

}  // namespace dapa
