// Known distributions for the dapa tests: samples that are exact quantile grids.
#pragma once

#include <cmath>
#include <vector>

#include "dapa/distribution.h"

namespace dapa {

inline double normal_cdf(double x) {
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0)));
}
inline double normal_pdf(double x) {
  return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
}

// Inverse of a monotone CDF by bisection, until the interval holds no double between
// its ends (about 60 halvings from [-50, 50]; the tests call it millions of times, and
// under qemu every call counts).
template <class Cdf>
inline double invert(Cdf cdf, double p, double lo = -50, double hi = 50) {
  for (int i = 0; i < 200; ++i) {
    double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (cdf(mid) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// A sample that is exactly the normal N(0, scale^2) at resolution 1/n: its quantiles.
inline Distribution normal_sample(int n, int64_t bins = 65536, double scale = 1.0) {
  Distribution d(bins);
  std::vector<float> xs(n);
  for (int i = 0; i < n; ++i) xs[i] = static_cast<float>(scale * invert(normal_cdf, (i + 0.5) / n));
  d.add(xs.data(), n);
  return d;
}

}  // namespace dapa
