// Finite-difference gradient checker; see gradcheck.h.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/rng.h"

namespace dapa {

namespace {
double projected_loss(const Tensor& y, const Tensor& r) {
  Tensor yc = y.contiguous();
  double acc = 0.0;
  for (int64_t i = 0; i < yc.numel(); ++i)
    acc += static_cast<double>(yc.data()[i]) * static_cast<double>(r.data()[i]);
  return acc;
}

bool near_kink(float v, const GradCheckOptions& o) {
  for (float k : o.kinks)
    if (std::abs(static_cast<double>(v) - k) < o.kink_margin + o.step) return true;
  return false;
}
}  // namespace

GradCheckResult gradcheck(const OpFn& f, const std::vector<Tensor>& inputs,
                          const GradCheckOptions& options) {
  GradCheckResult result;
  // Analytical gradients: one backward with seed r.
  std::vector<Var> vars;
  for (const Tensor& t : inputs) vars.emplace_back(t.clone(), true);
  Var y = f(vars);
  Rng rng(options.seed ^ 0x5eedULL);
  Tensor r = Tensor::empty(y.shape());
  rng.fill_normal(r, 0.0f, 1.0f);
  backward(y, r);

  // Numerical gradients, one element at a time, on constant copies (no tape).
  NoGradGuard no_grad;
  std::vector<Var> probe;
  for (const Tensor& t : inputs) probe.emplace_back(t.clone(), false);
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor& x = probe[i].value();
    const Tensor& analytic = vars[i].grad();
    for (int64_t j = 0; j < x.numel(); ++j) {
      float original = x.data()[j];
      if (near_kink(original, options)) {
        ++result.skipped;
        continue;
      }
      x.data()[j] = static_cast<float>(original + options.step);
      double plus = projected_loss(f(probe).value(), r);
      x.data()[j] = static_cast<float>(original - options.step);
      double minus = projected_loss(f(probe).value(), r);
      x.data()[j] = original;
      double numeric = (plus - minus) / (2.0 * options.step);
      double exact = analytic.defined() ? analytic.contiguous().data()[j] : 0.0;
      double err = std::abs(numeric - exact);
      result.max_abs_error = std::max(result.max_abs_error, err);
      ++result.checked;
      if (err > options.atol + options.rtol * std::abs(numeric) && result.ok) {
        result.ok = false;
        std::ostringstream os;
        os << "input " << i << " " << shape_str(x.shape()) << " element " << j
           << " (x = " << original << "): backward " << exact << ", finite difference " << numeric;
        result.message = os.str();
      }
    }
  }
  return result;
}

}  // namespace dapa
