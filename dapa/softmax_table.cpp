// Exp tables for the attention softmax; see softmax_table.h.
#include "dapa/softmax_table.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace dapa {

double softmax_domain_lo(const Distribution& d) {
  if (d.count() == 0)
    throw std::invalid_argument("softmax table: the score distribution holds no values");
  if (!(d.min() < 0.0))
    throw std::invalid_argument(
        "softmax table: no score lies below the row maximum (every "
        "row holds a single entry); nothing to fit exp on");
  double lo = std::max(d.quantile(kSoftmaxTailMass), kSoftmaxFloor);
  return lo < 0.0 ? lo : d.min();  // nearly all rows of one entry: the lowest score seen
}

SoftmaxFit fit_softmax_exp(const Distribution& d, int segments, bool dapa, bool refined,
                           DerivativeMode mode) {
  const double lo = softmax_domain_lo(d);
  SoftmaxFit r{PiecewiseLinear(), d.within(lo, 0.0)};
  const ElementwiseFunction& exp = find_function("exp");
  if (dapa) {
    r.table = fit_dapa(r.distribution, segments, exp, mode);
    if (refined) r.table = refine_breakpoints(r.table, r.distribution);
  } else {
    r.table = fit_pwl(segments, exp, lo, 0.0, mode);
  }
  r.table.domain_lo = lo, r.table.domain_hi = 0.0;
  check_softmax_table(r.table);
  return r;
}

namespace {
[[noreturn]] void reject(const std::string& why) {
  throw std::invalid_argument("not a softmax exp table: " + why);
}
}  // namespace

void check_softmax_table(const PiecewiseLinear& t) {
  t.validate();
  if (t.target->name != "exp") reject("it approximates " + t.target->name + ", not exp");
  if (!t.bounded() || t.domain_hi != 0.0 || !(t.domain_lo < 0.0))
    reject("its domain [" + std::to_string(t.domain_lo) + ", " + std::to_string(t.domain_hi) +
           "] is not [lo, 0] with lo < 0 (the scores entering it are max-shifted)");
  for (double b : t.breakpoints)
    if (b > 0.0) reject("breakpoint " + std::to_string(b) + " lies above 0");
  for (int k = 0; k < t.segments(); ++k) {
    double start = k > 0 ? t.breakpoints[k - 1] : t.domain_lo;
    double end = k < t.segments() - 1 ? t.breakpoints[k] : t.domain_hi;
    bool inside = end >= t.domain_lo && start <= t.domain_hi;
    if (inside && t.slope[k] < 0.0)
      reject("segment " + std::to_string(k) + " decreases (slope " + std::to_string(t.slope[k]) +
             "): exp's order of the scores would not be kept");
  }
  if (!(t.value(0.0) > 0.0))
    reject("its value at 0 is " + std::to_string(t.value(0.0)) +
           " (must be positive, so that a row's maximum entry keeps the row sum above 0)");
}

void check_softmax_table(const FixedTable& f) {
  f.validate();
  if (f.target->name != "exp") reject("it approximates " + f.target->name + ", not exp");
  if (f.domain_hi != 0 || f.domain_lo >= 0)
    reject("its input domain words [" + std::to_string(f.domain_lo) + ", " +
           std::to_string(f.domain_hi) + "] do not end at 0");
  if (f.forward(0) <= 0)
    reject("its value word at 0 is " + std::to_string(f.forward(0)) +
           " (must be positive, so that a row's maximum entry keeps the row sum above 0)");
}

}  // namespace dapa
