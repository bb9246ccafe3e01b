// The two error metrics of an approximation of its target, for any table that can be
// evaluated (PiecewiseLinear, FixedTable): one definition serves both.
//   MSE over a uniform grid of `points` on [lo, hi], and
//   DWMSE = sum over the histogram's bins of p(x) (f(x) - g(x))^2,
// of the value, or of the derivative.
#pragma once

#include <stdexcept>

#include "dapa/distribution.h"
#include "dapa/fit.h"

namespace dapa::metrics {

template <class Table>
double error_at(const Table& f, double x, bool derivative) {
  return derivative ? f.derivative(x) - f.target->reference_derivative(x)
                    : f.value(x) - f.target->reference(x);
}

template <class Table>
double mse_uniform(const Table& f, double lo, double hi, bool derivative, int points) {
  if (points < 2 || !(lo < hi))
    throw std::invalid_argument("mse_uniform: needs lo < hi, 2+ points");
  double acc = 0;
  for (int i = 0; i < points; ++i) {
    double e = error_at(f, lo + (hi - lo) * i / (points - 1), derivative);
    acc += e * e;
  }
  return acc / points;
}

template <class Table>
double dwmse(const Table& f, const Distribution& d, bool derivative) {
  if (d.count() == 0) throw std::invalid_argument("dwmse: the distribution holds no values");
  double acc = 0;
  for (int64_t i = 0; i < d.bins(); ++i) {
    double p = d.bin_mass(i);
    if (p <= 0) continue;
    double e = error_at(f, d.bin_center(i), derivative);
    acc += p * e * e;
  }
  return acc;
}

}  // namespace dapa::metrics
